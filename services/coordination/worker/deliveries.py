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
import hashlib
import re
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

from schemas.alerts import Alert
from schemas.codec import CONTENT_TYPE, JSON_CONTENT_TYPE, KafkaRecord, to_kafka
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
    """UUIDv5 of the event id and the recipient under ``DELIVERY_NAMESPACE``."""
    return fast_delivery_id(str(event_id), recipient)


_DELIVERY_NAMESPACE_BYTES = DELIVERY_NAMESPACE.bytes
_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5 = (5 << 76) | (0x8000 << 48)


def fast_delivery_id(event_id: str, recipient: str) -> uuid.UUID:
    """``delivery_id`` with the event id already as text: the same UUIDv5 (SHA-1 of namespace
    and name, version and variant bits set) without ``uuid5``'s import and checks per call."""
    name = _DELIVERY_NAMESPACE_BYTES + f"{event_id}|{recipient}".encode()
    digest = hashlib.sha1(name, usedforsecurity=False).digest()  # a name, not a secret
    return uuid.UUID(int=int.from_bytes(digest[:16], "big") & _VERSION_MASK | _VERSION_5)


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


# What ``CloudEvent`` checks of the attributes a delivery sets per recipient (``pattern`` and
# ``max_length``; the rest it takes from the event, validated when it was decoded).
_RECIPIENT = re.compile(r"[a-z][a-z0-9-]{1,40}")
_IIZ_CASE = re.compile(r"IIZ-[0-9]{4}-[0-9]{6}")
_SPECVERSION = ("ce_specversion", b"1.0")
_CONTENT_TYPE = (CONTENT_TYPE, JSON_CONTENT_TYPE.encode())


class EventDeliveries:
    """One event's deliveries, the same records as ``delivery`` builds, but what does not depend
    on the recipient is computed once per event: the headers of the event's own attributes, its
    data as JSON, and the minimised value per set of withheld fields (most recipients share one).

    ``stored`` is the event as ``model_dump(mode="json", exclude_none=True)`` (``timeline_row``
    makes it anyway); it is read, never changed. A value the envelope would have to refuse goes
    the reference way (``delivery``), which refuses it the same.
    """

    __slots__ = ("_data", "_event", "_event_id", "_middle", "_pseudonym", "_tail", "_values")

    def __init__(
        self, event: CloudEvent[Any], *, pseudonym: str, stored: dict[str, Any] | None = None
    ) -> None:
        if stored is None:
            stored = event.model_dump(mode="json", exclude_none=True)
        self._event = event
        self._pseudonym = pseudonym
        self._data: dict[str, Any] = stored["data"]
        self._values: dict[frozenset[str], bytes] = {}
        schema = stored.get("dataschema")
        correlation = stored.get("correlationid")
        # The attributes in the envelope's field order (``to_kafka``: ``content-type`` last).
        self._middle = (
            ("ce_source", stored["source"].encode()),
            ("ce_type", stored["type"].encode()),
            ("ce_subject", pseudonym.encode()),
            ("ce_time", stored["time"].encode()),
            *((("ce_dataschema", schema.encode()),) if schema is not None else ()),
            ("ce_datacategory", stored["datacategory"].encode()),
        )
        self._event_id = str(event.id)
        self._tail = (
            *((("ce_correlationid", correlation.encode()),) if correlation is not None else ()),
            ("ce_causationid", self._event_id.encode()),
        )

    def value(self, withheld: frozenset[str]) -> bytes:
        """The data without ``withheld``, as ``minimised`` and ``to_kafka`` write it."""
        found = self._values.get(withheld)
        if found is None:
            data = type(self._event.data).model_validate(without_fields(self._data, withheld))
            found = self._values[withheld] = data.model_dump_json(exclude_none=True).encode()
        return found

    def record(
        self,
        decision: Decision,
        *,
        case_number: str | None,
        recipient_case_ref: str | None,
        lanes: int,
    ) -> OutboxRecord:
        """``delivery(event, decision, …)``, byte for byte."""
        basis = decision.basis
        assert basis is not None, "only allowed decisions are delivered"
        recipient = decision.recipient
        key = delivery_key(recipient, self._pseudonym)
        consentref = ",".join(map(str, basis.consent_ids)) or None
        legalbasis = "; ".join(basis.articles) or None
        if not (
            type(recipient) is str
            and _RECIPIENT.fullmatch(recipient)
            and len(key) <= 200
            and (consentref is None or len(consentref) <= 400)
            and (legalbasis is None or len(legalbasis) <= 200)
            and (
                case_number is None
                or (type(case_number) is str and _IIZ_CASE.fullmatch(case_number))
            )
            and (
                recipient_case_ref is None
                or (type(recipient_case_ref) is str and len(recipient_case_ref) <= 64)
            )
            and self._pseudonym == self._event.subject
        ):
            return delivery(
                self._event,
                decision,
                pseudonym=self._pseudonym,
                case_number=case_number,
                recipient_case_ref=recipient_case_ref,
                lanes=lanes,
            )
        identifier = fast_delivery_id(self._event_id, recipient)
        encoded_key = key.encode()
        headers = [_SPECVERSION, ("ce_id", str(identifier).encode()), *self._middle]
        headers.append(("ce_partitionkey", encoded_key))
        headers.extend(self._tail)
        if legalbasis is not None:
            headers.append(("ce_legalbasis", legalbasis.encode()))
        if consentref is not None:
            headers.append(("ce_consentref", consentref.encode()))
        headers.append(("ce_recipient", recipient.encode()))
        if case_number is not None:
            headers.append(("ce_iizcase", case_number.encode()))
        if recipient_case_ref is not None:
            headers.append(("ce_recipientcaseref", recipient_case_ref.encode()))
        headers.append(_CONTENT_TYPE)
        value = self.value(decision.withheld)
        return OutboxRecord(
            identifier,
            zlib.crc32(encoded_key) % lanes,  # ``lane_of(key, lanes)``
            DELIVERIES,
            KafkaRecord(encoded_key, value, tuple(headers)),
        )


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
