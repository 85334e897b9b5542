"""Alerts and deadlines: what coordination must say, to whom and when (not through which channel).

- ``benefit.exhaustion.expected`` within the window → the social services and the
  Assessmentcenter that a consent (or the law) authorises for the event: plan parallel support
  now. A forecast further out becomes a deadline that fires when the window opens.
- A referral without an answer by its due date (or N working days) → a reminder to the
  recipient; still none M working days later → escalation to the case's coordinator.
- An engagement that begins after every other institution's ended, with a gap over N days →
  a note to the coordinator: the person walked the sequential path.

Pure: the scheduler passes "today" in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.alerts import AlertKind, Audience
from schemas.envelope import CloudEvent
from schemas.events import BenefitExhaustionExpected, ReferralRequested
from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.policy import (
    EventFacts,
    World,
    authorised_categories,
    business_date,
)

if TYPE_CHECKING:
    from services.coordination.domain.case_file import Applied, CaseFile, Engagement, RuleSettings

ALERT_NAMESPACE = uuid.UUID("6c2f1d9e-54a8-4b7e-a0d3-2f9b8e1c7a55")
PLANNING_KINDS = (InstitutionKind.SOCIAL_SERVICES, InstitutionKind.ASSESSMENTCENTER)


@dataclass(frozen=True)
class AlertIntent:
    """An alert to raise: its id is derived, so raising it twice is raising it once."""

    alert_id: uuid.UUID
    kind: AlertKind
    recipient: str
    audience: Audience
    message: str
    due: dt.date | None
    about: uuid.UUID | None
    institutions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deadline:
    """A time-based check to run on ``due_on``; the key makes scheduling idempotent."""

    kind: str  # "referral-reminder" | "referral-escalation" | "exhaustion-planning"
    ref_id: uuid.UUID
    due_on: dt.date

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref_id}:{self.due_on.isoformat()}"


def add_working_days(start: dt.date, days: int) -> dt.date:
    """Monday to Friday; public holidays are not modelled (documented in docs/architecture.md)."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def alert(
    kind: AlertKind,
    recipient: str,
    audience: Audience,
    message: str,
    *,
    due: dt.date | None = None,
    about: uuid.UUID | None = None,
    institutions: tuple[str, ...] = (),
) -> AlertIntent:
    return AlertIntent(
        alert_id=uuid.uuid5(ALERT_NAMESPACE, f"{kind}|{about}|{recipient}|{audience}|{due}"),
        kind=kind,
        recipient=recipient,
        audience=audience,
        message=message,
        due=due,
        about=about,
        institutions=institutions,
    )


def follow_event(
    file: CaseFile,
    event: CloudEvent[Any],
    facts: EventFacts,
    world: World,
    rules: RuleSettings,
    started: Engagement | None,
    applied: Applied,
) -> None:
    """Add the alerts and deadlines that follow from one event to ``applied``."""
    data = event.data
    today = business_date(event.time)
    if isinstance(data, BenefitExhaustionExpected):
        window_opens = data.expected_end - dt.timedelta(days=rules.exhaustion_window_days)
        if window_opens <= today:
            applied.alerts.extend(
                planning_alerts(file, facts, world, data.benefit_id, data.expected_end)
            )
        else:
            applied.deadlines.append(Deadline("exhaustion-planning", data.benefit_id, window_opens))
    if isinstance(data, ReferralRequested):
        referral = file.referral(data.referral_id)
        if referral is not None:
            due = data.answer_due or add_working_days(today, rules.referral_answer_working_days)
            referral.answer_due = due
            applied.deadlines.append(Deadline("referral-reminder", data.referral_id, due))
    if started is not None:
        applied.alerts.extend(handoff_alerts(file, started, facts, world, rules))


def planning_alerts(
    file: CaseFile,
    facts: EventFacts,
    world: World,
    benefit_id: uuid.UUID,
    expected_end: dt.date,
) -> list[AlertIntent]:
    """Social services and the Assessmentcenter authorised for the forecast itself.

    Only institutions the person's file names (involved, invited or named in a consent): the
    law alone would otherwise make it a broadcast to every social service of the canton.
    """
    audience = [
        institution
        for institution in file.candidates(facts.origin)
        if world.kinds.get(institution) in PLANNING_KINDS
        and institution != facts.origin
        and facts.categories <= authorised_categories(facts, institution, world).keys()
    ]
    text = (
        f"Voraussichtliche Aussteuerung am {expected_end:%d.%m.%Y}: "
        "bitte jetzt die parallele Unterstützung planen."
    )
    return [
        alert(
            AlertKind.PARALLEL_PLANNING,
            institution,
            Audience.INSTITUTION,
            text,
            due=expected_end,
            about=benefit_id,
            institutions=(facts.origin,),
        )
        for institution in audience
    ]


