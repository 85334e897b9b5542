"""Notices to the person after an exchange without consent (AVG Art. 35a Abs. 1ter).

Where the legal-basis matrix allows a delivery by an entry with ``inform_person``, the person
must be told afterwards "über den erfolgten Datenaustausch und dessen Inhalt". The notice is
derived from the decision, so ``rebuild`` derives it again: its id is a UUIDv5 of the event and
the recipient only, the same on every replay, and the record that it was sent
(``notice_dispatch``, kept by ``rebuild``) refers to that id. The articles (and their wording)
are data of the notice, not part of its id: when the legal-basis profile is corrected, a
rebuild cites the new articles under the old id, and a notice already sent stays sent. The
disclosing institution (the event's origin, fixed by the event) must send it. Pure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from services.coordination.domain.policy import Decision

NOTICE_NAMESPACE = uuid.UUID("6f1d3c2a-9b4e-4f7a-a2c8-35a1e7e0b1f3")


def notice_id(event_id: uuid.UUID, recipient: str) -> uuid.UUID:
    """The notice's stable id: the same event and recipient give the same id, whatever the
    profile cites (one notice per event and recipient: ``notices_event_id_recipient_key``)."""
    return uuid.uuid5(NOTICE_NAMESPACE, f"{event_id}\n{recipient}")


@dataclass(frozen=True)
class Notice:
    """One duty to inform: ``sender`` disclosed the event's data to ``recipient`` by law."""

    notice_id: uuid.UUID
    event_id: uuid.UUID
    recipient: str
    sender: str
    pseudonym: str
    case_key: uuid.UUID | None
    event_type: str
    categories: tuple[str, ...]
    articles: tuple[str, ...]
    legal_basis_version: str | None
    exchanged_at: dt.datetime

    def row(self) -> tuple[object, ...]:
        """In the columns' order of the store's statement."""
        return (
            self.notice_id,
            self.event_id,
            self.recipient,
            self.sender,
            self.pseudonym,
            self.case_key,
            self.event_type,
            list(self.categories),
            list(self.articles),
            self.legal_basis_version,
            self.exchanged_at,
        )


def notices_of(
    *,
    event_id: uuid.UUID,
    origin: str,
    pseudonym: str,
    case_key: uuid.UUID | None,
    event_type: str,
    time: dt.datetime,
    decisions: Iterable[Decision],
) -> list[Notice]:
    """The notices one event's decisions call for: every allowed delivery to another
    institution whose basis carries a duty to inform (a consent alone never does)."""
    return [
        Notice(
            notice_id=notice_id(event_id, d.recipient),
            event_id=event_id,
            recipient=d.recipient,
            sender=origin,
            pseudonym=pseudonym,
            case_key=case_key,
            event_type=event_type,
            categories=tuple(sorted(c.value for c in d.basis.informed_categories)),
            articles=tuple(sorted(d.basis.articles)),
            legal_basis_version=d.basis.legal_basis_version,
            exchanged_at=time,
        )
        for d in decisions
        if d.allowed and d.basis is not None and d.basis.inform_person and d.recipient != origin
    ]
