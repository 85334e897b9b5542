"""What notifications reports: delivery outcomes (for coordination's audit) and dead letters."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re

from schemas.codec import CONTENT_TYPE, JSON_CONTENT_TYPE, KafkaRecord, to_kafka
from schemas.envelope import CloudEvent
from schemas.outcomes import OUTCOME_NAMESPACE, DeliveryChannel, DeliveryOutcome, OutcomeStatus
from services.notifications.shaping import ATTRIBUTE_PATTERNS, Delivery

NOTIFICATIONS_SOURCE = "/iiz/bl/notifications"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Held here: pydantic caches a parametrised model only weakly (docs/benchmarks.md).
OUTCOME_ENVELOPE = CloudEvent[DeliveryOutcome]

# The attributes every outcome shares, as ``to_kafka`` writes them (tests/unit/notifications
# compare every record ``outcome_record`` writes with ``outcome_event`` + ``to_kafka``).
_SPECVERSION = ("ce_specversion", b"1.0")
_SOURCE = ("ce_source", NOTIFICATIONS_SOURCE.encode())
_TYPE = ("ce_type", DeliveryOutcome.cloud_event_type().encode())
_DATASCHEMA = ("ce_dataschema", DeliveryOutcome.dataschema().encode())
_DATACATEGORY = ("ce_datacategory", DeliveryOutcome.default_category.value.encode())
_CONTENT_TYPE = (CONTENT_TYPE, JSON_CONTENT_TYPE.encode())
_NAMESPACE = OUTCOME_NAMESPACE.bytes
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZERO = dt.timedelta(0)


def printable(text: str) -> str:
    """An error text fit for an outcome or a header: one line, at most 300 characters."""
    return CONTROL_CHARACTERS.sub(" ", text)[:300]


def outcome_event(
    delivery: Delivery,
    channel: DeliveryChannel,
    status: OutcomeStatus,
    *,
    attempt: int,
    at: dt.datetime,
    error: str | None = None,
) -> CloudEvent[DeliveryOutcome]:
    """One outcome as a validated CloudEvent: what ``outcome_record`` writes, the long way."""
    key = str(delivery.delivery_id)
    return OUTCOME_ENVELOPE(
        id=DeliveryOutcome.id_for(delivery.delivery_id, status, attempt),
        source=NOTIFICATIONS_SOURCE,
        type=DeliveryOutcome.cloud_event_type(),
        subject=delivery.subject,
        time=at,
        dataschema=DeliveryOutcome.dataschema(),
        datacategory=DeliveryOutcome.default_category,
        partitionkey=key,
        causationid=key,
        recipient=delivery.recipient,
        data=DeliveryOutcome(
            delivery_id=delivery.delivery_id,
            recipient=delivery.recipient,
            channel=channel,
            status=status,
            attempt=attempt,
            message_type=delivery.type,
            error=printable(error) if error else None,
        ),
    )


def outcome_record(
    delivery: Delivery,
    channel: DeliveryChannel,
    status: OutcomeStatus,
    *,
    attempt: int,
    at: dt.datetime,
    error: str | None = None,
) -> KafkaRecord:
    """One outcome, keyed by delivery id; its id is stable, so a repeat is audited once.

    The same bytes as ``to_kafka(outcome_event(...))``, written directly: the pydantic envelope
    cost ≈ 100 µs per delivery. Whatever the direct way does not check as the envelope would
    (an odd time zone, an attribute the delivery did not have checked, an attempt below 1, text
    that is not UTF-8) takes the long way, so it is refused exactly as before.
    """
    text = printable(error) if error else None
    time = _utc_time(at)
    key = _canonical_id(delivery.attributes.get("id", ""))
    value = None
    if (
        time is not None
        and key is not None
        and type(attempt) is int
        and attempt >= 1
        and _checked_attributes(delivery)
    ):
        error_json = "" if text is None else f',"error":{json.dumps(text, ensure_ascii=False)}'
        with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: the envelope refuses
            value = (
                f'{{"delivery_id":"{key}","recipient":"{delivery.recipient}",'
                f'"channel":"{channel.value}","status":"{status.value}","attempt":{attempt},'
                f'"message_type":"{delivery.type}"{error_json}}}'
            ).encode()
    if value is None or time is None or key is None:
        return to_kafka(
            outcome_event(delivery, channel, status, attempt=attempt, at=at, error=error)
        )
    encoded_key = key.encode()
    headers = (
        _SPECVERSION,
        ("ce_id", outcome_id(key, status, attempt).encode()),
        _SOURCE,
        _TYPE,
        ("ce_subject", delivery.subject.encode()),
        ("ce_time", time.encode()),
        _DATASCHEMA,
        _DATACATEGORY,
        ("ce_partitionkey", encoded_key),
        ("ce_causationid", encoded_key),
        ("ce_recipient", delivery.recipient.encode()),
        _CONTENT_TYPE,
    )
    return KafkaRecord(key=encoded_key, value=value, headers=headers)


def outcome_id(delivery_id: str, status: OutcomeStatus, attempt: int) -> str:
    """``str(DeliveryOutcome.id_for(...))`` for a delivery id in canonical form, without the
    ``uuid.UUID`` objects (the same uuid5: SHA-1 of namespace and name, version and variant)."""
    name = f"{delivery_id}|{status.value}|{attempt}".encode()
    digest = bytearray(hashlib.sha1(_NAMESPACE + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _canonical_id(text: str) -> str | None:
    """The delivery id as ``str(uuid.UUID(text))`` would write it; None if that is not ``text``."""
    return text if _CANONICAL_UUID.fullmatch(text) else None


def _utc_time(at: dt.datetime) -> str | None:
    """``at`` as the envelope writes it (ISO 8601, ``Z``) if it is in UTC; else None."""
    if at.tzinfo is None or at.utcoffset() != _ZERO or type(at) is not dt.datetime:
        return None
    text = at.isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else None


def _checked_attributes(delivery: Delivery) -> bool:
    """The attributes an outcome repeats match what the envelope and the outcome require."""
    attributes = delivery.attributes
    for name, pattern in ATTRIBUTE_PATTERNS.items():
        value = attributes.get(name)
        if value is None or not pattern.fullmatch(value):
            return False
    return True


def dead_letter(
    record: KafkaRecord, reason: str, *, error: str | None, attempts: int
) -> KafkaRecord:
    """The delivery as it was (AHV number still sealed), with why it was given up."""
    extra = [
        ("iiz_reason", reason.encode()),
        ("iiz_attempts", str(attempts).encode()),
    ]
    if error:
        extra.append(("iiz_last_error", printable(error).encode()))
    return KafkaRecord(key=record.key, value=record.value, headers=(*record.headers, *extra))
