"""One step of a person's file: check the sender's authority, fold the event, decide for every
institution it may concern, and what follows from it. Pure: the file changes in place (never for
a refused event); everything else is returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from schemas.envelope import CloudEvent
from schemas.refusals import RefusalReason
from services.coordination.domain.alerts import AlertIntent
from services.coordination.domain.authority import refusal_of
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.consent_notice import with_consent_notices
from services.coordination.domain.consequences import Deadline, follow_event
from services.coordination.domain.folding import fold, origin_of
from services.coordination.domain.policy import Decision, EventFacts, World, decide
from services.coordination.domain.rules import RuleSettings


@dataclass(frozen=True)
class Applied:
    """What follows from one event."""

    case_key: uuid.UUID | None
    facts: EventFacts
    decisions: list[Decision]
    alerts: list[AlertIntent]
    deadlines: list[Deadline]


@dataclass(frozen=True)
class Refused:
    """The event would have let its sender act on its own word; the file is unchanged."""

    origin: str
    reason: RefusalReason


def apply_event(
    file: CaseFile, event: CloudEvent[Any], position: int, world: World, rules: RuleSettings
) -> Applied | Refused:
    """Fold one event (at its bus position) into ``file``; decide who may receive it, and raise
    its alerts and deadlines. ``world`` brings the registry's kinds and the legal-basis matrix;
    the consents are the file's own, as folded. An event its sender may not send is refused."""
    origin = origin_of(event)
    reason = refusal_of(file, event.data, origin)
    if reason is not None:
        return Refused(origin, reason)
    folded = fold(file, event, position, rules)
    # ``replace(world, consents=…)``, without its per-call introspection of the fields.
    world = World(world.kinds, file.consent_records(), world.matrix, world.grace)
    interest = file.interest()
    decisions = with_consent_notices(
        [decide(folded.facts, r, world, interest) for r in file.candidates(folded.facts.origin)],
        event.data,
        folded.facts,
        world,
    )
    follows = follow_event(file, event, folded, world, rules)
    return Applied(folded.case_key, folded.facts, decisions, follows.alerts, follows.deadlines)
