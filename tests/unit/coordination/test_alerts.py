"""Alerts and deadlines, folded from canonical case stories: who is told what, and when.

Pure: every test folds a story into a fresh ``CaseFile`` against the real institution registry
and passes "today" to ``on_deadline`` itself — no clock, no database, no broker.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.alerts import AlertKind, Audience
from schemas.envelope import CloudEvent
from schemas.events import (
    BenefitEnded,
    BenefitExhaustionExpected,
    BenefitGranted,
    CaseOpened,
    ConsentGranted,
    ConsentRevoked,
    MeasureStarted,
    ParticipantJoined,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.registry import load_institutions
from schemas.vocabulary import (
    BenefitEndReason,
    BenefitKind,
    DataCategory,
    DeclineReason,
    InstitutionKind,
    MeasureKind,
    ParticipantRole,
    ReferralPurpose,
)
from services.coordination.domain.alerts import AlertIntent, alert
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.consequences import Deadline, on_deadline
from services.coordination.domain.event_step import Applied, apply_event
from services.coordination.domain.policy import LegalBasisEntry, LegalBasisMatrix, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.domain.working_days import add_working_days
from tests.case_story import CaseStory

REGISTRY = load_institutions()
KINDS: dict[str, InstitutionKind] = {i.id: i.kind for i in REGISTRY.institutions}
RULES = RuleSettings()  # window 90 days, answer 10 / escalation 5 working days, hand-off gap 30
NO_LAW = LegalBasisMatrix()

SH = "sozialhilfe-2829"  # Sozialdienst Liestal
OTHER_SH = "sozialhilfe-2831"  # Sozialdienst Pratteln
AC = "assessmentcenter"

CONSENT_FROM = dt.date(2026, 1, 1)
MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
FRIDAY = dt.datetime(2026, 3, 6, 8, 0, tzinfo=dt.UTC)


@dataclass
class Folded:
    """A story folded into its person's file, with what followed from each event."""

    file: CaseFile
    applied: list[Applied]
    matrix: LegalBasisMatrix

    @property
    def alerts(self) -> list[AlertIntent]:
        return [a for applied in self.applied for a in applied.alerts]

    @property
    def deadlines(self) -> list[Deadline]:
        return [d for applied in self.applied for d in applied.deadlines]

    def when_due(
        self, deadline: Deadline, today: dt.date | None = None
    ) -> tuple[list[AlertIntent], list[Deadline]]:
        """What the deadline leads to on ``today`` (its due date unless given)."""
        world = World(KINDS, self.file.consent_records(), self.matrix, RULES.grace)
        follows = on_deadline(self.file, deadline, today or deadline.due_on, world, RULES)
        return follows.alerts, follows.deadlines


def fold(story: CaseStory, matrix: LegalBasisMatrix = NO_LAW) -> Folded:
    """Apply every event of the story in order, at bus positions 0, 1, 2, ..."""
    file = CaseFile(pseudonym=story.pseudonym)
    world = World(KINDS, (), matrix, RULES.grace)
    applied = [
        apply_event(file, event, position, world, RULES)
        for position, event in enumerate(story.events)
    ]
    return Folded(file, applied, matrix)


def consent(
    story: CaseStory,
    origin: str,
    *institutions: str,
    categories: tuple[DataCategory, ...] = (DataCategory.CASE_ADMIN, DataCategory.BENEFITS),
    valid_until: dt.date | None = None,
) -> CloudEvent[Any]:
    event: CloudEvent[Any] = story.by(
        origin,
        ConsentGranted,
        institutions=list(institutions),
        categories=list(categories),
        valid_from=CONSENT_FROM,
        valid_until=valid_until,
        document_ref="EINWILLIGUNG-1",
    )
    return event


def forecast(
    story: CaseStory, origin: str, expected_end: dt.date, **fields: Any
) -> CloudEvent[Any]:
    fields.setdefault("kind", BenefitKind.ALV_DAILY_ALLOWANCE)
    event: CloudEvent[Any] = story.by(
        origin, BenefitExhaustionExpected, expected_end=expected_end, **fields
    )
    return event


def recipients(alerts: list[AlertIntent]) -> set[str]:
    return {a.recipient for a in alerts}


