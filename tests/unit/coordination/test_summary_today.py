"""The case summary judges "active", "parallel" and "overdue" on the day of reading, not on the
date of the person's newest event; a closed case on its closing date, with nothing overdue."""

from __future__ import annotations

import datetime as dt
import uuid

from schemas.vocabulary import DataCategory
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import (
    Case,
    Consent,
    Engagement,
    EngagementKind,
    Participation,
    Referral,
)
from services.coordination.domain.summary import summarise

OPENED = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)
NEWEST = dt.date(2025, 3, 10)
BENEFIT = uuid.uuid4()


def person(*, closed_on: dt.date | None = None, consent: bool = True) -> CaseFile:
    """rav leads; its ALV benefit and iv's accepted referral run in parallel from 5 March 2025;
    rav's referral to the Assessmentcenter is due on 1 April 2025 and never answered; the
    benefit is expected to be exhausted on 30 June 2026. A consent lets rav and iv see each
    other's benefits and case administration."""
    closed_at = dt.datetime.combine(closed_on, dt.time(9), dt.UTC) if closed_on else None
    return CaseFile(
        pseudonym="p1",
        cases=[
            Case(
                case_key=uuid.uuid4(),
                opened_by="rav",
                opened_at=OPENED,
                opened_position=0,
                lead="rav",
                closed_at=closed_at,
                closed_position=9 if closed_on else None,
            )
        ],
        participations=[
            Participation(institution=i, role=r, case_key=None, joined_at=0, joined_on=OPENED)
            for i, r in (("rav", "lead"), ("iv", "participant"))
        ],
        consents=[
            Consent(
                consent_id=uuid.uuid4(),
                recorded_by="rav",
                institutions=["rav", "iv"],
                categories=[DataCategory.BENEFITS, DataCategory.CASE_ADMIN],
                valid_from=dt.date(2025, 1, 1),
                valid_until=None,
                document_ref="V-1",
                granted_at=1,
            )
        ]
        if consent
        else [],
        engagements=[
            Engagement(
                institution="rav",
                kind=EngagementKind.BENEFIT,
                ref_id=BENEFIT,
                case_key=None,
                started_on=dt.date(2025, 3, 1),
            ),
            Engagement(
                institution="iv",
                kind=EngagementKind.REFERRAL,
                ref_id=uuid.uuid4(),
                case_key=None,
                started_on=dt.date(2025, 3, 5),
                ended_on=dt.date(2025, 9, 30),
            ),
        ],
        referrals=[
            Referral(
                referral_id=uuid.uuid4(),
                case_key=None,
                from_institution="rav",
                to_institution="assessmentcenter",
                purpose="assessmentcenter-intake",
                requested_at=dt.datetime(2025, 3, 10, 9, tzinfo=dt.UTC),
                answer_due=dt.date(2025, 4, 1),
            )
        ],
        forecasts={str(BENEFIT): ("rav", "2026-06-30")},
        last_position=9,
    )


def test_a_referral_due_in_april_2025_is_overdue_in_december_2026_whatever_the_newest() -> None:
    summary = summarise(person(), None, "rav", last_event_on=NEWEST, today=dt.date(2026, 12, 5))
    [referral] = summary.open_referrals
    assert referral.overdue is True
    assert summary.last_event_on == NEWEST
    assert summary.judged_on == dt.date(2026, 12, 5)


def test_the_same_referral_is_not_overdue_while_today_is_before_its_due_date() -> None:
    summary = summarise(person(), None, "rav", last_event_on=NEWEST, today=dt.date(2025, 3, 20))
    assert [r.overdue for r in summary.open_referrals] == [False]


def test_who_is_active_and_whether_in_parallel_is_judged_today() -> None:
    then = summarise(person(), None, "rav", last_event_on=NEWEST, today=dt.date(2025, 6, 1))
    now = summarise(person(), None, "rav", last_event_on=NEWEST, today=dt.date(2026, 12, 5))
    assert then.parallel is True
    assert [e.institution for e in then.current_engagements] == ["iv", "rav"]
    assert now.parallel is False  # iv's engagement ended on 30 September 2025
    assert [e.institution for e in now.current_engagements] == ["rav"]


def test_an_expected_exhaustion_past_today_is_overdue_while_the_benefit_runs() -> None:
    summary = summarise(person(), None, "iv", last_event_on=NEWEST, today=dt.date(2026, 12, 5))
    [exhaustion] = summary.expected_exhaustions
    assert (exhaustion.institution, exhaustion.expected_on) == ("rav", dt.date(2026, 6, 30))
    assert exhaustion.overdue is True


def test_an_expected_exhaustion_is_shown_only_to_whom_its_benefits_are_visible() -> None:
    without_consent = person(consent=False)
    as_iv = summarise(without_consent, None, "iv", last_event_on=NEWEST, today=NEWEST)
    as_rav = summarise(without_consent, None, "rav", last_event_on=NEWEST, today=NEWEST)
    assert as_iv.expected_exhaustions == []
    assert len(as_rav.expected_exhaustions) == 1


def test_a_closed_case_is_judged_on_its_closing_date_and_has_nothing_overdue() -> None:
    closed = person(closed_on=dt.date(2025, 6, 1))
    summary = summarise(closed, None, "rav", last_event_on=NEWEST, today=dt.date(2026, 12, 5))
    assert summary.closed is True
    assert summary.judged_on == dt.date(2025, 6, 1)
    assert summary.parallel is True  # what was so at closing
    assert [r.overdue for r in summary.open_referrals] == [False]
    assert [e.overdue for e in summary.expected_exhaustions] == [False]


def test_a_past_state_is_judged_on_its_newest_event_as_before() -> None:
    summary = summarise(person(), 7, "rav", last_event_on=dt.date(2025, 3, 20))
    assert summary.judged_on == dt.date(2025, 3, 20)
    assert [r.overdue for r in summary.open_referrals] == [False]
