"""The retention schedule applied on the real database: persons whose every case closed more
than N years before the coordination's today are erased by the worker's daily run (one
``erased`` row each, one ``retention-run`` row), others are kept; old published deliveries lose
their payload; a second run the same day does nothing.

And what must never be erased (review H1): a person whose new event still waits on the canonical
log (the run waits for the worker's group to catch up), a person whose new event was folded
between the run's list and their erasure (asked again under the lock), and a person whose old
events were only recorded recently (judged on the worker's recording time too)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from typing import Any

import asyncpg
import pytest
from faststream import TestApp

from schemas.ahv import AhvNumber
from schemas.events import CaseClosed, CaseOpened
from services.common.person_lookup import subjects_of
from services.coordination.ops import retention
from services.coordination.ops.retention import count_persons_past_retention, run_retention
from services.coordination.settings import CoordinationSettings
from services.coordination.worker import consumer
from services.coordination.worker.consumer import create_app
from services.coordination.worker.runtime import CoordinationRuntime
from tests.integration.coordination.conftest import eventually
from tests.integration.coordination.erasure_bus import (  # noqa: F401 - bus_fixture: ``bus``
    Bus,
    Person,
    bus_fixture,
    processed,
)
from tests.kafka_tools import bus_records

TODAY = dt.date(2031, 6, 15)  # five years after: 2026-06-15
# When the worker recorded the events (its clock stamps their decided rows): before the cutoff,
# like the business times, except for the late report.
RECORDED = dt.datetime(2026, 3, 20, 9, 0, tzinfo=dt.UTC)
LATE = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)  # after the cutoff


@pytest.fixture(name="worker_clock")
def worker_clock_fixture(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The clock of every worker the test starts (``create_app``): set ``[0]`` to move it."""
    now = [RECORDED]
    monkeypatch.setattr(
        consumer,
        "CoordinationRuntime",
        functools.partial(CoordinationRuntime, clock=lambda: now[0]),
    )
    return now


def person(opened: dt.datetime, closed: dt.datetime | None) -> Person:
    p = Person(6000 + int(uuid.uuid4().int % 999))
    p.clock = opened - dt.timedelta(days=1)
    p.by("rav", CaseOpened, reason=f"Abklärung {p.marker}", project_code="IIZ-FALLKOORD")
    if closed is not None:
        p.clock = closed - dt.timedelta(days=1)
        p.by("rav", CaseClosed, outcome="employment")
    return p