def today_of(event: CloudEvent[Any]) -> dt.date:
    return event.time.date()  # the stories run at 08:00 UTC: the same day in Basel


# ----- working days ----------------------------------------------------------------------------


def test_one_working_day_after_a_friday_is_the_monday() -> None:
    assert add_working_days(dt.date(2026, 3, 6), 1) == dt.date(2026, 3, 9)


@pytest.mark.parametrize("weekend_day", [dt.date(2026, 3, 7), dt.date(2026, 3, 8)])
def test_one_working_day_after_a_weekend_day_is_the_monday(weekend_day: dt.date) -> None:
    assert add_working_days(weekend_day, 1) == dt.date(2026, 3, 9)


def test_five_working_days_after_a_wednesday_skip_one_weekend() -> None:
    assert add_working_days(dt.date(2026, 3, 4), 5) == dt.date(2026, 3, 11)


def test_ten_working_days_after_a_friday_are_two_weeks_later() -> None:
    assert add_working_days(dt.date(2026, 3, 6), 10) == dt.date(2026, 3, 20)


def test_zero_working_days_leave_the_day_as_it_is() -> None:
    assert add_working_days(dt.date(2026, 3, 7), 0) == dt.date(2026, 3, 7)


@given(
    start=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
    days=st.integers(min_value=1, max_value=400),
)
def test_n_working_days_later_is_a_weekday_with_exactly_n_weekdays_in_between(
    start: dt.date, days: int
) -> None:
    end = add_working_days(start, days)

    passed = [start + dt.timedelta(days=n) for n in range(1, (end - start).days + 1)]
    assert end.weekday() < 5
    assert sum(1 for day in passed if day.weekday() < 5) == days
    assert (end - start).days <= days + 2 * (days // 5 + 1)


# ----- benefit exhaustion: plan parallel support -----------------------------------------------


def test_a_forecast_within_the_window_alerts_consented_social_services_and_the_ac() -> None:
    story = CaseStory(person_seed=101)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", "iv", SH, AC)
    soon = forecast(story, "rav", dt.date(2026, 5, 29))

    folded = fold(story)

    raised = folded.applied[-1].alerts
    assert recipients(raised) == {SH, AC}  # not iv (no planning kind), not rav (the origin)
    assert {a.kind for a in raised} == {AlertKind.PARALLEL_PLANNING}
    assert {a.audience for a in raised} == {Audience.INSTITUTION}
    assert {(a.due, a.about, a.institutions) for a in raised} == {
        (dt.date(2026, 5, 29), soon.data.benefit_id, ("rav",))
    }
    assert "29.05.2026" in raised[0].message
    assert folded.deadlines == []


def test_social_services_without_a_consent_are_not_alerted_of_a_forecast() -> None:
    story = CaseStory(person_seed=102)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH)
    forecast(story, "rav", dt.date(2026, 5, 29))

    raised = fold(story).alerts

    assert recipients(raised) == {SH}
    assert OTHER_SH not in recipients(raised)
    assert AC not in recipients(raised)


def test_a_consent_without_benefits_authorises_no_planning_alert() -> None:
    story = CaseStory(person_seed=103)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH, AC, categories=(DataCategory.CASE_ADMIN,))
    forecast(story, "rav", dt.date(2026, 5, 29))

    assert fold(story).alerts == []


def test_a_forecast_never_alerts_its_own_origin() -> None:
    story = CaseStory(person_seed=104)
    story.sozialhilfe_2829(CaseOpened)
    consent(story, SH, SH, OTHER_SH, AC)
    forecast(story, SH, dt.date(2026, 5, 29), kind=BenefitKind.SOCIAL_ASSISTANCE)

    assert recipients(fold(story).alerts) == {OTHER_SH, AC}


def _law_rav_to_assessmentcenter() -> LegalBasisMatrix:
    return LegalBasisMatrix(
        version="test",
        entries=(
            LegalBasisEntry(
                InstitutionKind.ALV_RAV,
                InstitutionKind.ASSESSMENTCENTER,
                DataCategory.BENEFITS,
                "Art. 85f AVIG",
            ),
        ),
    )


