"""Referral deadlines on the real database: reminder on the due date, escalation after it, once.

The main story: RAV leads the case, the social services of Liestal take part and, on Friday
6 March 2026, refer the person to the Assessmentcenter without an answer date. The answer is due
ten working days later (Friday 20 March); the escalation five working days after that
(Friday 27 March). The events go straight into the processor; the scheduler runs with a fixed
clock, so "today" is whatever the test says. A second story forecasts the end of a daily
allowance far ahead, so planning waits for the exhaustion window to open.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from schemas.alerts import Alert, AlertKind, Audience
from schemas.codec import to_kafka
from schemas.envelope import CloudEvent
from schemas.events import (
    BenefitExhaustionExpected,
    CaseOpened,
    ConsentGranted,
    ConsentRevoked,
    ParticipantJoined,
    ReferralAccepted,
    ReferralRequested,
)
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import BenefitKind, DataCategory, ParticipantRole, ReferralPurpose
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.legal_basis import load_legal_basis
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from services.coordination.worker.scheduler import DeadlineScheduler
from tests.case_story import CaseStory

SH = "sozialhilfe-2829"
AC = "assessmentcenter"
ALERT_TYPE = Alert.cloud_event_type()

REQUESTED = dt.datetime(2026, 3, 6, 8, 0, tzinfo=dt.UTC)  # a Friday
REMINDER_DAY = dt.date(2026, 3, 20)
ESCALATION_DAY = dt.date(2026, 3, 27)


def on(day: dt.date) -> dt.datetime:
    """Nine in the morning in Basel on that day (the scheduler's clock)."""
    return dt.datetime.combine(day, dt.time(9), tzinfo=SWISS_TIME)


class Feeder:
    """Hands stories to the live processor as bus records of one partition, offsets rising."""

    def __init__(self, runtime: CoordinationRuntime) -> None:
        self._runtime = runtime
        self._offset = 0

    async def feed(self, events: list[CloudEvent[Any]]) -> None:
        records = []
        for event in events:
            r = to_kafka(event)
            records.append(BusRecord(CASE_EVENTS, 0, self._offset, r.key, r.value, r.headers))
            self._offset += 1
        await self._runtime.processor().process(records)


@pytest.fixture
async def runtime(
    coordination_settings: CoordinationSettings,
) -> AsyncIterator[CoordinationRuntime]:
    """Coordination's resources without the consumer, relay or scheduler running."""
    built = CoordinationRuntime(coordination_settings)
    await built.start()
    yield built
    await built.stop()


@pytest.fixture
def feeder(runtime: CoordinationRuntime) -> Feeder:
    return Feeder(runtime)


def referral_story(seed: int) -> tuple[CaseStory, CloudEvent[Any]]:
    """The person consents to case administration between RAV, Liestal and the AC."""
    story = CaseStory(person_seed=seed)
    story.rav(CaseOpened)
    story.rav(
        ConsentGranted,
        institutions=["rav", SH, AC],
        categories=[DataCategory.CASE_ADMIN],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-REF",
    )
    story.rav(ParticipantJoined, institution=SH, role=ParticipantRole.PARTICIPANT)
    requested: CloudEvent[Any] = story.sozialhilfe_2829(
        ReferralRequested,
        to_institution=AC,
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        time=REQUESTED,
    )
    return story, requested


def scheduler_on(runtime: CoordinationRuntime, day: dt.date, **options: Any) -> DeadlineScheduler:
    return runtime.scheduler(clock=lambda: on(day), **options)


async def alerts_in_outbox(db: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT delivery_id, key, value FROM outbox WHERE headers @> $1::jsonb ORDER BY id",
            json.dumps([["ce_type", ALERT_TYPE]]),
        )
    )


def alert_of(row: asyncpg.Record) -> Alert:
    return Alert.model_validate_json(row["value"])


async def deadlines(db: asyncpg.Pool) -> dict[str, tuple[dt.date, str]]:
    rows = await db.fetch("SELECT kind, due_on, status FROM deadlines")
    return {row["kind"]: (row["due_on"], row["status"]) for row in rows}


