"""The audit entries of a batch: one per decided event (allowed recipients with their basis,
denied ones with their reason), one per alert raised, one per refused event, one per new dead
letter. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from schemas.envelope import CloudEvent
from schemas.vocabulary import DataCategory
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
    allowed: dict[str, str] = {}
    denied: dict[str, str] = {}
    delivered: dict[str, dict[str, Any]] = {}
    for d in applied.decisions:  # one pass; each map in the decisions' order, as before
        if d.allowed:
            allowed[d.recipient] = basis_text(d)
            delivered[d.recipient] = delivered_detail(d)
        else:
            denied[d.recipient] = denial_text(d) or ""
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
        "categories": category_codes(decision.categories),
        "consents": list(map(str, basis.consent_ids)) if basis else [],
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
    return " ".join((str(basis.kind), *map(str, basis.consent_ids), *basis.articles))


def denial_text(decision: Decision) -> str | None:
    """The stored reason of a denial: ``no-basis:benefits,health`` names what is missing."""
    if decision.reason is None:
        return None
    if decision.missing:
        return f"{decision.reason}:{','.join(category_codes(decision.missing))}"
    return str(decision.reason)


def category_codes(categories: Iterable[DataCategory]) -> list[str]:
    """The categories' codes, sorted (a new list each call). ``str`` of a ``StrEnum`` member is
    its value (as a plain ``str``), without the ``value`` property's cost per member. A decision's
    categories are a ``frozenset``: its codes are memoised (there are few distinct sets: at most
    one per subset of the categories)."""
    if type(categories) is frozenset:
        codes = _CODES.get(categories)
        if codes is None:
            codes = tuple(sorted(map(str, categories)))
            if len(_CODES) < 4096:  # bounded, whatever is passed
                _CODES[categories] = codes
        return list(codes)
    return sorted(map(str, categories))


_CODES: dict[frozenset[DataCategory], tuple[str, ...]] = {}
