"""One step of a person's file: fold an event, decide for every institution it may concern, and
what follows from it. Pure: the file changes in place; everything else is returned."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from schemas.envelope import CloudEvent
from services.coordination.domain.alerts import AlertIntent
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.consequences import Deadline, follow_event
from services.coordination.domain.folding import fold
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


def apply_event(
    file: CaseFile, event: CloudEvent[Any], position: int, world: World, rules: RuleSettings
) -> Applied:
    """Fold one event (at its bus position) into ``file``; decide who may receive it, and raise
    its alerts and deadlines. ``world`` brings the registry's kinds and the legal-basis matrix;
    the consents are the file's own, as folded."""
    folded = fold(file, event, position, rules)
    world = replace(world, consents=file.consent_records())
    interest = file.interest()
    decisions = [
        decide(folded.facts, r, world, interest) for r in file.candidates(folded.facts.origin)
    ]
    follows = follow_event(file, event, folded, world, rules)
    return Applied(folded.case_key, folded.facts, decisions, follows.alerts, follows.deadlines)
