"""The audit entries of a batch: one per decided event (allowed recipients with their basis,
denied ones with their reason), one per alert raised, one per refused event, one per new dead
letter. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.envelope import CloudEvent
from services.coordination.audit import AuditEntry
from services.coordination.domain.alerts import AlertIntent
from services.coordination.domain.event_step import Applied, Refused
from services.coordination.domain.policy import Decision
from services.coordination.worker.effects import Poison


def entries(
    events: Sequence[tuple[CloudEvent[Any], Applied]],
    refusals: Sequence[tuple[CloudEvent[Any], Refused]],
    new_poison: Sequence[Poison],
) -> list[AuditEntry]:
    """Decisions first, then alerts, then refusals, then dead letters (the order of the chain)."""
    return (
        [decided(event, applied) for event, applied in events]
        + [alerted(event, a) for event, applied in events for a in applied.alerts]
        + [refused(event, r) for event, r in refusals]
        + [dead_lettered(p) for p in new_poison]
    )


def refused(event: CloudEvent[Any], refusal: Refused) -> AuditEntry:
    return AuditEntry(
        actor="coordination",
        action="refused",
        subject=str(event.subject),
        object=str(event.id),
        purpose="authority",
        detail={"type": event.type, "origin": refusal.origin, "reason": refusal.reason.value},
    )


def decided(event: CloudEvent[Any], applied: Applied) -> AuditEntry:
    """``allowed`` (recipient: basis text) and ``denied`` as ever; ``delivered`` (since issue 17)
    names per allowed recipient the categories it received, the consents and the articles, so the
    access report need not parse the basis text."""
    allowed = {d.recipient: basis_text(d) for d in applied.decisions if d.allowed}
    denied = {d.recipient: denial_text(d) or "" for d in applied.decisions if not d.allowed}
    delivered = {d.recipient: delivered_detail(d) for d in applied.decisions if d.allowed}
    return AuditEntry(
        actor="coordination",
        action="decided",
        subject=str(event.subject),
        object=str(event.id),
        purpose="routing",
        basis="; ".join(f"{r}: {b}" for r, b in allowed.items()),
        detail={"type": event.type, "allowed": allowed, "denied": denied, "delivered": delivered},
    )


def delivered_detail(decision: Decision) -> dict[str, Any]:
    """What an allowed recipient received, and why: category codes, consent ids, articles."""
    basis = decision.basis
    return {
        "categories": sorted(c.value for c in decision.categories),
        "consents": [str(c) for c in basis.consent_ids] if basis else [],
        "articles": list(basis.articles) if basis else [],
    }


def alerted(event: CloudEvent[Any], intent: AlertIntent) -> AuditEntry:
    return AuditEntry(
        actor="coordination",
        action="alerted",
        subject=str(event.subject),
        object=str(intent.alert_id),
        purpose="alert",
        detail={
            "kind": intent.kind.value,
            "recipient": intent.recipient,
            "audience": intent.audience.value,
            "cause": str(event.id),
        },
    )


def dead_lettered(poison: Poison) -> AuditEntry:
    r = poison.record
    return AuditEntry(
        actor="coordination",
        action="dead-lettered",
        object=f"{r.topic}/{r.partition}/{r.offset}",
        purpose="routing",
        detail={"reason": poison.reason},
    )


def basis_text(decision: Decision) -> str:
    basis = decision.basis
    if basis is None:
        return ""
    parts = [basis.kind.value, *(str(c) for c in basis.consent_ids), *basis.articles]
    return " ".join(parts)


def denial_text(decision: Decision) -> str | None:
    """The stored reason of a denial: ``no-basis:benefits,health`` names what is missing."""
    if decision.reason is None:
        return None
    if decision.missing:
        return f"{decision.reason.value}:{','.join(sorted(c.value for c in decision.missing))}"
    return decision.reason.value
