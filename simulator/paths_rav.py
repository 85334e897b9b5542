"""The RAV job seeker whose ALV benefits run out: in parallel (consent early, the
Assessmentcenter and the social services join while ALV still pays) or one after the other."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from schemas.events import (
    AppointmentHeld,
    AppointmentScheduled,
    AssessmentCompleted,
    BenefitEnded,
    BenefitExhaustionExpected,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ParticipantLeft,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.vocabulary import (
    AppointmentKind,
    Barrier,
    BenefitEndReason,
    BenefitKind,
    CaseOutcome,
    DataCategory,
    DeclineReason,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from simulator.script import ScriptWriter
from simulator.traits import (
    Traits,
    after_leaving,
    consent_categories,
    grant_consent,
    revoke_consent,
)

ALV = BenefitKind.ALV_DAILY_ALLOWANCE
EMPLOYMENT, BENEFITS = DataCategory.EMPLOYMENT, DataCategory.BENEFITS
PARTICIPANT, LEAD = ParticipantRole.PARTICIPANT, ParticipantRole.LEAD
FINDS_WORK_EARLY = 0.2  # paced stories (the year mode): of the RAV job seekers


def rav_job_seeker(w: ScriptWriter, t: Traits) -> None:
    """ALV benefits with an exhaustion forecast; parallel: consent early, the Assessmentcenter
    and the social services join while ALV still pays; sequential: social services only after
    the ALV benefit ended, with a gap."""
    sh = t.municipality
    w.tags.add("parallel" if t.parallel else "sequential")
    w.send("rav", CaseOpened, project_code="IIZ-FALLKOORD", reason="Stellensuche, Aussteuerung")
    alv = w.uuid()
    w.send("rav", BenefitGranted, benefit_id=alv, kind=ALV, start=w.today)
    w.send("rav", MeasureStarted, kind=MeasureKind.JOB_SEARCH_SUPPORT, title="Vermittlung RAV")
    if w.paced and w.rng.random() < FINDS_WORK_EARLY:
        _finds_work_early(w, alv)
        return
    w.wait(days=w.rng.randrange(20, 60))
    ends = w.today + dt.timedelta(days=w.rng.randrange(35, 80))
    w.send("rav", BenefitExhaustionExpected, benefit_id=alv, kind=ALV, expected_end=ends)
    if t.parallel:
        _parallel_planning(w, t, alv, ends)
        return
    w.clock = dt.datetime.combine(ends, dt.time(17, 5), tzinfo=w.clock.tzinfo)
    w.send(
        "rav", BenefitEnded, benefit_id=alv, kind=ALV, end=ends, reason=BenefitEndReason.EXHAUSTED
    )
    # RAV hands the case over to the social service before it leaves (an institution never
    # adds itself: coordination refuses that).
    w.send("rav", ParticipantJoined, institution=sh, role=LEAD, institution_case_ref=w.case_ref(sh))
    w.send("rav", ParticipantLeft, institution="rav", reason="ausgesteuert")
    w.wait(days=t.gap_days)  # the person walks the sequential path: a gap without support
    cats = consent_categories(t, EMPLOYMENT, BENEFITS)
    consent = grant_consent(w, sh, [sh, "rav", "assessmentcenter"], cats, t)
    w.send(sh, BenefitGranted, kind=BenefitKind.SOCIAL_ASSISTANCE, start=w.today)
    _assessmentcenter_referral(w, t, sh)
    if t.revoke:
        revoke_consent(w, sh, consent)
        w.send(sh, MeasureStarted, kind=MeasureKind.WORK_INTEGRATION, title="Arbeitsintegration")
    if t.close:
        w.send(sh, CaseClosed, outcome=CaseOutcome.SOCIAL_ASSISTANCE_EXIT)


def _finds_work_early(w: ScriptWriter, alv: uuid.UUID) -> None:
    """Paced stories (the year mode): the person finds work within weeks; RAV closes the case."""
    w.tags -= {"parallel", "sequential"}
    w.tags.add("found-work")
    w.pause(15, 60)
    end = w.today
    w.send(
        "rav", BenefitEnded, benefit_id=alv, kind=ALV, end=end, reason=BenefitEndReason.EMPLOYMENT
    )
    w.send("rav", CaseClosed, outcome=CaseOutcome.EMPLOYMENT)


def _parallel_planning(w: ScriptWriter, t: Traits, alv: uuid.UUID, ends: dt.date) -> None:
    sh = t.municipality
    members = ["rav", "assessmentcenter", sh] + (["ksa"] if w.rng.random() < 0.5 else [])
    consent = grant_consent(w, "rav", members, consent_categories(t, EMPLOYMENT, BENEFITS), t)
    _assessmentcenter_referral(w, t, "rav")
    # RAV, the lead, adds the social service and (some of the time) the cantonal social office.
    w.send(
        "rav",
        ParticipantJoined,
        institution=sh,
        role=PARTICIPANT,
        institution_case_ref=w.case_ref(sh),
    )
    if w.rng.random() < 0.5:  # the cantonal social office coordinates the case conference
        w.send("rav", ParticipantJoined, institution="ksa", role=LEAD)
        host = "ksa"
    else:
        host = "rav"
    meeting = w.uuid()
    when = w.clock + dt.timedelta(days=9)
    invited = ["rav", "assessmentcenter", sh]
    w.send(
        host,
        AppointmentScheduled,
        appointment_id=meeting,
        kind=AppointmentKind.CASE_CONFERENCE,
        scheduled_for=when,
        institutions=invited,
    )
    w.clock = when + dt.timedelta(hours=3)
    w.send(host, AppointmentHeld, appointment_id=meeting, held_on=w.today, after=dt.timedelta(0))
    w.send(
        "rav", MeasureStarted, kind=MeasureKind.LABOUR_MARKET_MEASURE, title="Bewerbungswerkstatt"
    )
    if t.revoke:
        revoke_consent(w, "rav", consent)
    end = max(ends, w.today + dt.timedelta(days=2))
    w.clock = dt.datetime.combine(end, dt.time(16, 30), tzinfo=w.clock.tzinfo)
    found_work = w.rng.random() < 0.4
    reason = BenefitEndReason.EMPLOYMENT if found_work else BenefitEndReason.EXHAUSTED
    w.send("rav", BenefitEnded, benefit_id=alv, kind=ALV, end=end, reason=reason)
    if not found_work:
        w.send(sh, BenefitGranted, kind=BenefitKind.SOCIAL_ASSISTANCE, start=w.today)
    if t.close:
        outcome = CaseOutcome.EMPLOYMENT if found_work else CaseOutcome.OTHER
        w.send(host, CaseClosed, outcome=outcome)  # the lead closes the case
        w.send(
            sh,
            MeasureStarted,
            kind=MeasureKind.COACHING,
            title="Nachbetreuung Sozialdienst",
            after=after_leaving(w),
        )


def _assessmentcenter_referral(w: ScriptWriter, t: Traits, referrer: str) -> None:
    """Budget and debt counselling at the cantonal Assessmentcenter."""
    referral = w.uuid()
    w.send(
        referrer,
        ReferralRequested,
        referral_id=referral,
        to_institution="assessmentcenter",
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        answer_due=w.today + dt.timedelta(14),
    )
    if t.decline:
        w.tags.add("declined")
        w.send(
            "assessmentcenter",
            ReferralDeclined,
            referral_id=referral,
            reason=DeclineReason.NO_CAPACITY,
        )
        return
    w.send(
        "assessmentcenter",
        ReferralAccepted,
        referral_id=referral,
        first_appointment=w.today + dt.timedelta(days=5),
    )
    w.send(
        "assessmentcenter",
        ParticipantJoined,
        institution="assessmentcenter",
        role=PARTICIPANT,
        institution_case_ref=w.case_ref("assessmentcenter"),
    )
    counselling = w.uuid()
    w.send(
        "assessmentcenter",
        MeasureStarted,
        measure_id=counselling,
        kind=MeasureKind.BUDGET_DEBT_COUNSELLING,
        title="Budget- und Schuldenberatung",
    )
    w.send(
        "assessmentcenter",
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        barriers=[Barrier.DEBTS, Barrier.QUALIFICATION],
        recommendation="Schuldensanierung",
    )
    w.wait(days=w.rng.randrange(10, 30))
    w.send(
        "assessmentcenter",
        MeasureEnded,
        measure_id=counselling,
        kind=MeasureKind.BUDGET_DEBT_COUNSELLING,
        result=MeasureResult.COMPLETED,
        cost_chf=Decimal(w.rng.randrange(600, 2400)),
        financed_by="assessmentcenter",
    )
    w.send("assessmentcenter", ReferralCompleted, referral_id=referral, result="Budget erstellt")