def test_the_legal_basis_alone_can_authorise_a_planning_alert_to_an_involved_institution() -> None:
    story = CaseStory(person_seed=105)
    story.rav(CaseOpened)
    story.rav(ParticipantJoined, institution=AC, role=ParticipantRole.PARTICIPANT)
    forecast(story, "rav", dt.date(2026, 5, 29))

    assert recipients(fold(story, _law_rav_to_assessmentcenter()).alerts) == {AC}


def test_the_legal_basis_never_turns_a_planning_alert_into_a_broadcast() -> None:
    story = CaseStory(person_seed=105)
    story.rav(CaseOpened)
    forecast(story, "rav", dt.date(2026, 5, 29))

    assert recipients(fold(story, _law_rav_to_assessmentcenter()).alerts) == set()


def test_a_forecast_on_the_day_the_window_opens_alerts_at_once() -> None:
    story = CaseStory(person_seed=106)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH)
    made = forecast(
        story,
        "rav",
        dt.date(2026, 3, 5) + dt.timedelta(days=RULES.exhaustion_window_days),
        time=dt.datetime(2026, 3, 5, 8, tzinfo=dt.UTC),
    )

    folded = fold(story)

    assert today_of(made) == dt.date(2026, 3, 5)
    assert recipients(folded.alerts) == {SH}
    assert folded.deadlines == []


def test_a_forecast_further_out_schedules_planning_for_the_day_the_window_opens() -> None:
    story = CaseStory(person_seed=107)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH, AC)
    far = forecast(story, "rav", dt.date(2026, 12, 31))

    folded = fold(story)

    assert folded.alerts == []
    assert folded.deadlines == [
        Deadline("exhaustion-planning", far.data.benefit_id, dt.date(2026, 10, 2))
    ]


def test_the_planning_deadline_raises_the_alert_the_forecast_would_have_raised() -> None:
    story = CaseStory(person_seed=108)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", "iv", SH, AC)
    far = forecast(story, "rav", dt.date(2026, 12, 31))
    folded = fold(story)
    (planning,) = folded.deadlines

    raised, follow_ups = folded.when_due(planning)

    assert recipients(raised) == {SH, AC}
    assert {(a.kind, a.due, a.about) for a in raised} == {
        (AlertKind.PARALLEL_PLANNING, dt.date(2026, 12, 31), far.data.benefit_id)
    }
    assert follow_ups == []
    same_as_at_once = {
        alert(kind, recipient, audience, "", due=dt.date(2026, 12, 31), about=far.data.benefit_id)
        for kind, recipient, audience in (
            (AlertKind.PARALLEL_PLANNING, SH, Audience.INSTITUTION),
            (AlertKind.PARALLEL_PLANNING, AC, Audience.INSTITUTION),
        )
    }
    assert {a.alert_id for a in raised} == {a.alert_id for a in same_as_at_once}


def test_the_planning_deadline_stays_silent_when_the_benefit_ended_meanwhile() -> None:
    story = CaseStory(person_seed=109)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH, AC)
    far = forecast(story, "rav", dt.date(2026, 12, 31))
    story.rav(
        BenefitEnded,
        benefit_id=far.data.benefit_id,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        end=dt.date(2026, 6, 30),
        reason=BenefitEndReason.EMPLOYMENT,
    )
    folded = fold(story)
    (planning,) = folded.deadlines

    assert folded.when_due(planning) == ([], [])


@pytest.mark.parametrize(
    "events_after_revocation", [0, 1], ids=["revocation-is-the-last-event", "events-followed"]
)
def test_the_planning_deadline_stays_silent_after_the_consent_was_revoked(
    events_after_revocation: int,
) -> None:
    story = CaseStory(person_seed=110)
    story.rav(CaseOpened)
    granted = consent(story, "rav", "rav", SH, AC)
    forecast(story, "rav", dt.date(2026, 12, 31))
    story.rav(ConsentRevoked, consent_id=granted.data.consent_id)
    for _ in range(events_after_revocation):
        story.rav(MeasureStarted, kind=MeasureKind.COACHING)
    folded = fold(story)
    (planning,) = folded.deadlines

    assert folded.when_due(planning) == ([], [])


def test_the_planning_deadline_stays_silent_once_the_consent_expired() -> None:
    story = CaseStory(person_seed=111)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH, AC, valid_until=dt.date(2026, 9, 30))
    forecast(story, "rav", dt.date(2026, 12, 31))
    folded = fold(story)
    (planning,) = folded.deadlines

    assert folded.when_due(planning) == ([], [])


