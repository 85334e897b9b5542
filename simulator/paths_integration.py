"""Integration of provisionally admitted persons and refugees (ZIF, Integrationsagenda) and
vocational case management for young adults (Case Management Berufsbildung)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from schemas.events import (
    AssessmentCompleted,
    CaseClosed,
    CaseOpened,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ProjectAssigned,
    ReferralAccepted,
    ReferralCompleted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.vocabulary import (
    Barrier,
    CaseOutcome,
    DataCategory,
    DeclineReason,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from simulator.paths_social import share_budget
from simulator.script import ScriptWriter
from simulator.traits import (
    Traits,
    after_leaving,
    consent_categories,
    grant_consent,
    revoke_consent,
)
from simulator.zif_form import register_with_zif

EMPLOYMENT, BENEFITS = DataCategory.EMPLOYMENT, DataCategory.BENEFITS
INTEGRATION, EDUCATION = DataCategory.INTEGRATION, DataCategory.EDUCATION
DOCUMENTS = DataCategory.DOCUMENTS
MOVES_AWAY = 0.2  # paced stories (the year mode): of the ZIF persons, moved away after the start


def zif_integration(w: ScriptWriter, t: Traits) -> None:
    """A provisionally admitted person or refugee: the municipality registers the person with
    ZIF for the first interview and the potential assessment (Integrationsagenda) through
    intake's web form, one form after the other, each with the signed consent uploaded; then a
    language course. ZIF answers from its own application (Kafka door).

    Both registrations come first: the form stamps its events with the real time, so what the
    script has happen after them must come later in the script too. Paced (the year mode), the
    story takes months (first interview, assessment, language course), and some persons move to
    another canton after the first interview (the case closes early)."""
    sh = t.municipality
    extra = [EDUCATION] + ([DOCUMENTS] if w.rng.random() < 0.5 else [])
    cats = consent_categories(t, INTEGRATION, EMPLOYMENT, *extra)
    first = register_with_zif(
        w,
        t,
        sh,
        ReferralPurpose.ZIF_FIRST_INTERVIEW,
        cats,
        institutions=("berufsbildung",),
        open_case=True,
        note="Dolmetschen Tigrinya nötig",
        answer_due=w.today + dt.timedelta(days=14),
    )
    # The municipality takes part now: the second form does not open the case again.
    second = register_with_zif(
        w,
        t,
        sh,
        ReferralPurpose.POTENTIAL_ASSESSMENT,
        cats,
        institutions=("berufsbildung",),
        open_case=False,
        after=dt.timedelta(minutes=w.rng.randrange(3, 15)),
    )
    first.confirm(w)
    second.confirm(w)
    w.send(sh, ProjectAssigned, project_code="IAS-VAFL")
    w.send(
        "zif",
        ReferralAccepted,
        referral_id=first.referral_id,
        first_appointment=w.today + dt.timedelta(9),
    )
    w.pause(5, 12)  # the first interview takes place at the appointment
    w.send("zif", ReferralCompleted, referral_id=first.referral_id, result="Erstgespräch geführt")
    share_budget(w, sh, title="Aufenthaltsbewilligung_F.pdf")
    if w.paced and w.rng.random() < MOVES_AWAY:  # a few move to another canton early on
        w.tags.add("moved-away")
        w.pause(3, 20)
        w.send(sh, CaseClosed, outcome=CaseOutcome.MOVED_AWAY)
        return
    assessment = second.referral_id
    if t.decline:
        w.tags.add("declined")
        w.send("zif", ReferralDeclined, referral_id=assessment, reason=DeclineReason.NO_CAPACITY)
        w.send(
            sh,
            MeasureStarted,
            kind=MeasureKind.LANGUAGE_COURSE,
            title="Deutsch A2",
            datacategory=INTEGRATION,
            after=after_leaving(w),
        )
        return
    w.send("zif", ReferralAccepted, referral_id=assessment)
    w.pause(14, 35)  # the potential assessment takes a few weeks
    w.send(
        "zif",
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        datacategory=INTEGRATION,
        barriers=[Barrier.LANGUAGE, Barrier.RESIDENCE_STATUS],
        recommendation="Deutschkurs B1, danach Brückenangebot",
    )
    w.send(
        "zif",
        MeasureStarted,
        kind=MeasureKind.LANGUAGE_COURSE,
        title="Deutschkurs B1",
        datacategory=INTEGRATION,
    )
    if t.revoke:  # the person withdraws the consent of both signed forms
        revoke_consent(w, sh, first.consent_id)
        revoke_consent(w, sh, second.consent_id)
    w.pause(30, 100)  # the language course runs for months
    w.send(
        "zif",
        ReferralRequested,
        to_institution="berufsbildung",
        purpose=ReferralPurpose.VOCATIONAL_CASE_MANAGEMENT,
    )
    # ZIF, which took part by accepting its referrals, adds Berufsbildung to the case (an
    # institution never adds itself); the referral itself stays unanswered (a reminder follows).
    w.send(
        "zif",
        ParticipantJoined,
        institution="berufsbildung",
        role=ParticipantRole.PARTICIPANT,
    )
    w.send(
        "berufsbildung",
        MeasureStarted,
        kind=MeasureKind.BRIDGE_OFFER,
        datacategory=EDUCATION,
        title="Integrationsvorlehre INVOL",
    )
    w.pause(7, 30)
    if t.close:
        w.send(sh, CaseClosed, outcome=CaseOutcome.EDUCATION)


def vocational_case_management(w: ScriptWriter, t: Traits) -> None:
    """Case Management Berufsbildung for a young adult: bridge offer, then an apprenticeship."""
    opener = w.rng.choice(("berufsbildung", "rav", t.municipality))
    w.send(opener, CaseOpened, project_code="CM-BB")
    members = sorted({opener, "berufsbildung", "rav"})
    consent = grant_consent(w, opener, members, consent_categories(t, EDUCATION, EMPLOYMENT), t)
    if opener != "berufsbildung":
        referral = w.uuid()
        w.send(
            opener,
            ReferralRequested,
            referral_id=referral,
            to_institution="berufsbildung",
            purpose=ReferralPurpose.VOCATIONAL_CASE_MANAGEMENT,
        )
        if t.decline:
            w.tags.add("declined")
            w.send(
                "berufsbildung",
                ReferralDeclined,
                referral_id=referral,
                reason=DeclineReason.NOT_ELIGIBLE,
            )
            w.send(
                opener,
                MeasureStarted,
                kind=MeasureKind.COACHING,
                title="Lehrstellensuche",
                after=after_leaving(w),
            )
            return
        w.send("berufsbildung", ReferralAccepted, referral_id=referral)
    if opener != "rav":  # the opener adds the RAV (it does not add itself)
        w.send(opener, ParticipantJoined, institution="rav", role=ParticipantRole.PARTICIPANT)
    cm = w.uuid()
    w.send(
        "berufsbildung",
        MeasureStarted,
        measure_id=cm,
        datacategory=EDUCATION,
        kind=MeasureKind.VOCATIONAL_CASE_MANAGEMENT,
        title="Case Management Berufsbildung",
    )
    bridge = w.uuid()
    w.send(
        "berufsbildung",
        MeasureStarted,
        measure_id=bridge,
        kind=MeasureKind.BRIDGE_OFFER,
        title="Brückenangebot",
        datacategory=EDUCATION,
    )
    if t.revoke:
        revoke_consent(w, opener, consent)
    w.wait(days=w.rng.randrange(20, 50))
    w.send(
        "berufsbildung",
        MeasureEnded,
        measure_id=bridge,
        kind=MeasureKind.BRIDGE_OFFER,
        result=MeasureResult.COMPLETED,
        datacategory=EDUCATION,
        cost_chf=Decimal("5200.00"),
    )
    w.send(
        "berufsbildung",
        MeasureStarted,
        kind=MeasureKind.APPRENTICESHIP,
        datacategory=EDUCATION,
        title="Lehre EFZ Logistiker/in",
    )
    w.send(
        "berufsbildung",
        MeasureEnded,
        measure_id=cm,
        kind=MeasureKind.VOCATIONAL_CASE_MANAGEMENT,
        result=MeasureResult.COMPLETED,
        datacategory=EDUCATION,
    )
    if t.close:
        w.send(opener, CaseClosed, outcome=CaseOutcome.EDUCATION)
