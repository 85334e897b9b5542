"""Alerts: what coordination must say, to whom (not through which channel), and who may hear it.

- ``benefit.exhaustion.expected`` within the window → the social services and the
  Assessmentcenter that a consent (or the law) authorises for the event: plan parallel support
  now (``planning_alerts``).
- An engagement that begins after every other institution's ended, with a gap over N days →
  a note to the coordinator: the person walked the sequential path (``handoff_alerts``).
- Reminders and escalations of unanswered referrals are raised by ``consequences.on_deadline``.

Pure: every input is passed in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from schemas.alerts import AlertKind, Audience
from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Engagement
from services.coordination.domain.policy import EventFacts, World, authorised_categories
from services.coordination.domain.rules import RuleSettings

ALERT_NAMESPACE = uuid.UUID("6c2f1d9e-54a8-4b7e-a0d3-2f9b8e1c7a55")
PLANNING_KINDS = (InstitutionKind.SOCIAL_SERVICES, InstitutionKind.ASSESSMENTCENTER)
CASE_ADMIN = frozenset({DataCategory.CASE_ADMIN})


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
        coordinator, facts_at(file, previous.institution, started.started_on), CASE_ADMIN, world
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


def facts_at(
    file: CaseFile,
    origin: str,
    day: dt.date,
    categories: frozenset[DataCategory] = CASE_ADMIN,
) -> EventFacts:
    """Facts of ``origin`` judged after every event of the file so far, on ``day``."""
    return EventFacts(
        position=file.last_position + 1,
        origin=origin,
        time=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        categories=categories,
    )
