"""Persons who come back: their IIZ case closed, and weeks later an institution opens a new case
for them (the same AHV number) — a re-entry within 12 months in the committee's figures.

RAV opens the new case when the person is unemployed again (ALV and job search); otherwise the
social service of the person's municipality does (social assistance, job placement at RAV).
The return comes after the closing's grace period (30 days), so the institutions of the first
case no longer take part when the second one opens.
"""

from __future__ import annotations

import datetime as dt

from schemas.events import (
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    MeasureStarted,
    ReferralAccepted,
    ReferralRequested,
)
from schemas.vocabulary import BenefitKind, MeasureKind, ReferralPurpose
from simulator.script import ZURICH, ScriptWriter
from simulator.traits import Traits

RETURN_SHARE = 0.08  # of the persons whose case closed (about 4 % of all persons)
WEEKS_AWAY = (6, 20)  # weeks from the last step (the closing or after it) to the return


def comes_back(w: ScriptWriter) -> bool:
    """Whether this person, whose script is written so far, returns: only after a closed case,
    drawn from the person's own random source."""
    return _case_is_closed(w) and w.rng.random() < RETURN_SHARE


def return_later(w: ScriptWriter, t: Traits) -> None:
    """Weeks after the closing, a new case: opened by RAV or the municipality's social service."""
    w.tags.add("re-entry")
    day = w.today + dt.timedelta(weeks=w.rng.randint(*WEEKS_AWAY))
    while day.weekday() >= 5:  # offices are open Monday to Friday
        day += dt.timedelta(days=1)
    w.clock = dt.datetime.combine(
        day, dt.time(w.rng.randrange(8, 16), w.rng.randrange(60)), tzinfo=ZURICH
    )
    if w.rng.random() < 0.5:
        _unemployed_again(w)
    else:
        _back_on_social_assistance(w, t.municipality)


def _case_is_closed(w: ScriptWriter) -> bool:
    openings_and_closings = [
        s.event.data
        for s in w.steps
        if s.on_bus and isinstance(s.event.data, CaseOpened | CaseClosed)
    ]
    return bool(openings_and_closings) and isinstance(openings_and_closings[-1], CaseClosed)


def _unemployed_again(w: ScriptWriter) -> None:
    w.send(
        "rav",
        CaseOpened,
        project_code="IIZ-FALLKOORD",
        reason="Wiederanmeldung nach Stellenverlust",
        after=dt.timedelta(0),
    )
    w.send("rav", BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=w.today)
    w.send("rav", MeasureStarted, kind=MeasureKind.JOB_SEARCH_SUPPORT, title="Vermittlung RAV")


def _back_on_social_assistance(w: ScriptWriter, sh: str) -> None:
    w.send(
        sh,
        CaseOpened,
        project_code="AC-PILOT",
        reason="Erneute Unterstützung",
        after=dt.timedelta(0),
    )
    w.send(sh, BenefitGranted, kind=BenefitKind.SOCIAL_ASSISTANCE, start=w.today)
    placement = w.uuid()
    w.send(
        sh,
        ReferralRequested,
        referral_id=placement,
        to_institution="rav",
        purpose=ReferralPurpose.JOB_PLACEMENT,
    )
    w.send("rav", ReferralAccepted, referral_id=placement)