async def test_the_daily_run_erases_only_persons_past_retention(
    bus: Bus, worker_clock: list[dt.datetime]
) -> None:
    pool = bus.pool
    settings = bus.coordination.model_copy(
        update={"coordination_today": TODAY, "coordination_run_retention": False}
    )
    long_closed = person(
        dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    )
    recently_closed = person(
        dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    )
    still_open = person(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), None)
    # Closed long ago by business time, but reported (imported) only after the cutoff.
    reported_late = person(
        dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    )
    everyone = [long_closed, recently_closed, still_open, reported_late]
    async with TestApp(create_app(settings)):
        for p in everyone[:3]:
            await bus.submit(p.events)
        total = sum(len(p.events) for p in everyone[:3])
        await eventually(lambda: _at_least(pool, total))
        worker_clock[0] = LATE
        await bus.submit(reported_late.events)
        await eventually(lambda: _at_least(pool, total + len(reported_late.events)))
    subject = {id(p): (await subjects_of(pool, AhvNumber(p.ahv), settings))[0] for p in everyone}
    # A delivery published long ago: its payload goes, the row (and its ids) stays.
    await pool.execute(
        "INSERT INTO outbox (delivery_id, lane, topic, key, value, headers, published_at)"
        " VALUES ($1, 0, 'iiz.deliveries.v1', 'iv/prs:x'::bytea, $2, $3::jsonb, $4)",
        uuid.uuid4(),
        b'{"person": {"case_ref": "OLD"}}',
        json.dumps([["ce_type", "x"], ["ce_iizcase", "IIZ-2026-999999"]]),
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )

    assert await count_persons_past_retention(pool, settings) == 1

    # The worker runs the schedule by itself, once for the day, when it starts (or at its next
    # check, once its group has caught up with the log).
    daily = settings.model_copy(
        update={"coordination_run_retention": True, "coordination_retention_check_seconds": 0.2}
    )
    async with TestApp(create_app(daily)):
        await eventually(lambda: _ran(pool))

    gone = subject[id(long_closed)]
    assert await pool.fetchval("SELECT count(*) FROM timeline WHERE pseudonym = $1", gone) == 0
    for kept in (recently_closed, still_open, reported_late):
        assert await pool.fetchval(
            "SELECT count(*) FROM timeline WHERE pseudonym = $1", subject[id(kept)]
        ) == len(kept.events)
    erased = await pool.fetch(
        "SELECT subject, actor, purpose, detail FROM audit_log WHERE action = 'erased'"
    )
    assert [(r["subject"], r["actor"], r["purpose"]) for r in erased] == [
        (gone, "coordination", "retention")
    ]
    assert json.loads(erased[0]["detail"])["ticket"] == "retention:r1"
    run = json.loads(
        await pool.fetchval("SELECT detail FROM audit_log WHERE action = 'retention-run'")
    )
    assert run["day"] == TODAY.isoformat()
    assert run["persons_erased"] == 1
    assert run["persons_skipped"] == 0
    assert run["outbox_payloads_stripped"] == 1
    stripped = await pool.fetchrow(
        "SELECT value, headers FROM outbox WHERE key = 'iv/prs:x'::bytea"
    )
    assert bytes(stripped["value"]) == b""
    assert json.loads(stripped["headers"]) == [["ce_type", "x"]]
    assert await count_persons_past_retention(pool, settings) == 0
    assert await run_retention(pool, settings) is None  # today's run happened


async def test_a_person_whose_new_event_waits_on_the_log_is_not_erased(
    bus: Bus, worker_clock: list[dt.datetime]
) -> None:
    """H1: past retention on the projections, but a new event is on the log and the worker is
    stopped. The run waits for the worker; once it has folded the event, the person has an
    open case and is kept."""
    pool = bus.pool
    settings = bus.coordination.model_copy(update={"coordination_today": TODAY})
    back = person(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    async with TestApp(create_app(settings)):
        await bus.submit(back.events)
        await eventually(lambda: _at_least(pool, len(back.events)))
    subject = (await subjects_of(pool, AhvNumber(back.ahv), settings))[0]
    assert await count_persons_past_retention(pool, settings) == 1

    # Years later the person comes back; intake accepts, the worker is down.
    worker_clock[0] = dt.datetime(2031, 6, 14, 9, 0, tzinfo=dt.UTC)
    back.clock = dt.datetime(2031, 6, 13, tzinfo=dt.UTC)
    back.by("rav", CaseOpened, reason="Neuanmeldung", project_code="IIZ-FALLKOORD")
    await bus.submit(back.events[-1:])

    report = await run_retention(pool, settings)  # as the ``retention`` command does

    assert report is not None
    assert report.deferred >= 1
    assert (report.persons_erased, report.changed) == (0, False)
    assert await count_persons_past_retention(pool, settings) == 1  # the projections lag
    assert await _key_is_live(pool, settings, subject)
    assert not await _audited(pool, "erased")
    assert not await _audited(pool, "retention-run")

    # The worker comes back with the daily run on: it folds the event first, then runs the day.
    await _old_published_delivery(pool)  # something for the run to do, so it leaves its row
    daily = settings.model_copy(
        update={"coordination_run_retention": True, "coordination_retention_check_seconds": 0.2}
    )
    async with TestApp(create_app(daily)):
        await eventually(lambda: _audited(pool, "retention-run"))
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM cases WHERE pseudonym = $1 AND closed_at IS NULL", subject
        )
        == 1
    )
    assert await pool.fetchval(
        "SELECT count(*) FROM timeline WHERE pseudonym = $1", subject
    ) == len(back.events)
    assert await _key_is_live(pool, settings, subject)
    assert not await _audited(pool, "erased")
    run = json.loads(
        await pool.fetchval("SELECT detail FROM audit_log WHERE action = 'retention-run'")
    )
    assert (run["persons_erased"], run["outbox_payloads_stripped"]) == (0, 1)