def test_a_forecast_revised_to_a_later_end_does_not_alert_before_its_new_window_opens() -> None:
    story = CaseStory(person_seed=112)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH, AC)
    first = forecast(story, "rav", dt.date(2026, 12, 31))
    forecast(story, "rav", dt.date(2027, 6, 30), benefit_id=first.data.benefit_id)
    folded = fold(story)
    old_window, new_window = folded.deadlines
    assert (old_window.due_on, new_window.due_on) == (dt.date(2026, 10, 2), dt.date(2027, 4, 1))

    assert folded.when_due(old_window) == ([], []), "the end moved: the old window is not open"
    assert recipients(folded.when_due(new_window)[0]) == {SH, AC}


# ----- referrals: reminder to the recipient, escalation to the coordinator ---------------------


def referral_story(
    seed: int,
    *,
    answer_due: dt.date | None = None,
    requested_at: dt.datetime = FRIDAY,
    consented: bool = True,
) -> tuple[CaseStory, CloudEvent[Any]]:
    """RAV leads the case, the social services of Liestal take part and refer to the AC; the
    person consents to case administration between the three (unless ``consented`` is off)."""
    story = CaseStory(person_seed=seed, start=MONDAY - dt.timedelta(days=3))
    story.rav(CaseOpened)
    if consented:
        story.rav(
            ConsentGranted,
            institutions=["rav", SH, AC],
            categories=[DataCategory.CASE_ADMIN],
            valid_from=dt.date(2026, 1, 1),
            document_ref="E-REF",
        )
    story.rav(ParticipantJoined, institution=SH, role=ParticipantRole.PARTICIPANT)
    requested: CloudEvent[Any] = story.sozialhilfe_2829(
        ReferralRequested,
        to_institution=AC,
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        answer_due=answer_due,
        time=requested_at,
    )
    return story, requested


def test_a_referral_with_an_answer_date_is_reminded_on_that_date() -> None:
    story, requested = referral_story(201, answer_due=dt.date(2026, 3, 16))

    folded = fold(story)

    assert folded.deadlines == [
        Deadline("referral-reminder", requested.data.referral_id, dt.date(2026, 3, 16))
    ]
    assert folded.alerts == []


def test_a_referral_without_an_answer_date_is_due_ten_working_days_later() -> None:
    story, requested = referral_story(202)  # requested on a Friday

    folded = fold(story)

    due = dt.date(2026, 3, 20)
    assert folded.deadlines == [Deadline("referral-reminder", requested.data.referral_id, due)]
    referral = folded.file.referral(requested.data.referral_id)
    assert referral is not None
    assert referral.answer_due == due


def test_an_open_referral_at_its_due_date_reminds_the_recipient_and_schedules_the_escalation() -> (
    None
):
    story, requested = referral_story(203)
    folded = fold(story)
    (reminder_due,) = folded.deadlines

    raised, follow_ups = folded.when_due(reminder_due)

    (reminder,) = raised
    assert (reminder.kind, reminder.recipient, reminder.audience) == (
        AlertKind.REFERRAL_REMINDER,
        AC,
        Audience.INSTITUTION,
    )
    assert (reminder.about, reminder.due, reminder.institutions) == (
        requested.data.referral_id,
        dt.date(2026, 3, 20),
        (SH,),
    )
    assert follow_ups == [
        Deadline("referral-escalation", requested.data.referral_id, dt.date(2026, 3, 27))
    ]


def test_the_escalation_goes_to_the_case_lead_as_coordinator() -> None:
    story, requested = referral_story(204)
    folded = fold(story)
    (reminder_due,) = folded.deadlines
    (escalation_due,) = folded.when_due(reminder_due)[1]

    raised, follow_ups = folded.when_due(escalation_due)

    (escalation,) = raised
    assert (escalation.kind, escalation.recipient, escalation.audience) == (
        AlertKind.REFERRAL_ESCALATION,
        "rav",  # the lead, not the referring social services
        Audience.COORDINATOR,
    )
    assert (escalation.about, escalation.institutions) == (requested.data.referral_id, (SH, AC))
    assert "20.03.2026" in escalation.message
    assert follow_ups == []


