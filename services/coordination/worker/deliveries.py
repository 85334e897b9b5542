"""Turns decisions and alerts into the records the outbox relay publishes to ``iiz.deliveries.v1``.

A delivery is the original event, minimised for its recipient, with its basis as data
(``consentref`` / ``legalbasis``) and the recipient's terms (``iizcase``, ``recipientcaseref``).
Its id is derived from event and recipient, so a redone batch or a rebuild yields the same id and
the outbox (unique ``delivery_id``) keeps one row. The AHV number travels only sealed, and only
where ``identity`` is authorised; notifications opens it for the partner's own topic.

A refusal goes back to the sender of a refused event and repeats only what the sender itself
sent (the event's id and type, its own case reference) with the reason: no case number, no
other institution, no person data.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from schemas.alerts import Alert
from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import CloudEvent
from schemas.refusals import REFUSAL_TEXTS, Refusal
from schemas.topics import DELIVERIES
from services.coordination.domain.alerts import AlertIntent
from services.coordination.domain.event_step import Refused
from services.coordination.domain.fields import without_fields
from services.coordination.domain.policy import Decision

DELIVERY_NAMESPACE = uuid.UUID("a4b0f3c2-8d51-4e0a-9c6e-1f2d3b4a5c6d")
COORDINATION_SOURCE = "/iiz/bl/coordination"


@dataclass(frozen=True)
class OutboxRecord:
    delivery_id: uuid.UUID
    lane: int
    topic: str
    record: KafkaRecord


_ENVELOPES: dict[type[Any], Any] = {}


def envelope_for(data_class: type[Any]) -> Any:
    """``CloudEvent[data_class]``, built once per type (pydantic's own cache is weak)."""
    if data_class not in _ENVELOPES:
        _ENVELOPES[data_class] = CloudEvent[data_class]  # type: ignore[valid-type]
    return _ENVELOPES[data_class]


def delivery_id(event_id: uuid.UUID, recipient: str) -> uuid.UUID:
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{event_id}|{recipient}")


def delivery_key(recipient: str, pseudonym: str) -> str:
    return f"{recipient}/{pseudonym}"


def lane_of(key: str, lanes: int) -> int:
    """Stable across processes (unlike ``hash``): one key always takes the same lane."""
    return zlib.crc32(key.encode("utf-8")) % lanes


def minimised(event: CloudEvent[Any], withheld: frozenset[str]) -> Any:
    """The event's data without the withheld fields (all optional, so still schema-valid)."""
    data = event.data.model_dump(mode="json", exclude_none=True)
    return type(event.data).model_validate(without_fields(data, withheld))


def delivery(
    event: CloudEvent[Any],
    decision: Decision,
    *,
    pseudonym: str,
    case_number: str | None,
    recipient_case_ref: str | None,
    lanes: int,
) -> OutboxRecord:
    basis = decision.basis
    assert basis is not None, "only allowed decisions are delivered"
    key = delivery_key(decision.recipient, pseudonym)
    identifier = delivery_id(event.id, decision.recipient)
    message = envelope_for(type(event.data))(
        id=identifier,
        source=event.source,
        type=event.type,
        subject=pseudonym,
        time=event.time,
        dataschema=event.dataschema,
        datacategory=event.datacategory,
        partitionkey=key,
        correlationid=event.correlationid,
        causationid=str(event.id),
        consentref=",".join(str(c) for c in basis.consent_ids) or None,
        legalbasis="; ".join(basis.articles) or None,
        recipient=decision.recipient,
        iizcase=case_number,
        recipientcaseref=recipient_case_ref,
        data=minimised(event, decision.withheld),
    )
    return OutboxRecord(identifier, lane_of(key, lanes), DELIVERIES, to_kafka(message))


def alert_delivery(
    intent: AlertIntent,
    *,
    pseudonym: str,
    case_number: str | None,
    recipient_case_ref: str | None,
    at: dt.datetime,
    lanes: int,
) -> OutboxRecord:
    key = delivery_key(intent.recipient, pseudonym)
    message = envelope_for(Alert)(
        id=intent.alert_id,
        source=COORDINATION_SOURCE,
        type=Alert.cloud_event_type(),
        subject=pseudonym,
        time=at,
        dataschema=Alert.dataschema(),
        datacategory=Alert.default_category,
        partitionkey=key,
        causationid=str(intent.about) if intent.about else None,
        recipient=intent.recipient,
        iizcase=case_number,
        recipientcaseref=recipient_case_ref,
        data=Alert(
            alert_id=intent.alert_id,
            kind=intent.kind,
            audience=intent.audience,
            message=intent.message,
            due=intent.due,
            about=intent.about,
            institutions=list(intent.institutions),
            recipient_institution=intent.recipient,
        ),
    )
    return OutboxRecord(intent.alert_id, lane_of(key, lanes), DELIVERIES, to_kafka(message))


def refusal_delivery(
    event: CloudEvent[Any], refused: Refused, *, pseudonym: str, lanes: int
) -> OutboxRecord:
    """The refusal for the sender's own topic. The subject (the pseudonym intake derived from the
    AHV number the sender sent) routes it; it says nothing about a case."""
    key = delivery_key(refused.origin, pseudonym)
    identifier = Refusal.id_for(event.id)
    case_ref = event.data.person.case_ref
    message = envelope_for(Refusal)(
        id=identifier,
        source=COORDINATION_SOURCE,
        type=Refusal.cloud_event_type(),
        subject=pseudonym,
        time=event.time,
        dataschema=Refusal.dataschema(),
        datacategory=Refusal.default_category,
        partitionkey=key,
        correlationid=event.correlationid,
        causationid=str(event.id),
        recipient=refused.origin,
        recipientcaseref=case_ref,
        data=Refusal(
            refused_id=event.id,
            refused_type=event.type,
            reason=refused.reason,
            message=REFUSAL_TEXTS[refused.reason],
            case_ref=case_ref,
        ),
    )
    return OutboxRecord(identifier, lane_of(key, lanes), DELIVERIES, to_kafka(message))
