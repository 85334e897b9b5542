"""The committee's case facts on the real PostgreSQL: a person's engagements count in every case
whose days they overlap, clipped to that case, also when they started before any case existed.

The person (times 08:00 UTC, Zurich days as shown):
    rav  measure.started  (job search)    2026-03-02
    rav  benefit.granted  (ALV from)      2026-03-03
    rav  measure.ended    (job search)    2026-03-04   over before any case
    rav  case.opened                      2026-03-10
    rav  case.closed                      2026-03-20   ALV still paid
    rav  case.opened      (re-entry)      2026-04-20
    rav  benefit.ended    (ALV until)     2026-05-15
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import pytest

from schemas.events import (
    BenefitEnded,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    MeasureEnded,
    MeasureStarted,
)
from schemas.vocabulary import (
    BenefitEndReason,
    BenefitKind,
    CaseOutcome,
    MeasureKind,
    MeasureResult,
)
from services.coordination.metrics.facts import CaseFact, EngagementFact
from services.coordination.metrics.load import load_case_facts
from services.coordination.settings import CoordinationSettings
from tests.case_story import CaseStory
from tests.integration.coordination.test_timeline_api import bus_records, feed

ALV = BenefitKind.ALV_DAILY_ALLOWANCE
SEARCH = MeasureKind.JOB_SEARCH_SUPPORT


def day(month: int, number: int) -> dt.datetime:
    return dt.datetime(2026, month, number, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
async def facts(coordination_settings: CoordinationSettings, db: asyncpg.Pool) -> list[CaseFact]:
    story = CaseStory(11)
    search, alv = uuid.uuid4(), uuid.uuid4()
    story.rav(MeasureStarted, measure_id=search, kind=SEARCH, title="Vermittlung", time=day(3, 2))
    story.rav(BenefitGranted, benefit_id=alv, kind=ALV, start=dt.date(2026, 3, 3), time=day(3, 3))
    story.rav(
        MeasureEnded, measure_id=search, kind=SEARCH, result=MeasureResult.COMPLETED, time=day(3, 4)
    )
    story.rav(CaseOpened, project_code="IIZ-FALLKOORD", time=day(3, 10))
    story.rav(CaseClosed, outcome=CaseOutcome.OTHER, time=day(3, 20))
    story.rav(CaseOpened, project_code="IIZ-FALLKOORD", time=day(4, 20))
    story.rav(
        BenefitEnded,
        benefit_id=alv,
        kind=ALV,
        end=dt.date(2026, 5, 15),
        reason=BenefitEndReason.EXHAUSTED,
        time=day(5, 15),
    )
    await feed(coordination_settings, bus_records(story))
    async with db.acquire() as conn:
        return await load_case_facts(conn, cell_key_secret=coordination_settings.cell_key_secret)


async def test_an_engagement_that_started_before_the_case_opened_counts_from_the_opening_day(
    facts: list[CaseFact],
) -> None:
    first = facts[0]

    assert first.opened_on == dt.date(2026, 3, 10)
    assert EngagementFact("rav", "benefit", dt.date(2026, 3, 10), dt.date(2026, 3, 20)) in (
        first.engagements
    )


async def test_an_engagement_that_ended_before_the_case_opened_is_not_the_cases(
    facts: list[CaseFact],
) -> None:
    for fact in facts:
        assert all(e.kind != "measure" for e in fact.engagements)


async def test_an_engagement_running_across_two_cases_counts_in_each_clipped_to_it(
    facts: list[CaseFact],
) -> None:
    first, second = facts

    assert first.person == second.person
    assert first.engagements == (
        EngagementFact("rav", "benefit", dt.date(2026, 3, 10), dt.date(2026, 3, 20)),
    )
    assert second.engagements == (
        EngagementFact("rav", "benefit", dt.date(2026, 4, 20), dt.date(2026, 5, 15)),
    )
