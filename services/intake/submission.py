"""What intake decides about one submission: accepted as a canonical event, or rejected and why.

Pure: no I/O, no clock. The pipeline around it resolves the persons (``check`` names their AHV
numbers, the person registry gives each a subject and key) and does the publishing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from schemas.ahv import AhvNumber, contains_ahv_number
from schemas.codec import KafkaRecord, from_kafka
from schemas.envelope import CloudEvent
from schemas.errors import ContractError, InvalidAttributeError, SchemaViolationError
from schemas.origin import check_origin
from schemas.registry.institutions import Institution, InstitutionRegistry
from services.common.identity_seal import IdentitySeal
from services.common.person_registry import PersonKey

# Canonical ids are derived, not random, so a resubmission (same source and id) maps to the
# same canonical event and every downstream effect stays idempotent.
CANONICAL_NAMESPACE = uuid.UUID("5b0f3f55-8c1e-4b0a-9d55-1f0e5a8a11a2")


@dataclass(frozen=True)
class Submission:
    """One message as a partner sent it, with the sender its transport vouches for."""

    sender: Institution
    record: KafkaRecord
    channel: str  # "kafka:<topic>/<partition>/<offset>" or "http:<request id>"

    @cached_property
    def original_id(self) -> str | None:
        """The sender's own id (``ce_id``), read once: receipt, dead letter and ledger use it."""
        raw = self.record.header("ce_id")
        return raw.decode("utf-8", errors="replace")[:200] if raw else None


@dataclass(frozen=True)
class Checked:
    """A valid submission from its sender, not yet canonical: the person is still to resolve."""

    submission: Submission
    event: CloudEvent[Any]
    ahv: AhvNumber


@dataclass(frozen=True)
class Accepted:
    submission: Submission
    event: CloudEvent[Any]
    person: PersonKey  # whose key seals the canonical record


@dataclass(frozen=True)
class Rejected:
    submission: Submission
    error: ContractError


Outcome = Accepted | Rejected


def canonical_id(source: str, original_id: str) -> uuid.UUID:
    return uuid.uuid5(CANONICAL_NAMESPACE, f"{source}\n{original_id}")


def check(
    submission: Submission, *, registry: InstitutionRegistry, max_bytes: int
) -> Checked | Rejected:
    """Validate, authenticate the origin and find the AHV number (the one place it may be)."""
    record = submission.record
    try:
        event = from_kafka(record.key, record.value, record.headers, max_bytes=max_bytes)
        check_origin(event, registry, expected_institution_id=submission.sender.id)
        return Checked(submission, event, identity_of(event))
    except ContractError as error:
        return Rejected(submission, error)


def assess(
    checked: Checked | Rejected, *, persons: Mapping[str, PersonKey], seal: IdentitySeal
) -> Outcome:
    """The outcome, with the person (resolved by AHV digits) as the canonical event's subject."""
    if isinstance(checked, Rejected):
        return checked
    person = persons[checked.ahv.digits]
    return Accepted(checked.submission, canonicalise(checked.event, person.subject, seal), person)


# Attributes only the bus sets: a partner sending them is trying to speak for the bus.
BUS_ONLY_ATTRIBUTES = (
    "subject",
    "legalbasis",
    "consentref",
    "recipient",
    "iizcase",
    "recipientcaseref",
)


def identity_of(event: CloudEvent[Any]) -> AhvNumber:
    """The AHV number of a submitted event, checked to be the only place it occurs."""
    set_by_partner = [name for name in BUS_ONLY_ATTRIBUTES if getattr(event, name) is not None]
    if set_by_partner:
        raise InvalidAttributeError(f"set by the bus only: {', '.join(set_by_partner)}")
    person = event.data.person
    if person.ahv_number is None:
        raise SchemaViolationError("data.person.ahv_number: required when submitting")
    if person.sealed_ahv is not None:
        raise SchemaViolationError("data.person.sealed_ahv: set by intake only")
    # Everything but the person's own number, without copying the model to blank it out.
    if contains_ahv_number(event.data.model_dump_json(exclude={"person": {"ahv_number"}})):
        # It would travel in clear on internal topics: only the person block may carry it.
        raise SchemaViolationError("an AHV number may only be sent in data.person.ahv_number")
    ahv: AhvNumber = person.ahv_number
    return ahv


def canonicalise(event: CloudEvent[Any], subject: str, seal: IdentitySeal) -> CloudEvent[Any]:
    """The canonical event: the AHV number replaced by the person's subject (subject, key) and
    its sealed form. ``event`` has passed ``identity_of``.

    Every attribute that stays readable on the sealed canonical record is the bus's own: id
    (derived), subject and partition key (the registry's), ``dataschema`` (the schema of the
    event type: a partner's value is free text and would stay readable on the log for ever),
    type (catalogue), source (checked), time (a timestamp)."""
    person = event.data.person
    sealed = seal.seal(person.ahv_number)
    data = event.data.model_copy(
        update={"person": person.model_copy(update={"ahv_number": None, "sealed_ahv": sealed})}
    )
    return event.model_copy(
        update={
            "id": canonical_id(event.source, str(event.id)),
            "subject": subject,
            "partitionkey": subject,
            "dataschema": type(event.data).dataschema(),
            "data": data,
        }
    )
