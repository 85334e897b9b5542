"""A simulated population through the real doors: every submission is answered as its script
says, every accepted event is in coordination's timeline, and the deliveries coordination writes
to ``iiz.deliveries.v1`` are exactly those the independent model expects — no more, no fewer,
with the same fields withheld."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from schemas.topics import DELIVERIES
from services.simulator.driver import SimulationDriver, SubmissionRecord
from services.simulator.partners import PartnerInboxes, ReceivedDelivery
from services.simulator.population import build_population
from tests.e2e.conftest import RunningBus
from tests.e2e.expected import CLEAR_AHV, SEALED_AHV, Expected, expect
from tests.e2e.reconciliation import compare
from tests.integration.coordination.conftest import eventually
from tests.kafka_tools import end_offsets

PERSONS, SEED = 60, 20260901


async def test_a_simulated_population_reaches_coordination_as_the_model_expects(
    running_bus: RunningBus,
) -> None:
    population = build_population(PERSONS, SEED)
    grace = dt.timedelta(days=running_bus.coordination.coordination_grace_days)
    expected = expect(population.persons, grace=grace)
    tokens = await running_bus.issue_tokens(population.http_senders())
    inbox = PartnerInboxes(running_bus.intake, running_bus.registry, delivery_topics=[DELIVERIES])
    progress: list[int] = []

    async with inbox:
        driver = SimulationDriver(
            running_bus.intake, running_bus.registry, inbox, running_bus.http, tokens
        )
        records = await driver.run(population, lambda done, total: progress.append(done))

        assert answers(records) == answers_expected(expected)
        accepted = sorted(expected.accepted_ids)
        db = running_bus.coordination_db
        await eventually(lambda: in_timeline(db, accepted, len(accepted)), within=120)
        await eventually(lambda: outbox_drained(db), within=60)
        assert await inbox.caught_up(await end_offsets(running_bus.intake, [DELIVERIES]), within=60)

    result = compare(expected, await from_this_coordination(db, inbox.deliveries))
    assert result.differences == 0, result.describe()
    assert result.matched == len(expected.deliveries)
    assert progress[-1] == len(records) == len(population.steps)
    assert_the_run_exercised_the_rules(expected)


Answer = tuple[str, str | None, str | None]  # status, reason, canonical id


def answers(records: list[SubmissionRecord]) -> dict[tuple[str, int], Answer]:
    return {(r.person_id, r.step): (r.status, r.reason, r.canonical_id) for r in records}


def answers_expected(expected: Expected) -> dict[tuple[str, int], Answer]:
    return {
        step: (e.status.value, e.reason, str(e.canonical_id) if e.canonical_id else None)
        for step, e in expected.steps.items()
    }


async def in_timeline(pool: asyncpg.Pool, ids: list[uuid.UUID], wanted: int) -> bool:
    found = await pool.fetchval(
        "SELECT count(*) FROM timeline WHERE event_id = ANY($1::uuid[])", ids
    )
    return bool(found == wanted)


async def from_this_coordination(
    pool: asyncpg.Pool, deliveries: list[ReceivedDelivery]
) -> list[ReceivedDelivery]:
    """The records our coordination's relay wrote (by id and bytes, as in its outbox).

    Other test sessions on the shared broker may run coordination instances of their own that
    also read this run's events, from a later start and with a different history of the person;
    their records carry the same derived delivery ids but can differ in content.
    """
    rows = await pool.fetch("SELECT delivery_id, value FROM outbox")
    ours = {(str(row["delivery_id"]), bytes(row["value"])) for row in rows}
    return [d for d in deliveries if (d.header("ce_id"), d.value) in ours]


async def outbox_drained(pool: asyncpg.Pool) -> bool:
    pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return bool(pending == 0)


def assert_the_run_exercised_the_rules(expected: Expected) -> None:
    """A green comparison means something only if the population hit the interesting cases."""
    withheld = list(expected.deliveries.values())
    assert any("health_limitations" in paths for paths in withheld)
    assert any("cost_chf" in paths for paths in withheld)
    assert any({CLEAR_AHV, SEALED_AHV} <= paths for paths in withheld)
    assert any(not paths & {CLEAR_AHV, SEALED_AHV} for paths in withheld)
    statuses = {e.status.value for e in expected.steps.values()}
    assert {"accepted", "rejected"} <= statuses
