"""What intake decides about one submission: accepted as a canonical event, or rejected and why.

Pure: no I/O, no clock. The pipeline around it does the publishing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from schemas.ahv import contains_ahv_number, pseudonymise
from schemas.codec import KafkaRecord, from_kafka
from schemas.envelope import CloudEvent
from schemas.errors import ContractError, InvalidAttributeError, SchemaViolationError
from schemas.origin import check_origin
from schemas.registry.institutions import Institution, InstitutionRegistry
from services.common.identity_seal import IdentitySeal

# Canonical ids are derived, not random, so a resubmission (same source and id) maps to the
# same canonical event and every downstream effect stays idempotent.
CANONICAL_NAMESPACE = uuid.UUID("5b0f3f55-8c1e-4b0a-9d55-1f0e5a8a11a2")


@dataclass(frozen=True)
class Submission:
    """One message as a partner sent it, with the sender its transport vouches for."""

    sender: Institution
    record: KafkaRecord
    channel: str  # "kafka:<topic>/<partition>/<offset>" or "http:<request id>"

    @property
    def original_id(self) -> str | None:
        raw = self.record.header("ce_id")
        return raw.decode("utf-8", errors="replace")[:200] if raw else None


@dataclass(frozen=True)
class Accepted:
    submission: Submission
    event: CloudEvent[Any]


@dataclass(frozen=True)
class Rejected:
    submission: Submission
    error: ContractError


Outcome = Accepted | Rejected


@dataclass(frozen=True)
class Pseudonymiser:
    """Turns the AHV number into the keyed pseudonym and the sealed form coordination can open."""

    key: bytes
    key_id: str
    seal: IdentitySeal


def canonical_id(source: str, original_id: str) -> uuid.UUID:
    return uuid.uuid5(CANONICAL_NAMESPACE, f"{source}\n{original_id}")


def assess(
    submission: Submission,
    *,
    registry: InstitutionRegistry,
    pseudonymiser: Pseudonymiser,
    max_bytes: int,
) -> Outcome:
    """Validate, authenticate the origin and pseudonymise one submission."""
    record = submission.record
    try:
        event = from_kafka(record.key, record.value, record.headers, max_bytes=max_bytes)
        check_origin(event, registry, expected_institution_id=submission.sender.id)
        return Accepted(submission, canonicalise(event, pseudonymiser))
    except ContractError as error:
        return Rejected(submission, error)


# Attributes only the bus sets: a partner sending them is trying to speak for the bus.
BUS_ONLY_ATTRIBUTES = (
    "subject",
    "legalbasis",
    "consentref",
    "recipient",
    "iizcase",
    "recipientcaseref",
)


def canonicalise(event: CloudEvent[Any], pseudonymiser: Pseudonymiser) -> CloudEvent[Any]:
    """The canonical event: AHV number replaced by pseudonym (subject, key) and sealed form."""
    set_by_partner = [name for name in BUS_ONLY_ATTRIBUTES if getattr(event, name) is not None]
    if set_by_partner:
        raise InvalidAttributeError(f"set by the bus only: {', '.join(set_by_partner)}")
    person = event.data.person
    if person.ahv_number is None:
        raise SchemaViolationError("data.person.ahv_number: required when submitting")
    if person.sealed_ahv is not None:
        raise SchemaViolationError("data.person.sealed_ahv: set by intake only")
    without_identity = event.data.model_copy(
        update={"person": person.model_copy(update={"ahv_number": None})}
    )
    if contains_ahv_number(without_identity.model_dump_json()):
        # It would travel in clear on internal topics: only the person block may carry it.
        raise SchemaViolationError("an AHV number may only be sent in data.person.ahv_number")
    pseudonym = pseudonymise(person.ahv_number, pseudonymiser.key, pseudonymiser.key_id)
    sealed = pseudonymiser.seal.seal(person.ahv_number)
    data = without_identity.model_copy(
        update={"person": without_identity.person.model_copy(update={"sealed_ahv": sealed})}
    )
    return event.model_copy(
        update={
            "id": canonical_id(event.source, str(event.id)),
            "subject": pseudonym,
            "partitionkey": pseudonym,
            "data": data,
        }
    )