async def test_nothing_is_raised_before_the_answer_is_due(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, _ = referral_story(5101)
    await feeder.feed(story.events)

    raised = await scheduler_on(runtime, REMINDER_DAY - dt.timedelta(days=1)).run_due()

    assert raised == 0
    assert await alerts_in_outbox(db) == []
    assert await deadlines(db) == {"referral-reminder": (REMINDER_DAY, "pending")}


async def test_on_the_due_date_the_recipient_is_reminded_and_the_escalation_is_scheduled(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, requested = referral_story(5102)
    await feeder.feed(story.events)

    raised = await scheduler_on(runtime, REMINDER_DAY).run_due()

    assert raised == 1
    (row,) = await alerts_in_outbox(db)
    reminder = alert_of(row)
    assert (reminder.kind, reminder.recipient_institution, reminder.audience) == (
        AlertKind.REFERRAL_REMINDER,
        AC,
        Audience.INSTITUTION,
    )
    assert reminder.about == requested.data.referral_id
    assert bytes(row["key"]) == f"{AC}/{story.pseudonym}".encode()
    assert await deadlines(db) == {
        "referral-reminder": (REMINDER_DAY, "done"),
        "referral-escalation": (ESCALATION_DAY, "pending"),
    }


async def test_a_scheduler_that_runs_late_still_reminds_the_recipient(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, _ = referral_story(5103)
    await feeder.feed(story.events)

    await scheduler_on(runtime, REMINDER_DAY + dt.timedelta(days=3)).run_due()

    assert [alert_of(r).kind for r in await alerts_in_outbox(db)] == [AlertKind.REFERRAL_REMINDER]


@pytest.mark.parametrize(
    ("utc", "reminders"),
    [
        (dt.datetime(2026, 3, 19, 22, 30, tzinfo=dt.UTC), 0),  # 23:30 on 19 March in Basel
        (dt.datetime(2026, 3, 19, 23, 30, tzinfo=dt.UTC), 1),  # 00:30 on 20 March in Basel
    ],
    ids=["late-evening-before", "just-after-midnight"],
)
async def test_the_due_date_is_the_calendar_day_in_basel(
    runtime: CoordinationRuntime, feeder: Feeder, utc: dt.datetime, reminders: int
) -> None:
    story, _ = referral_story(5108)
    await feeder.feed(story.events)

    raised = await runtime.scheduler(clock=lambda: utc).run_due()

    assert raised == reminders


async def test_after_the_escalation_date_the_coordinator_is_told_once(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, requested = referral_story(5104)
    await feeder.feed(story.events)
    await scheduler_on(runtime, REMINDER_DAY).run_due()

    raised = await scheduler_on(runtime, ESCALATION_DAY + dt.timedelta(days=1)).run_due()

    assert raised == 1
    reminder, escalation = (alert_of(r) for r in await alerts_in_outbox(db))
    assert reminder.kind == AlertKind.REFERRAL_REMINDER
    assert (escalation.kind, escalation.recipient_institution, escalation.audience) == (
        AlertKind.REFERRAL_ESCALATION,
        "rav",
        Audience.COORDINATOR,
    )
    assert escalation.about == requested.data.referral_id
    assert {status for _, status in (await deadlines(db)).values()} == {"done"}
    audited = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'alerted'")
    assert audited == 2


async def test_running_the_due_deadlines_twice_raises_each_alert_once(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, _ = referral_story(5105)
    await feeder.feed(story.events)

    for day in (REMINDER_DAY, REMINDER_DAY, ESCALATION_DAY, ESCALATION_DAY):
        await scheduler_on(runtime, day).run_due()

    kinds = [alert_of(r).kind for r in await alerts_in_outbox(db)]
    assert kinds == [AlertKind.REFERRAL_REMINDER, AlertKind.REFERRAL_ESCALATION]


async def test_two_schedulers_at_once_raise_each_alert_exactly_once(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    persons = 24
    for seed in range(5200, 5200 + persons):
        story, _ = referral_story(seed)
        await feeder.feed(story.events)
    one = scheduler_on(runtime, REMINDER_DAY, batch=3)
    other = DeadlineScheduler(
        db,
        runtime.registry,
        load_legal_basis(runtime.settings.coordination_legal_basis_file),
        runtime.settings.rules,
        lanes=runtime.settings.coordination_outbox_lanes,
        batch=3,
        clock=lambda: on(REMINDER_DAY),
    )

    reminded = await asyncio.gather(one.run_due(), other.run_due())
    later = [scheduler_on(runtime, ESCALATION_DAY, batch=3) for _ in range(2)]
    escalated = await asyncio.gather(*(s.run_due() for s in later))

    rows = await alerts_in_outbox(db)
    per_delivery = Counter(row["delivery_id"] for row in rows)
    assert set(per_delivery.values()) == {1}
    assert Counter(alert_of(r).kind for r in rows) == {
        AlertKind.REFERRAL_REMINDER: persons,
        AlertKind.REFERRAL_ESCALATION: persons,
    }
    assert (sum(reminded), sum(escalated)) == (persons, persons), "each deadline claimed once"
    audited = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'alerted'")
    assert audited == 2 * persons


async def test_an_answered_referral_raises_nothing(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, requested = referral_story(5106)
    story.assessmentcenter(ReferralAccepted, referral_id=requested.data.referral_id)
    await feeder.feed(story.events)

    reminded = await scheduler_on(runtime, REMINDER_DAY).run_due()
    escalated = await scheduler_on(runtime, ESCALATION_DAY + dt.timedelta(days=7)).run_due()

    assert (reminded, escalated) == (0, 0)
    assert await alerts_in_outbox(db) == []
    assert await deadlines(db) == {"referral-reminder": (REMINDER_DAY, "done")}


async def test_a_referral_answered_after_the_reminder_is_not_escalated(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, requested = referral_story(5107)
    await feeder.feed(story.events)
    await scheduler_on(runtime, REMINDER_DAY).run_due()
    answer = story.assessmentcenter(ReferralAccepted, referral_id=requested.data.referral_id)
    await feeder.feed([answer])

    escalated = await scheduler_on(runtime, ESCALATION_DAY).run_due()

    assert escalated == 0
    assert [alert_of(r).kind for r in await alerts_in_outbox(db)] == [AlertKind.REFERRAL_REMINDER]


def forecast_story(seed: int) -> tuple[CaseStory, CloudEvent[Any]]:
    """RAV forecasts the end of the daily allowance for 31 December; its window opens 2 October."""
    story = CaseStory(person_seed=seed)
    story.rav(CaseOpened)
    story.rav(
        ConsentGranted,
        institutions=["rav", SH, AC],
        categories=[DataCategory.CASE_ADMIN, DataCategory.BENEFITS],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1",
    )
    story.rav(
        BenefitExhaustionExpected,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        expected_end=dt.date(2026, 12, 31),
    )
    return story, story.events[1]


WINDOW_OPENS = dt.date(2026, 10, 2)


async def test_the_exhaustion_window_opening_alerts_the_consented_planners(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, _ = forecast_story(5301)
    await feeder.feed(story.events)

    early = await scheduler_on(runtime, WINDOW_OPENS - dt.timedelta(days=1)).run_due()
    raised = await scheduler_on(runtime, WINDOW_OPENS).run_due()

    assert (early, raised) == (0, 2)
    planned = [alert_of(r) for r in await alerts_in_outbox(db)]
    assert {(a.kind, a.recipient_institution) for a in planned} == {
        (AlertKind.PARALLEL_PLANNING, SH),
        (AlertKind.PARALLEL_PLANNING, AC),
    }


async def test_a_revoked_consent_stops_the_planning_alert_of_the_exhaustion_window(
    runtime: CoordinationRuntime, feeder: Feeder, db: asyncpg.Pool
) -> None:
    story, granted = forecast_story(5302)
    story.rav(ConsentRevoked, consent_id=granted.data.consent_id)
    await feeder.feed(story.events)

    raised = await scheduler_on(runtime, WINDOW_OPENS).run_due()

    assert raised == 0
    assert await alerts_in_outbox(db) == []