def handoff_alerts(
    file: CaseFile, started: Engagement, facts: EventFacts, world: World, rules: RuleSettings
) -> list[AlertIntent]:
    """A sequential hand-off: nobody else engaged when this began, and a gap over N days."""
    case = file.open_case
    if case is None:
        return []
    others = [e for e in file.engagements if e.institution != started.institution]
    if any(e.active_on(started.started_on) for e in others):
        return []
    ended = [e for e in others if e.ended_on is not None and e.ended_on < started.started_on]
    if not ended:
        return []
    previous = max(ended, key=lambda e: e.ended_on or dt.date.min)
    assert previous.ended_on is not None
    gap = (started.started_on - previous.ended_on).days
    if gap <= rules.handoff_gap_days:
        return []
    coordinator = case.lead
    # The note reveals the new engagement (the event's categories) and when the previous
    # institution's ended (case administration): the coordinator must be allowed both.
    if not may_see(coordinator, facts, facts.categories, world) or not may_see(
        coordinator,
        _at(file, previous.institution, started.started_on),
        frozenset({DataCategory.CASE_ADMIN}),
        world,
    ):
        return []
    text = (
        f"Sequenzieller Übergang: {started.institution} beginnt am "
        f"{started.started_on:%d.%m.%Y}, {gap} Tage nach dem Ende bei {previous.institution}. "
        "Parallele Begleitung prüfen."
    )
    return [
        alert(
            AlertKind.SEQUENTIAL_HANDOFF,
            coordinator,
            Audience.COORDINATOR,
            text,
            due=started.started_on,
            about=started.ref_id,
            institutions=(previous.institution, started.institution),
        )
    ]


def may_see(
    recipient: str, facts: EventFacts, categories: frozenset[DataCategory], world: World
) -> bool:
    """Whether an alert about the origin's facts of these categories may go to the recipient."""
    if recipient == facts.origin:
        return True
    return categories <= authorised_categories(facts, recipient, world).keys()


def _at(file: CaseFile, origin: str, day: dt.date) -> EventFacts:
    """Facts of ``origin`` judged after every event of the file so far, on ``day``."""
    return EventFacts(
        position=file.last_position + 1,
        origin=origin,
        time=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        categories=frozenset({DataCategory.CASE_ADMIN}),
    )


def on_deadline(
    file: CaseFile, deadline: Deadline, today: dt.date, world: World, rules: RuleSettings
) -> tuple[list[AlertIntent], list[Deadline]]:
    """What a due deadline leads to, judged on the file as it is now."""
    if deadline.kind in ("referral-reminder", "referral-escalation"):
        return _referral_deadline(file, deadline, today, world, rules)
    if deadline.kind == "exhaustion-planning":
        benefit_ended = any(
            e.ref_id == deadline.ref_id and e.ended_on is not None for e in file.engagements
        )
        forecast = _latest_forecast(file, deadline.ref_id)
        if benefit_ended or forecast is None:
            return [], []
        origin, expected_end = forecast
        if expected_end - dt.timedelta(days=rules.exhaustion_window_days) > today:
            return [], []  # the forecast was revised to a later end; its own deadline will come
        facts = EventFacts(
            position=file.last_position + 1,  # after every event so far, revocations included
            origin=origin,
            time=dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC),
            categories=frozenset({BenefitExhaustionExpected.default_category}),
        )
        return planning_alerts(file, facts, world, deadline.ref_id, expected_end), []
    return [], []


def _latest_forecast(file: CaseFile, benefit_id: uuid.UUID) -> tuple[str, dt.date] | None:
    forecast = file.forecasts.get(str(benefit_id))
    return (forecast[0], dt.date.fromisoformat(forecast[1])) if forecast else None


def _referral_deadline(
    file: CaseFile, deadline: Deadline, today: dt.date, world: World, rules: RuleSettings
) -> tuple[list[AlertIntent], list[Deadline]]:
    from services.coordination.domain.case_file import ReferralStatus

    referral = file.referral(deadline.ref_id)
    if referral is None or referral.status != ReferralStatus.OPEN:
        return [], []
    # A reminder or escalation reveals the referral (the sender's case administration): only to
    # whom a consent or the law lets see that — the referral itself was delivered on that basis.
    sender = _at(file, referral.from_institution, today)
    admin = frozenset({DataCategory.CASE_ADMIN})
    if deadline.kind == "referral-reminder":
        escalate_on = add_working_days(deadline.due_on, rules.referral_escalation_working_days)
        follow_up = [Deadline("referral-escalation", referral.referral_id, escalate_on)]
        if not may_see(referral.to_institution, sender, admin, world):
            return [], follow_up  # it never reached them; the coordinator hears of it later
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
        return [reminder], follow_up
    case = file.open_case
    coordinator = case.lead if case is not None else referral.from_institution
    if not may_see(coordinator, sender, admin, world):
        return [], []
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
    return [escalation], []
