"""What follows from an event or a due deadline: alerts to raise and deadlines to keep.

- A forecast of benefit exhaustion within the window raises planning alerts now; one further
  out becomes an ``exhaustion-planning`` deadline on the day the window opens.
- A referral gets a ``referral-reminder`` deadline on its answer due date; a reminder that finds
  it unanswered reminds the recipient and sets a ``referral-escalation`` M working days later,
  which tells the case's coordinator.
- An engagement that starts a sequential hand-off notes the coordinator.

Pure: returned as values; "today" is passed in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from schemas.alerts import AlertKind, Audience
from schemas.envelope import CloudEvent
from schemas.events import BenefitExhaustionExpected, ReferralRequested
from services.coordination.domain.alerts import (
    CASE_ADMIN,
    AlertIntent,
    alert,
    facts_at,
    handoff_alerts,
    may_see,
    planning_alerts,
)
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Referral, ReferralStatus
from services.coordination.domain.folding import Folded
from services.coordination.domain.policy import World
from services.coordination.domain.rules import RuleSettings
from services.coordination.domain.working_days import add_working_days, business_date


@dataclass(frozen=True)
class Deadline:
    """A time-based check to run on ``due_on``; the key makes scheduling idempotent."""

    kind: str  # "referral-reminder" | "referral-escalation" | "exhaustion-planning"
    ref_id: uuid.UUID
    due_on: dt.date

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref_id}:{self.due_on.isoformat()}"


@dataclass(frozen=True)
class Consequences:
    alerts: list[AlertIntent] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)


def follow_event(
    file: CaseFile, event: CloudEvent[Any], folded: Folded, world: World, rules: RuleSettings
) -> Consequences:
    """The alerts and deadlines that follow from one event, just folded into ``file``."""
    data, facts = event.data, folded.facts
    alerts: list[AlertIntent] = []
    deadlines: list[Deadline] = []
    if isinstance(data, BenefitExhaustionExpected):
        window_opens = data.expected_end - dt.timedelta(days=rules.exhaustion_window_days)
        if window_opens <= business_date(event.time):
            alerts += planning_alerts(file, facts, world, data.benefit_id, data.expected_end)
        else:
            deadlines.append(Deadline("exhaustion-planning", data.benefit_id, window_opens))
    if isinstance(data, ReferralRequested):
        referral = file.referral(data.referral_id)
        if referral is not None:
            deadlines.append(Deadline("referral-reminder", data.referral_id, referral.answer_due))
    if folded.started is not None:
        alerts += handoff_alerts(file, folded.started, facts, world, rules)
    return Consequences(alerts, deadlines)


def on_deadline(
    file: CaseFile, deadline: Deadline, today: dt.date, world: World, rules: RuleSettings
) -> Consequences:
    """What a due deadline leads to, judged on the file as it is now."""
    if deadline.kind in ("referral-reminder", "referral-escalation"):
        referral = file.referral(deadline.ref_id)
        if referral is None or referral.status != ReferralStatus.OPEN:
            return Consequences()
        if deadline.kind == "referral-reminder":
            return _remind(file, referral, deadline, today, world, rules)
        return _escalate(file, referral, today, world)
    if deadline.kind == "exhaustion-planning":
        return _plan_for_exhaustion(file, deadline, today, world, rules)
    return Consequences()


def _remind(
    file: CaseFile,
    referral: Referral,
    deadline: Deadline,
    today: dt.date,
    world: World,
    rules: RuleSettings,
) -> Consequences:
    """Remind the recipient, and set the escalation. A reminder reveals the referral (the
    sender's case administration): only to whom a consent or the law lets see that — the
    referral itself was delivered on that basis."""
    escalate_on = add_working_days(deadline.due_on, rules.referral_escalation_working_days)
    follow_up = [Deadline("referral-escalation", referral.referral_id, escalate_on)]
    sender = facts_at(file, referral.from_institution, today)
    if not may_see(referral.to_institution, sender, CASE_ADMIN, world):
        return Consequences([], follow_up)  # it never reached them; the coordinator hears later
    text = (
        f"Erinnerung: Die Anmeldung von {referral.from_institution} "
        f"({referral.purpose}) ist seit dem {deadline.due_on:%d.%m.%Y} unbeantwortet."
    )
    reminder = alert(
        AlertKind.REFERRAL_REMINDER,
        referral.to_institution,
        Audience.INSTITUTION,
        text,
        due=deadline.due_on,
        about=referral.referral_id,
        institutions=(referral.from_institution,),
    )
    return Consequences([reminder], follow_up)


def _escalate(file: CaseFile, referral: Referral, today: dt.date, world: World) -> Consequences:
    """Tell the case's coordinator (the sender, without an open case), if it may see that."""
    case = file.open_case
    coordinator = case.lead if case is not None else referral.from_institution
    if not may_see(
        coordinator, facts_at(file, referral.from_institution, today), CASE_ADMIN, world
    ):
        return Consequences()
    text = (
        f"Eskalation: Die Anmeldung an {referral.to_institution} ({referral.purpose}) ist "
        f"trotz Erinnerung unbeantwortet (fällig seit {referral.answer_due:%d.%m.%Y})."
    )
    escalation = alert(
        AlertKind.REFERRAL_ESCALATION,
        coordinator,
        Audience.COORDINATOR,
        text,
        due=referral.answer_due,
        about=referral.referral_id,
        institutions=(referral.from_institution, referral.to_institution),
    )
    return Consequences([escalation])


def _plan_for_exhaustion(
    file: CaseFile, deadline: Deadline, today: dt.date, world: World, rules: RuleSettings
) -> Consequences:
    """The planning window of a forecast opened: alert, unless the benefit ended or the
    forecast moved to a later end (its own deadline comes then)."""
    benefit_ended = any(
        e.ref_id == deadline.ref_id and e.ended_on is not None for e in file.engagements
    )
    forecast = file.forecasts.get(str(deadline.ref_id))
    if benefit_ended or forecast is None:
        return Consequences()
    origin, expected_end = forecast[0], dt.date.fromisoformat(forecast[1])
    if expected_end - dt.timedelta(days=rules.exhaustion_window_days) > today:
        return Consequences()
    # After every event so far, revocations included.
    facts = facts_at(file, origin, today, frozenset({BenefitExhaustionExpected.default_category}))
    return Consequences(planning_alerts(file, facts, world, deadline.ref_id, expected_end))