async def test_a_person_whose_new_event_is_folded_after_the_list_is_skipped(
    bus: Bus, worker_clock: list[dt.datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    """H1: the run lists the person as past retention; before their erasure takes the lock, the
    worker folds their new event (a new case). Asked again under the lock, they are skipped."""
    pool = bus.pool
    settings = bus.coordination.model_copy(update={"coordination_today": TODAY})
    back = person(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    gone = person(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 3, 3, tzinfo=dt.UTC))
    async with TestApp(create_app(settings)):
        await bus.submit([*back.events, *gone.events])
        await eventually(lambda: _at_least(pool, len(back.events) + len(gone.events)))
    subject = (await subjects_of(pool, AhvNumber(back.ahv), settings))[0]
    gone_subject = (await subjects_of(pool, AhvNumber(gone.ahv), settings))[0]
    back.clock = dt.datetime(2031, 6, 13, tzinfo=dt.UTC)
    back.by("rav", CaseOpened, reason="Neuanmeldung", project_code="IIZ-FALLKOORD")
    await bus.submit(back.events[-1:])

    listed: list[str] = []
    listing = retention.persons_past_retention

    async def list_then_fold(*args: Any) -> list[str]:
        listed.extend(await listing(*args))
        await _fold_the_log(settings, at=dt.datetime(2031, 6, 14, 9, 0, tzinfo=dt.UTC))
        return listed

    async def caught_up() -> int:
        return 0  # the lag gate is the other test's; here the worker is as far as the log

    monkeypatch.setattr(retention, "persons_past_retention", list_then_fold)
    report = await run_retention(pool, settings, lag=caught_up)

    assert sorted(listed) == sorted([subject, gone_subject])
    assert report is not None
    assert (report.persons_erased, report.persons_skipped, report.deferred) == (1, 1, 0)
    assert await _key_is_live(pool, settings, subject)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM cases WHERE pseudonym = $1 AND closed_at IS NULL", subject
        )
        == 1
    )
    assert [
        r["subject"]
        for r in await pool.fetch("SELECT subject FROM audit_log WHERE action = 'erased'")
    ] == [gone_subject]
    run = json.loads(
        await pool.fetchval("SELECT detail FROM audit_log WHERE action = 'retention-run'")
    )
    assert (run["persons_erased"], run["persons_skipped"]) == (1, 1)


async def _fold_the_log(settings: CoordinationSettings, *, at: dt.datetime) -> None:
    """What the worker does with the log (what it folded already it skips), as one batch."""
    records = await bus_records(settings, settings.coordination_case_events_topic)
    runtime = CoordinationRuntime(settings, clock=lambda: at)
    await runtime.start()
    try:
        await runtime.processor().process(records)
    finally:
        await runtime.stop()


async def _old_published_delivery(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "INSERT INTO outbox (delivery_id, lane, topic, key, value, headers, published_at)"
        " VALUES ($1, 0, 'iiz.deliveries.v1', 'iv/prs:y'::bytea, $2, '[]'::jsonb, $3)",
        uuid.uuid4(),
        b'{"person": {"case_ref": "OLD"}}',
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )


async def _key_is_live(pool: asyncpg.Pool, settings: CoordinationSettings, subject: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT wrapped_key IS NOT NULL AND erased_at IS NULL"  # noqa: S608
            f' FROM "{settings.person_db_schema}".persons WHERE subject = $1',
            subject,
        )
    )


async def _audited(pool: asyncpg.Pool, action: str) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = $1", action))


async def _at_least(pool: asyncpg.Pool, count: int) -> bool:
    return await processed(pool) >= count


async def _ran(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'retention-run'")
    )
