"""What a delivery looks like to its recipient, and which lane takes it. Pure: no I/O.

A record on ``iiz.deliveries.v1`` is already authorised and minimised by coordination. This module
only changes its form: the AHV number, sealed for the bus, is opened for the partner (it is there
only where ``identity`` was authorised); the key becomes the person pseudonym; for webhooks the
CloudEvent is rendered in structured JSON so that the signature covers every attribute.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from schemas.ahv import SUBJECT_PATTERN
from schemas.alerts import Alert, Audience
from schemas.codec import (
    CE_PREFIX,
    JSON_CONTENT_TYPE,
    KafkaRecord,
    read_binary_headers,
    structured_event,
)
from schemas.errors import NotUtf8Error
from schemas.events.base import INSTITUTION_ID_PATTERN
from schemas.registry.institutions import Institution, InstitutionRegistry, WebhookChannel
from services.common.identity_seal import IdentitySeal

REQUIRED = ("id", "type", "source", "subject", "recipient")
# What an outcome report repeats must be valid there too, so a bad record can still be reported.
ATTRIBUTE_PATTERNS = {
    "subject": re.compile(SUBJECT_PATTERN.strip("^$")),
    "recipient": re.compile(INSTITUTION_ID_PATTERN.strip("^$")),
    "type": re.compile(r"[a-z0-9][a-z0-9.\-]{0,199}"),
}


class Lane(StrEnum):
    """Who in notifications handles a delivery (each lane is its own consumer group)."""

    KAFKA = "kafka"  # the recipient's iiz.deliver.<id>.v1
    WEBHOOK = "webhook"  # signed HTTPS POST
    DIGEST = "digest"  # coordinator alert, into the hourly e-mail digest


class UnroutableError(ValueError):
    """A record notifications cannot deliver; it goes to the dead letters with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    """One record of ``iiz.deliveries.v1``, read just enough to route and reshape it."""

    attributes: dict[str, str]
    content_type: str
    data: dict[str, Any]
    record: KafkaRecord

    @property
    def delivery_id(self) -> uuid.UUID:
        return uuid.UUID(self.attributes["id"])

    @property
    def recipient(self) -> str:
        return self.attributes["recipient"]

    @property
    def subject(self) -> str:
        return self.attributes["subject"]

    @property
    def type(self) -> str:
        return self.attributes["type"]

    @property
    def is_coordinator_alert(self) -> bool:
        return (
            self.type == Alert.cloud_event_type()
            and self.data.get("audience") == Audience.COORDINATOR.value
        )


def read_delivery(record: KafkaRecord) -> Delivery:
    try:
        attributes = read_binary_headers(record.headers)
    except NotUtf8Error as error:
        raise UnroutableError("not-utf8", error.message) from None
    content_type = attributes.pop("datacontenttype", JSON_CONTENT_TYPE)
    missing = [a for a in REQUIRED if not attributes.get(a)]
    if missing:
        raise UnroutableError("missing-attribute", ", ".join(missing))
    for name, pattern in ATTRIBUTE_PATTERNS.items():
        if not pattern.fullmatch(attributes[name]):
            raise UnroutableError("invalid-attribute", name)
    try:
        uuid.UUID(attributes["id"])
        data = json.loads(record.value)
    except ValueError as error:
        raise UnroutableError("malformed", type(error).__name__) from None
    if not isinstance(data, dict):
        raise UnroutableError("malformed", "data is not a JSON object")
    person = data.get("person")
    if isinstance(person, dict) and not isinstance(person.get("sealed_ahv", ""), str):
        raise UnroutableError("malformed", "data.person.sealed_ahv is not a string")
    return Delivery(attributes, content_type, data, record)


@dataclass(frozen=True)
class Route:
    lane: Lane
    institution: Institution

    @property
    def webhook(self) -> WebhookChannel | None:
        channel = self.institution.channel
        return channel if isinstance(channel, WebhookChannel) else None


def route(delivery: Delivery, registry: InstitutionRegistry) -> Route:
    institution = registry.by_id.get(delivery.recipient)
    if institution is None:
        raise UnroutableError("unknown-recipient", delivery.recipient)
    if delivery.is_coordinator_alert and institution.coordinator_email:
        return Route(Lane.DIGEST, institution)
    if isinstance(institution.channel, WebhookChannel):
        return Route(Lane.WEBHOOK, institution)
    return Route(Lane.KAFKA, institution)


def opened_data(delivery: Delivery, seal: IdentitySeal) -> dict[str, Any]:
    """The data as the recipient gets it: the sealed AHV number opened, the seal removed."""
    person = delivery.data.get("person")
    if not isinstance(person, dict) or "sealed_ahv" not in person:
        return delivery.data
    opened = dict(person)
    opened["ahv_number"] = seal.unseal(opened.pop("sealed_ahv")).formatted()
    return {**delivery.data, "person": opened}


_PARTITIONKEY_HEADER = f"{CE_PREFIX}partitionkey"
_RECIPIENT_HEADER = f"{CE_PREFIX}recipient"


def partner_record(delivery: Delivery, seal: IdentitySeal) -> KafkaRecord:
    """The record for ``iiz.deliver.<recipient>.v1``: key and partition key = person pseudonym."""
    key = delivery.subject.encode()
    headers = tuple(
        (name, key if name == _PARTITIONKEY_HEADER else value)
        for name, value in delivery.record.headers
    )
    value = json.dumps(opened_data(delivery, seal), separators=(",", ":"), ensure_ascii=False)
    return KafkaRecord(key=key, value=value.encode(), headers=headers)


def webhook_recipients(registry: InstitutionRegistry) -> frozenset[bytes]:
    """The ids (UTF-8) of the institutions whose deliveries go out as webhooks."""
    return frozenset(
        i.id.encode() for i in registry.institutions if isinstance(i.channel, WebhookChannel)
    )


def may_be_webhook(record: KafkaRecord, webhook_ids: frozenset[bytes]) -> bool:
    """False only if ``route(read_delivery(record))`` cannot be ``Lane.WEBHOOK``, read from the
    headers alone (no JSON): the recipient, as ``read_delivery`` takes it (the last header named
    ``ce_recipient`` in any case), is not a webhook partner. Such a record either routes to
    another lane or is unroutable; either way the webhook lane leaves it to the router."""
    recipient = None
    for name, value in record.headers:
        if name == _RECIPIENT_HEADER or name.lower() == _RECIPIENT_HEADER:
            recipient = value
    return recipient is not None and recipient in webhook_ids


def structured_body(delivery: Delivery, seal: IdentitySeal) -> bytes:
    """The delivery as one CloudEvent in structured JSON mode (the webhook body)."""
    attributes = {
        **delivery.attributes,
        "partitionkey": delivery.subject,
        "datacontenttype": delivery.content_type,
    }
    event = structured_event(attributes, opened_data(delivery, seal))
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
