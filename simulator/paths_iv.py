"""IV early detection (Früherfassung): the RAV or the social services refer the person to the
IV-Stelle, which assesses functional limitations and starts an early intervention."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from schemas.events import (
    AssessmentCompleted,
    CaseClosed,
    CaseOpened,
    MeasureEnded,
    MeasureStarted,
    ParticipantLeft,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.vocabulary import (
    Barrier,
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


def iv_early_detection(w: ScriptWriter, t: Traits) -> None:
    """Früherfassung: the RAV or the social services refer the person to the IV-Stelle."""
    referrer = "rav" if w.rng.random() < 0.5 else t.municipality
    w.send(referrer, CaseOpened, project_code="IIZ-FALLKOORD")
    cats = consent_categories(t, EMPLOYMENT, *([BENEFITS] if w.rng.random() < 0.5 else []))
    consent = grant_consent(w, referrer, [referrer, "iv"], cats, t)
    referral = w.uuid()
    w.send(
        referrer,
        ReferralRequested,
        referral_id=referral,
        to_institution="iv",
        purpose=ReferralPurpose.IV_EARLY_DETECTION,
        note="Längere Arbeitsunfähigkeit gemeldet",
    )
    if t.decline:
        w.tags.add("declined")
        w.send("iv", ReferralDeclined, referral_id=referral, reason=DeclineReason.NOT_ELIGIBLE)
        w.send(
            referrer,
            MeasureStarted,
            kind=MeasureKind.COACHING,
            title="Coaching",
            after=after_leaving(w),
        )
        return
    w.send(
        "iv", ReferralAccepted, referral_id=referral, first_appointment=w.today + dt.timedelta(7)
    )
    w.send(
        "iv",
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        barriers=[Barrier.HEALTH],
        health_limitations="Keine Lasten über 10 kg, höchstens 4 Stunden pro Tag",
        recommendation="Frühintervention: Arbeitsplatzanpassung",
    )
    measure = w.uuid()
    w.send(
        "iv",
        MeasureStarted,
        measure_id=measure,
        kind=MeasureKind.IV_EARLY_INTERVENTION,
        title="Arbeitsplatzanpassung",
        datacategory=DataCategory.HEALTH,
    )
    trial = w.uuid()
    w.send(
        referrer,
        MeasureStarted,
        measure_id=trial,
        kind=MeasureKind.WORK_INTEGRATION,
        title="Arbeitsversuch",
    )
    if t.revoke:
        revoke_consent(w, referrer, consent)
    w.wait(days=w.rng.randrange(15, 40))
    w.send(
        "iv",
        MeasureEnded,
        measure_id=measure,
        kind=MeasureKind.IV_EARLY_INTERVENTION,
        result=MeasureResult.COMPLETED,
        cost_chf=Decimal("3850.00"),
        financed_by="iv",
    )
    w.send("iv", ReferralCompleted, referral_id=referral, result="Frühintervention abgeschlossen")
    w.send("iv", ParticipantLeft, institution="iv", reason="Früherfassung abgeschlossen")
    w.send(
        referrer,
        MeasureEnded,
        measure_id=trial,
        kind=MeasureKind.WORK_INTEGRATION,
        result=MeasureResult.COMPLETED,
        after=after_leaving(w),
    )
    if t.close:
        w.send(referrer, CaseClosed, outcome=CaseOutcome.EMPLOYMENT)
