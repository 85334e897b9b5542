"""Every institution a consent names is told of it when another institution recorded it, so it
can confirm it (or object). The consent itself is the basis for telling it; its AHV number
travels only where the policy authorises ``identity``. Pure."""

from __future__ import annotations

from schemas.events import ConsentGranted
from schemas.vocabulary import DataCategory
from services.coordination.domain.policy import (
    Basis,
    BasisKind,
    Decision,
    EventFacts,
    World,
    authorised_categories,
)


def with_consent_notices(
    decisions: list[Decision], data: object, facts: EventFacts, world: World
) -> list[Decision]:
    """``decisions``, with every named institution that would not be told of the consent told."""
    if not isinstance(data, ConsentGranted):
        return decisions
    named = set(data.institutions) - {facts.origin}
    return [
        told_of_consent(data, facts, d.recipient, world)
        if d.recipient in named and not d.allowed
        else d
        for d in decisions
    ]


def told_of_consent(
    data: ConsentGranted, facts: EventFacts, recipient: str, world: World
) -> Decision:
    """The named ``recipient`` learns of the consent: its case-admin content on the consent's
    own basis, fields of other categories only where the policy covers them."""
    grounds = authorised_categories(facts, recipient, world)
    withheld = frozenset(p for p, c in facts.marked_fields.items() if c not in grounds)
    shown = {DataCategory.CASE_ADMIN} | {
        c for p, c in facts.marked_fields.items() if p not in withheld
    }
    return Decision(
        recipient=recipient,
        allowed=True,
        basis=Basis(BasisKind.CONSENT, consent_ids=(data.consent_id,)),
        categories=frozenset(shown),
        withheld=withheld,
    )