def test_a_new_lead_receives_the_escalation() -> None:
    story, _ = referral_story(205)
    story.rav(ParticipantJoined, institution=SH, role=ParticipantRole.LEAD)
    folded = fold(story)
    (reminder_due,) = folded.deadlines
    (escalation_due,) = folded.when_due(reminder_due)[1]

    (escalation,) = folded.when_due(escalation_due)[0]

    assert escalation.recipient == SH


ANSWERS: list[tuple[type[Any], dict[str, Any]]] = [
    (ReferralAccepted, {}),
    (ReferralDeclined, {"reason": DeclineReason.NO_CAPACITY}),
    (ReferralCompleted, {}),
]


@pytest.mark.parametrize(("answer", "fields"), ANSWERS, ids=["accepted", "declined", "completed"])
@pytest.mark.parametrize("kind", ["referral-reminder", "referral-escalation"])
def test_an_answered_referral_raises_nothing(
    answer: type[Any], fields: dict[str, Any], kind: str
) -> None:
    story, requested = referral_story(206)
    story.assessmentcenter(answer, referral_id=requested.data.referral_id, **fields)
    folded = fold(story)
    deadline = Deadline(kind, requested.data.referral_id, dt.date(2026, 3, 20))

    assert folded.when_due(deadline, today=dt.date(2026, 4, 30)) == ([], [])


def test_a_referral_answered_after_the_reminder_is_not_escalated() -> None:
    story, requested = referral_story(207)
    folded = fold(story)
    (reminder_due,) = folded.deadlines
    (escalation_due,) = folded.when_due(reminder_due)[1]
    story.assessmentcenter(ReferralAccepted, referral_id=requested.data.referral_id)
    folded = fold(story)

    assert folded.when_due(escalation_due) == ([], [])


# ----- sequential hand-off ---------------------------------------------------------------------


def handoff_story(
    seed: int,
    *,
    social_start: dt.date,
    rav_end: dt.date = dt.date(2026, 3, 31),
    consented: bool = True,
) -> tuple[CaseStory, CloudEvent[Any]]:
    """RAV's daily allowance runs out; later the social services grant social assistance."""
    story = CaseStory(person_seed=seed, start=dt.datetime(2025, 5, 1, 8, tzinfo=dt.UTC))
    story.rav(CaseOpened)
    if consented:
        consent(story, "rav", "rav", SH)
    allowance = story.rav(
        BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=dt.date(2025, 6, 1)
    )
    story.rav(
        BenefitEnded,
        benefit_id=allowance.data.benefit_id,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        end=rav_end,
        reason=BenefitEndReason.EXHAUSTED,
        time=dt.datetime.combine(rav_end, dt.time(8), tzinfo=dt.UTC),
    )
    assistance: CloudEvent[Any] = story.sozialhilfe_2829(
        BenefitGranted,
        kind=BenefitKind.SOCIAL_ASSISTANCE,
        start=social_start,
        time=dt.datetime.combine(social_start, dt.time(8), tzinfo=dt.UTC),
    )
    return story, assistance


def test_social_assistance_starting_45_days_after_the_allowance_ended_notes_the_coordinator() -> (
    None
):
    story, assistance = handoff_story(301, social_start=dt.date(2026, 5, 15))

    raised = fold(story).applied[-1].alerts

    (note,) = raised
    assert (note.kind, note.recipient, note.audience) == (
        AlertKind.SEQUENTIAL_HANDOFF,
        "rav",
        Audience.COORDINATOR,
    )
    assert (note.due, note.about, note.institutions) == (
        dt.date(2026, 5, 15),
        assistance.data.benefit_id,
        ("rav", SH),
    )
    assert "45 Tage" in note.message


def test_social_assistance_starting_while_the_allowance_runs_is_no_handoff() -> None:
    story, _ = handoff_story(302, social_start=dt.date(2026, 3, 20))

    assert fold(story).alerts == []


@pytest.mark.parametrize("gap", [1, 30])
def test_a_gap_of_at_most_the_threshold_is_no_handoff(gap: int) -> None:
    start = dt.date(2026, 3, 31) + dt.timedelta(days=gap)
    story, _ = handoff_story(303, social_start=start)

    assert fold(story).alerts == []


