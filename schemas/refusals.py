"""Refusals: coordination does not take an accepted event that would let its sender take part in
a case, or rely on a consent, on its own word. The sender is told on its delivery topic."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from schemas.events.base import MessageData
from schemas.vocabulary import DataCategory


class RefusalReason(StrEnum):
    """Why coordination refused an event. Stable: partners program against these strings."""

    # case.participant.joined, referral.requested (or case.opened while a case is open) from an
    # institution that does not take part in the case; the role lead given, a role changed,
    # another institution removed (case.participant.left) or the case closed by one that does
    # not lead it.
    PARTICIPATION_NOT_AUTHORISED = "participation_not_authorised"
    # consent.granted from an institution the consent does not name.
    CONSENT_RECORDER_NOT_NAMED = "consent_recorder_not_named"
    # consent.granted from a named institution that does not take part in the case.
    CONSENT_RECORDER_NOT_TAKING_PART = "consent_recorder_not_taking_part"
    # consent.revoked or consent.confirmed from an institution the consent does not name (a
    # consent unknown to the bus is treated the same way, so the code reveals nothing).
    CONSENT_NOT_NAMING_SENDER = "consent_not_naming_sender"
    # consent.granted with the id of a consent already recorded (a consent is recorded once).
    CONSENT_ALREADY_RECORDED = "consent_already_recorded"


REFUSAL_TEXTS: dict[RefusalReason, str] = {
    RefusalReason.PARTICIPATION_NOT_AUTHORISED: (
        "Nicht übernommen: Eine Institution nimmt nur an einem Fall teil, wenn sie ihn eröffnet "
        "hat, von der Fallführung oder einer beteiligten Institution aufgenommen wurde oder eine "
        "Anmeldung an sie angenommen hat. Nur beteiligte Institutionen melden an; nur die "
        "Fallführung vergibt die Fallführung, ändert Rollen, entfernt andere Institutionen und "
        "schliesst den Fall ab."
    ),
    RefusalReason.CONSENT_RECORDER_NOT_NAMED: (
        "Nicht übernommen: Eine Einwilligung erfasst nur eine Institution, die darin genannt ist."
    ),
    RefusalReason.CONSENT_RECORDER_NOT_TAKING_PART: (
        "Nicht übernommen: Eine Einwilligung erfasst nur eine am Fall beteiligte Institution."
    ),
    RefusalReason.CONSENT_NOT_NAMING_SENDER: (
        "Nicht übernommen: Widerrufen oder bestätigen kann eine Einwilligung nur eine "
        "Institution, die darin genannt ist."
    ),
    RefusalReason.CONSENT_ALREADY_RECORDED: (
        "Nicht übernommen: Eine Einwilligung mit dieser consent_id ist bereits erfasst. Jede "
        "Einwilligung wird einmal erfasst; eine neue erhält eine neue consent_id."
    ),
}


class Refusal(MessageData):
    name: ClassVar[str] = "refusal"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = (
        "Coordination refused an accepted event of yours; the case is unchanged (Zurückweisung). "
        "Since 1.4.0."
    )

    # Only what the sender itself sent, plus the reason: nothing about the person or the case.
    refused_id: uuid.UUID = Field(
        description="Id of the refused event on the bus (`canonical_id` of its receipt)."
    )
    refused_type: str = Field(
        max_length=200, pattern=r"^[a-z0-9][a-z0-9.\-]*$", description="ce_type of the event."
    )
    reason: RefusalReason = Field(description="Stable reason code (docs/contract.md).")
    message: str = Field(max_length=1000, description="German text for the reader; no data.")
    case_ref: str = Field(
        min_length=1, max_length=64, description="Your own case reference, as you sent it."
    )

    @classmethod
    def id_for(cls, refused_id: uuid.UUID) -> uuid.UUID:
        """Stable: a redone batch or a redelivered event yields the same refusal id."""
        return uuid.uuid5(REFUSAL_NAMESPACE, str(refused_id))


REFUSAL_NAMESPACE = uuid.UUID("0e6f5d2a-41c3-4b8e-9a7d-3c2b1f0e9d84")
