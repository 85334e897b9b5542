"""What notifications reports: delivery outcomes (for coordination's audit) and dead letters."""

from __future__ import annotations

import datetime as dt
import re

from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import CloudEvent
from schemas.outcomes import DeliveryChannel, DeliveryOutcome, OutcomeStatus
from services.notifications.shaping import Delivery

NOTIFICATIONS_SOURCE = "/iiz/bl/notifications"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Held here: pydantic caches a parametrised model only weakly (docs/benchmarks.md).
OUTCOME_ENVELOPE = CloudEvent[DeliveryOutcome]


def printable(text: str) -> str:
    """An error text fit for an outcome or a header: one line, at most 300 characters."""
    return CONTROL_CHARACTERS.sub(" ", text)[:300]


def outcome_record(
    delivery: Delivery,
    channel: DeliveryChannel,
    status: OutcomeStatus,
    *,
    attempt: int,
    at: dt.datetime,
    error: str | None = None,
) -> KafkaRecord:
    """One outcome, keyed by delivery id; its id is stable, so a repeat is audited once."""
    key = str(delivery.delivery_id)
    event = OUTCOME_ENVELOPE(
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
    return to_kafka(event)


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
