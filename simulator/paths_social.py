"""Entry into social assistance: the municipal social service grants it and sends the person to
the Assessmentcenter for budget and debt counselling, while the RAV places in parallel."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from schemas.events import (
    AssessmentCompleted,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    DocumentShared,
    MeasureEnded,
    MeasureStarted,
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
    Potential,
    ReferralPurpose,
)
from simulator.script import ScriptWriter
from simulator.traits import Traits, consent_categories, grant_consent, revoke_consent

EMPLOYMENT, BENEFITS = DataCategory.EMPLOYMENT, DataCategory.BENEFITS
INTEGRATION, EDUCATION = DataCategory.INTEGRATION, DataCategory.EDUCATION
DOCUMENTS = DataCategory.DOCUMENTS


def social_assistance_entry(w: ScriptWriter, t: Traits) -> None:
    """The municipal social service grants social assistance and sends the person to the
    Assessmentcenter for budget and debt counselling; the RAV places in parallel."""
    sh = t.municipality
    w.send(sh, CaseOpened, project_code="AC-PILOT", reason="Existenzsicherung gefährdet")
    extra = [DOCUMENTS] if w.rng.random() < 0.5 else []
    cats = consent_categories(t, EMPLOYMENT, BENEFITS, *extra)
    consent = grant_consent(w, sh, [sh, "assessmentcenter", "rav"], cats, t)
    w.send(sh, BenefitGranted, kind=BenefitKind.SOCIAL_ASSISTANCE, start=w.today)
    referral = w.uuid()
    w.send(
        sh,
        ReferralRequested,
        referral_id=referral,
        to_institution="assessmentcenter",
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        answer_due=w.today + dt.timedelta(10),
    )
    share_budget(w, sh)
    if t.decline:
        w.tags.add("declined")
        w.send(
            "assessmentcenter",
            ReferralDeclined,
            referral_id=referral,
            reason=DeclineReason.PERSON_DECLINED,
        )
    else:
        w.send("assessmentcenter", ReferralAccepted, referral_id=referral)
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
            potential=Potential.HIGH,
            barriers=[Barrier.DEBTS, Barrier.CHILDCARE],
            recommendation="Stellensuche RAV",
        )
        if t.revoke:
            revoke_consent(w, sh, consent)
        w.wait(days=w.rng.randrange(14, 40))
        w.send(
            "assessmentcenter",
            MeasureEnded,
            measure_id=counselling,
            kind=MeasureKind.BUDGET_DEBT_COUNSELLING,
            result=MeasureResult.COMPLETED,
            cost_chf=Decimal("1240.00"),
            financed_by=sh,
        )
        w.send("assessmentcenter", ReferralCompleted, referral_id=referral, result="Budget steht")
    placement = w.uuid()
    w.send(
        sh,
        ReferralRequested,
        referral_id=placement,
        to_institution="rav",
        purpose=ReferralPurpose.JOB_PLACEMENT,
    )
    w.send("rav", ReferralAccepted, referral_id=placement)
    w.send("rav", MeasureStarted, kind=MeasureKind.JOB_SEARCH_SUPPORT, title="Vermittlung")
    if t.close:
        w.send(sh, CaseClosed, outcome=CaseOutcome.SOCIAL_ASSISTANCE_EXIT)


def share_budget(w: ScriptWriter, holder: str, title: str = "Budget_2026.pdf") -> None:
    """Announce a document (metadata and hash only; it stays with its holder)."""
    content = f"{title}:{w.uuid()}".encode()
    w.send(
        holder,
        DocumentShared,
        title=title,
        media_type="application/pdf",
        size_bytes=40_000 + len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        held_by=holder,
    )
