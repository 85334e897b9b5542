"""The committee's figures on simulated data: every figure the API publishes equals the one
computed from the simulation's own scripts (independently of coordination's fold and database),
suppressed cells are null, only the committee reads them, and no identifier leaves."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from schemas.registry.projects import load_projects
from services.coordination.api.app import create_api
from services.coordination.metrics.api_data import publishable_rows
from services.coordination.metrics.disclosure import publish
from services.coordination.metrics.facts import CaseFact
from services.coordination.metrics.figures import compute
from services.coordination.metrics.load import load_case_facts
from services.coordination.metrics.rows import Row
from services.coordination.settings import CoordinationSettings
from simulator.credentials import partner_settings
from simulator.driver import SimulationDriver
from simulator.partners import PartnerInboxes
from simulator.population import build_population
from tests.e2e.conftest import RunningBus
from tests.e2e.expected import expect
from tests.e2e.metrics_truth import facts_from_scripts
from tests.integration.coordination.conftest import eventually
from tests.tokens import mint_token

PERSONS, SEED = 200, 20261122
PROJECTS = [p.code for p in load_projects().projects]


async def test_the_committee_figures_equal_those_computed_from_the_simulations_own_scripts(
    running_bus: RunningBus,
) -> None:
    population = build_population(PERSONS, SEED, form_start=dt.datetime.now(dt.UTC))
    tokens = await running_bus.issue_tokens(population.http_senders())
    as_partner = partner_settings(running_bus.intake)  # each institution as its principal
    inbox = PartnerInboxes(running_bus.intake, running_bus.registry, as_partner=as_partner)
    async with inbox:
        driver = SimulationDriver(
            running_bus.intake,
            running_bus.registry,
            inbox,
            running_bus.http,
            tokens,
            as_partner=as_partner,
        )
        await driver.run(population)
    sent = driver.resolved(population)  # with the ids and the time the web form gave
    expected = expect(sent.persons, grace=dt.timedelta(days=30))
    accepted = sorted(expected.accepted_ids)
    db = running_bus.coordination_db

    async def all_in_timeline() -> bool:
        found = await db.fetchval(
            "SELECT count(*) FROM timeline WHERE event_id = ANY($1::uuid[])", accepted
        )
        return bool(found == len(accepted))

    await eventually(all_in_timeline, within=120)
    async with db.acquire() as conn:
        loaded = await load_case_facts(
            conn,
            cell_key_secret=running_bus.coordination.cell_key_secret,
        )
    truth = facts_from_scripts(sent.persons)

    assert len(loaded) == len(truth)
    for period in ("quarter", "year"):
        assert figures(loaded, period) == figures(truth, period)
    assert_the_simplest_counts_by_hand(truth)

    as_of = dt.date(max(f.closed_on or f.opened_on for f in truth).year + 1, 1, 1)
    settings = running_bus.coordination.model_copy(update={"coordination_metrics_as_of": as_of})
    committee = auth(settings, "committee")
    async with api(settings) as client:
        answer = await client.get("/v1/metrics", params={"period": "quarter"}, headers=committee)
        csv = await client.get("/v1/metrics", params={"format": "csv"}, headers=committee)
        again = await client.get("/v1/metrics", params={"period": "quarter"}, headers=committee)
        refused = await client.get("/v1/metrics", headers=auth(settings, "coordinator"))

    published = answer.json()["rows"]
    # The loaded facts carry the record keys (the truth has none): the same publication, and
    # every published count within the table's reach of the true count from the scripts.
    protected = [
        r.to_dict()
        for r in publish(publishable_rows(loaded, as_of=as_of, projects=PROJECTS), threshold=5).rows
        if "Q" in r.period
    ]
    assert published == protected
    true_rows = {
        (r.scope, r.period): r.cells()
        for r in publishable_rows(truth, as_of=as_of, projects=PROJECTS)
    }
    for row in published:
        for name in ("cases_opened", "cases_active", "cases_closed", "handoffs"):
            shown, true = row[name], true_rows[(row["scope"], row["period"])][name]
            assert (
                shown is None
                or shown == true
                or (true < 5 and shown in (0, 5))
                or (true >= 5 and abs(shown - true) <= 2)
            ), (row["scope"], row["period"], name, shown, true)
    ledger = await db.fetchval("SELECT count(*) FROM published_figures")
    assert ledger > 0, "the download was not recorded"
    assert again.json()["rows"] == published  # same cases, same values: no ledger needed
    for row in published:
        for name in row["suppressed"]:
            assert cell(row, name) is None
    assert refused.status_code == 403
    assert refused.json()["reason"] == "role_not_allowed"
    assert csv.headers["content-type"].startswith("text/csv")
    for text in (answer.text, csv.text):
        assert "psn:" not in text
        assert "prs:" not in text  # nor a registry subject
        assert not re.search(r"IIZ-\d{4}-\d{6}", text)
        assert not re.search(r"756[.\d]{10,13}", text)


def figures(facts: list[CaseFact], period: Any) -> list[Row]:
    """Every quarter or year from 1 January of the first case to 31 December of the last day."""
    first = dt.date(min(f.opened_on for f in facts).year, 1, 1)
    last = dt.date(max(f.closed_on or f.opened_on for f in facts).year, 12, 31)
    return compute(facts, period=period, first=first, last=last, projects=PROJECTS)


def quarter(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def assert_the_simplest_counts_by_hand(truth: list[CaseFact]) -> None:
    """Counts per quarter in the canton, counted here without the figures module."""
    rows = {r.period: r for r in figures(truth, "quarter") if r.scope == "canton"}
    opened = Counter(quarter(f.opened_on) for f in truth)
    assert {p: rows[p].cases_opened for p in opened} == dict(opened)
    closed = Counter((quarter(f.closed_on), f.outcome) for f in truth if f.closed_on)
    assert closed, "the simulation closed no case"
    for (period, outcome), count in closed.items():
        assert rows[period].closed_by_outcome[str(outcome)] == count
    answered = Counter(quarter(r.answered_on) for f in truth for r in f.referrals if r.answered_on)
    assert {p: rows[p].referrals_answered for p in answered} == dict(answered)
    costs: dict[tuple[str, str], Decimal] = {}
    for fact in truth:
        for cost in fact.costs:
            key = (quarter(cost.ended_on), cost.financed_by)
            costs[key] = costs.get(key, Decimal(0)) + cost.chf
    assert costs, "the simulation reported no measure cost"
    for (period, financer), chf in costs.items():
        assert rows[period].measure_costs_chf[financer] == chf
    year = dt.timedelta(days=365)
    reentries = sum(
        any(
            earlier.person == case.person
            and earlier.closed_on is not None
            and dt.timedelta(0) <= case.opened_on - earlier.closed_on <= year
            for earlier in truth
            if earlier is not case
        )
        for case in truth
    )
    assert reentries, "the simulation has no re-entry within 12 months"
    assert sum(row.reentries_12m or 0 for row in rows.values()) == reentries


def cell(row: dict[str, Any], name: str) -> Any:
    head, _, rest = name.partition(".")
    return row[head][rest] if rest else row[head]


def auth(settings: CoordinationSettings, role: str) -> dict[str, str]:
    token = mint_token(settings, "ausschuss", "ksa", role, dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def api(settings: CoordinationSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(settings)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://coordination.test"
        ) as client,
    ):
        yield client