def test_a_gap_just_over_the_threshold_is_a_handoff() -> None:
    story, _ = handoff_story(304, social_start=dt.date(2026, 3, 31) + dt.timedelta(days=31))

    assert [a.kind for a in fold(story).alerts] == [AlertKind.SEQUENTIAL_HANDOFF]


def test_another_institution_engaged_in_between_means_no_handoff() -> None:
    story = CaseStory(person_seed=305, start=dt.datetime(2025, 5, 1, 8, tzinfo=dt.UTC))
    story.rav(CaseOpened)
    consent(story, "rav", "rav", "iv", SH)
    allowance = story.rav(
        BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=dt.date(2025, 6, 1)
    )
    story.rav(
        BenefitEnded,
        benefit_id=allowance.data.benefit_id,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        end=dt.date(2026, 3, 31),
        reason=BenefitEndReason.EXHAUSTED,
        time=dt.datetime(2026, 3, 31, 8, tzinfo=dt.UTC),
    )
    story.iv(
        MeasureStarted,
        kind=MeasureKind.IV_EARLY_INTERVENTION,
        time=dt.datetime(2026, 4, 10, 8, tzinfo=dt.UTC),
    )
    story.sozialhilfe_2829(
        BenefitGranted,
        kind=BenefitKind.SOCIAL_ASSISTANCE,
        start=dt.date(2026, 5, 15),
        time=dt.datetime(2026, 5, 15, 8, tzinfo=dt.UTC),
    )

    assert fold(story).alerts == []


def test_a_coordinator_the_person_gave_no_consent_for_is_not_told_of_the_handoff() -> None:
    story, _ = handoff_story(306, social_start=dt.date(2026, 5, 15), consented=False)

    assert fold(story).alerts == []


# ----- stable ids --------------------------------------------------------------------------------


def test_folding_the_same_story_twice_raises_alerts_with_the_same_ids() -> None:
    story = CaseStory(person_seed=401)
    story.rav(CaseOpened)
    consent(story, "rav", "rav", SH, AC)
    forecast(story, "rav", dt.date(2026, 5, 29))

    first, second = fold(story), fold(story)

    assert [a.alert_id for a in first.alerts] == [a.alert_id for a in second.alerts]
    assert len({a.alert_id for a in first.alerts}) == 2, "one id per recipient"


def test_a_deadline_run_twice_raises_alerts_with_the_same_ids() -> None:
    story, _ = referral_story(402)
    folded = fold(story)
    (reminder_due,) = folded.deadlines

    once = folded.when_due(reminder_due)
    again = folded.when_due(reminder_due, today=dt.date(2026, 3, 23))

    assert once == again


@given(
    kind=st.sampled_from(AlertKind),
    recipient=st.sampled_from(sorted(KINDS)),
    audience=st.sampled_from(Audience),
    due=st.one_of(st.none(), st.dates()),
    about=st.one_of(st.none(), st.uuids()),
    messages=st.tuples(st.text(max_size=30), st.text(max_size=30)),
)
def test_an_alert_id_follows_from_what_it_is_about_not_from_its_wording(
    kind: AlertKind,
    recipient: str,
    audience: Audience,
    due: dt.date | None,
    about: uuid.UUID | None,
    messages: tuple[str, str],
) -> None:
    one = alert(kind, recipient, audience, messages[0], due=due, about=about)
    other = alert(kind, recipient, audience, messages[1], due=due, about=about, institutions=("x",))

    assert one.alert_id == other.alert_id
    assert (
        one.alert_id != alert(kind, f"{recipient}-x", audience, "", due=due, about=about).alert_id
    )


def test_a_deadline_key_names_its_kind_reference_and_day() -> None:
    ref = uuid.UUID(int=7)

    key = Deadline("referral-reminder", ref, dt.date(2026, 3, 20)).key

    assert key == f"referral-reminder:{ref}:2026-03-20"


def test_a_referral_nobody_consented_to_is_not_reminded_nor_escalated() -> None:
    story, _ = referral_story(299, consented=False)
    folded = fold(story)
    (reminder_due,) = folded.deadlines

    raised, follow_ups = folded.when_due(reminder_due)
    (escalation_due,) = follow_ups
    escalated, _ = folded.when_due(escalation_due)

    assert raised == []
    assert escalated == []
