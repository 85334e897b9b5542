"""Poison for every topic a service consumes, of every kind a partner, an older intake or a
broken producer could leave there, each record recognisable by where its answer must appear.

- **intake topics** (partners): U+0000 in a data string, a non-UTF-8 header, not JSON, missing
  attributes, an AHV number in clear outside ``data.person``, oversized, a tombstone. Answer:
  a rejection receipt on the sender's delivery topic and a dead letter on
  ``iiz.intake.rejected.v1``, both naming the record's ``kafka:<topic>/<partition>/<offset>``.
- **iiz.case-events.v1** (what an older intake might have left): U+0000, not JSON, no subject,
  a tombstone, an AHV number in clear, a non-UTF-8 header. Answer: a dead letter on
  ``iiz.coordination.rejected.v1`` naming the record's topic, partition and offset.
- **iiz.deliveries.v1** (malformed deliveries): not JSON, no recipient, an unknown recipient, a
  non-UTF-8 header, a tombstone, a sealed AHV number that is not text. Answer: a dead letter on
  ``iiz.notifications.dead-letters.v1`` with the record's key.
- **iiz.delivery-outcomes.v1** (unreadable outcomes): not JSON, another type, a non-UTF-8
  header, a tombstone, missing fields, U+0000 in the error text. Answer: a dead letter on
  ``iiz.coordination.rejected.v1`` with the record's key.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

from schemas.codec import CE_PREFIX, CONTENT_TYPE, JSON_CONTENT_TYPE, KafkaRecord, to_kafka
from schemas.envelope import new_event
from schemas.events import NoteAdded, PersonRef
from schemas.outcomes import DeliveryOutcome
from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import CASE_EVENTS, DELIVERIES, DELIVERY_OUTCOMES
from simulator import wire
from simulator.script import Step
from tests.case_story import CaseStory
from tests.factories import valid_ahv

INTAKE_KINDS = (
    "nul",
    "non-utf8-header",
    "not-json",
    "missing-attributes",
    "ahv-in-clear",
    "oversized",
    "tombstone",
)
CANONICAL_KINDS = (
    "nul",
    "not-json",
    "missing-subject",
    "tombstone",
    "ahv-in-clear",
    "non-utf8-header",
)
DELIVERY_KINDS = (
    "not-json",
    "missing-recipient",
    "unknown-recipient",
    "non-utf8-header",
    "tombstone",
    "bad-sealed-ahv",
)
OUTCOME_KINDS = ("not-json", "wrong-type", "non-utf8-header", "tombstone", "missing-fields", "nul")
OVERSIZED_BYTES = 80 * 1024  # above intake's 64 KiB limit


@dataclass(frozen=True)
class Poison:
    """One poison record as built; where it landed is known once it was produced."""

    target: str  # "intake", "case-events", "deliveries", "outcomes"
    kind: str
    topic: str
    record: KafkaRecord | None  # None: a tombstone (key only, value None)
    key: bytes | None
    origin: str | None = None  # intake: the sending institution


@dataclass
class PoisonSent:
    poison: Poison
    partition: int
    offset: int

    @property
    def where(self) -> str:
        return f"{self.poison.topic}/{self.partition}/{self.offset}"


class PoisonFactory:
    """Deterministic from the seed: the n-th poison of a target has the n-th kind (rotating)."""

    def __init__(self, registry: InstitutionRegistry, seed: int, run_tag: str) -> None:
        self._registry = registry
        self._rng = random.Random(seed)
        self._tag = run_tag
        self._count: dict[str, int] = {}
        self._person_seed = 900_000 + seed % 1000
        self._story = CaseStory(person_seed=self._person_seed)
        self._senders = sorted(i.id for i in registry.institutions)

    def _next(self, target: str, kinds: tuple[str, ...]) -> tuple[int, str]:
        n = self._count.get(target, 0)
        self._count[target] = n + 1
        return n, kinds[n % len(kinds)]

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)

    # ----- the partners' intake topics ------------------------------------------------------

    def intake(self) -> Poison:
        n, kind = self._next("intake", INTAKE_KINDS)
        origin = self._rng.choice(self._senders)
        institution = self._registry.by_id[origin]
        ahv = valid_ahv(800_000 + n)
        event = new_event(
            NoteAdded(
                person=PersonRef.model_validate({"ahv_number": ahv, "case_ref": f"FLT-{n:05d}"}),
                note_id=self._uuid(),
                text="Rückruf vereinbart",
            ),
            source=institution.source,
            time=dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=n),
            event_id=self._uuid(),
        )
        record = wire.kafka_record(Step(0, origin, "kafka", event))
        body: dict[str, Any] = json.loads(record.value)
        headers = list(record.headers)
        value: bytes | None = record.value
        if kind == "nul":
            body["text"] = "Rückruf\u0000vereinbart"
            value = json.dumps(body).encode()
        elif kind == "non-utf8-header":
            headers = [
                (k, institution.source.encode() + b"\xe4" if k == f"{CE_PREFIX}source" else v)
                for k, v in headers
            ]
        elif kind == "not-json":
            value = b'{"person": {"ahv_number": '
        elif kind == "missing-attributes":
            headers = [(k, v) for k, v in headers if k not in (f"{CE_PREFIX}type", "ce_time")]
        elif kind == "ahv-in-clear":
            body["text"] = f"Versichertennummer {valid_ahv(810_000 + n)} bitte prüfen"
            value = json.dumps(body, ensure_ascii=False).encode()
        elif kind == "oversized":
            body["text"] = "x" * OVERSIZED_BYTES
            value = json.dumps(body).encode()
        elif kind == "tombstone":
            value = None
        return Poison(
            "intake",
            kind,
            institution.intake_topic,
            None if value is None else KafkaRecord(record.key, value, tuple(headers)),
            record.key,
            origin,
        )

    # ----- iiz.case-events.v1 ---------------------------------------------------------------

    def canonical(self) -> Poison:
        n, kind = self._next("case-events", CANONICAL_KINDS)
        story = self._story
        rav = self._registry.by_id["rav"]
        person: dict[str, Any] = {"case_ref": f"RAV-FLT-{n:05d}", "sealed_ahv": story.sealed_ahv}
        if kind == "ahv-in-clear":
            person = {"case_ref": f"RAV-FLT-{n:05d}", "ahv_number": valid_ahv(self._person_seed)}
        event = new_event(
            NoteAdded(
                person=PersonRef.model_validate(person),
                note_id=self._uuid(),
                text="Älterer Eintrag",
            ),
            source=rav.source,
            time=dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=n),
            event_id=self._uuid(),
            subject=None if kind == "missing-subject" else story.pseudonym,
            partitionkey=story.pseudonym,
        )
        record = to_kafka(event)
        key = story.pseudonym.encode()
        value: bytes | None = record.value
        headers = list(record.headers)
        if kind == "nul":
            body = json.loads(record.value)
            body["text"] = "Älterer\u0000Eintrag"
            value = json.dumps(body).encode()
        elif kind == "not-json":
            value = b"\x00\x01 not json"
        elif kind == "tombstone":
            return Poison("case-events", kind, CASE_EVENTS, None, key)
        elif kind == "non-utf8-header":
            headers = [(k, b"/iiz/bl/r\xe4v" if k == "ce_source" else v) for k, v in headers]
        assert value is not None
        return Poison(
            "case-events", kind, CASE_EVENTS, KafkaRecord(key, value, tuple(headers)), key
        )

    # ----- iiz.deliveries.v1 ----------------------------------------------------------------

    def delivery(self) -> Poison:
        n, kind = self._next("deliveries", DELIVERY_KINDS)
        key = f"faults-{self._tag}-delivery-poison-{n}".encode()
        attributes = {
            "specversion": "1.0",
            "id": str(self._uuid()),
            "source": "/iiz/bl/coordination",
            "type": NoteAdded.cloud_event_type(),
            "subject": self._story.pseudonym,
            "recipient": "rav",
            "time": "2026-10-01T09:00:00+00:00",
        }
        body: dict[str, Any] = {"note_id": str(self._uuid()), "text": "Zustellung"}
        value = json.dumps(body).encode()
        if kind == "not-json":
            value = b"{ this is not json"
        elif kind == "missing-recipient":
            del attributes["recipient"]
        elif kind == "unknown-recipient":
            attributes["recipient"] = "nirgendwo"
        elif kind == "tombstone":
            return Poison("deliveries", kind, DELIVERIES, None, key)
        elif kind == "bad-sealed-ahv":
            body["person"] = {"case_ref": "RAV-1", "sealed_ahv": 42}
            value = json.dumps(body).encode()
        headers = [(f"{CE_PREFIX}{k}", v.encode()) for k, v in attributes.items()]
        if kind == "non-utf8-header":
            headers.append((f"{CE_PREFIX}correlationid", b"\xff\xfe\xfd"))
        headers.append((CONTENT_TYPE, JSON_CONTENT_TYPE.encode()))
        return Poison("deliveries", kind, DELIVERIES, KafkaRecord(key, value, tuple(headers)), key)

    # ----- iiz.delivery-outcomes.v1 ---------------------------------------------------------

    def outcome(self) -> Poison:
        n, kind = self._next("outcomes", OUTCOME_KINDS)
        key = f"faults-{self._tag}-outcome-poison-{n}".encode()
        attributes = {
            "specversion": "1.0",
            "id": str(self._uuid()),
            "source": "/iiz/bl/notifications",
            "type": DeliveryOutcome.cloud_event_type(),
            "time": "2026-10-01T09:00:00+00:00",
        }
        body: dict[str, Any] = {
            "delivery_id": str(self._uuid()),
            "recipient": "rav",
            "channel": "kafka",
            "status": "delivered",
            "attempt": 1,
            "message_type": NoteAdded.cloud_event_type(),
        }
        if kind == "tombstone":
            return Poison("outcomes", kind, DELIVERY_OUTCOMES, None, key)
        if kind == "wrong-type":
            attributes["type"] = "ch.bl.iiz.something.else.v1"
        elif kind == "missing-fields":
            body = {"delivery_id": body["delivery_id"]}
        elif kind == "nul":
            body["status"] = "failed"
            body["error"] = "timeout\u0000"
        value = b"<outcome/>" if kind == "not-json" else json.dumps(body).encode()
        headers = [(f"{CE_PREFIX}{k}", v.encode()) for k, v in attributes.items()]
        if kind == "non-utf8-header":
            headers = [
                (k, b"/iiz/bl/notific\xe4tions" if k == "ce_source" else v) for k, v in headers
            ]
        return Poison(
            "outcomes", kind, DELIVERY_OUTCOMES, KafkaRecord(key, value, tuple(headers)), key
        )
