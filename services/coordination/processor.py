"""One batch of ``iiz.case-events.v1``: fold, decide, and store every effect in one transaction.

Ack policy (the consumer commits the batch's offsets only after ``process`` returns):
1. decode every record; one that is not a valid canonical event is poison;
2. one PostgreSQL transaction: lock the batch's persons, skip events already processed (by id),
   fold the rest into the person files in offset order, store timeline, decisions, read models,
   outbox rows, deadlines, notices, the processed-event marks and the audit rows;
3. after the commit, (re)send the dead letter of every poison record in the batch — also of
   those a crashed earlier attempt recorded — so a dead letter is never lost between commit and
   offset; a resent one carries the same id.
A crash anywhere before the offset commit redoes the batch: the processed marks make the redo
change nothing, and derived delivery ids keep the outbox at one row per delivery.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from schemas.codec import from_kafka
from schemas.envelope import CloudEvent
from schemas.errors import ContractError
from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import COORDINATION_REJECTED
from services.common.consumer_edge import ConsumedRecord
from services.common.identity_seal import IdentitySeal
from services.common.logging import redact_ahv_numbers
from services.coordination import audit, store
from services.coordination.deliveries import OutboxRecord, alert_delivery, delivery
from services.coordination.domain.alerts import AlertIntent
from services.coordination.domain.case_file import Applied, CaseFile, RuleSettings, origin_of
from services.coordination.domain.policy import Decision, LegalBasisMatrix, World

log = structlog.get_logger(__name__)
POISON_NAMESPACE = uuid.UUID("2b8e6f0a-7c41-4d9b-8e3f-5a6c7d8e9f10")


@dataclass(frozen=True, slots=True)
class BusRecord(ConsumedRecord):
    """A record of the case-event log, as the consumer edge hands it over."""

    @property
    def poison_id(self) -> uuid.UUID:
        return uuid.uuid5(POISON_NAMESPACE, f"{self.topic}/{self.partition}/{self.offset}")


@dataclass(frozen=True)
class Poison:
    record: BusRecord
    reason: str
    message: str


@dataclass(frozen=True)
class BatchReport:
    applied: int
    duplicates: int
    dead_lettered: int


@dataclass(frozen=True)
class Collaborators:
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    registry: InstitutionRegistry
    matrix: LegalBasisMatrix
    rules: RuleSettings
    seal: IdentitySeal
    lanes: int
    max_event_bytes: int


class BatchProcessor:
    def __init__(self, parts: Collaborators, *, replay: bool = False) -> None:
        self._parts = parts
        self._replay = replay
        self._world = World(
            kinds={i.id: i.kind for i in parts.registry.institutions},
            consents=(),
            matrix=parts.matrix,
            grace=parts.rules.grace,
        )

    async def process(self, records: Sequence[BusRecord]) -> BatchReport:
        decoded, poison = self._decode(records)
        return await self._commit(decoded, poison)

    async def reject(self, record: BusRecord, reason: str, message: str) -> BatchReport:
        """Dead-letter a record that failed on its own (found by the consumer edge)."""
        return await self._commit([], [Poison(record, reason, message)])

    async def _commit(
        self, decoded: list[tuple[BusRecord, CloudEvent[Any]]], poison: list[Poison]
    ) -> BatchReport:
        persons: dict[str, tuple[int, int]] = {}
        for record, event in decoded:
            persons.setdefault(str(event.subject), (record.partition, record.offset))
        ids = [e.id for _, e in decoded] + [p.record.poison_id for p in poison]
        async with self._parts.pool.acquire() as conn, conn.transaction():
            files = await store.lock_files(conn, persons) if persons else {}
            seen = await store.already_processed(conn, ids)
            effects, folded, failed = self._fold(decoded, files, seen)
            poison.extend(failed)
            new_poison = [p for p in poison if p.record.poison_id not in seen]
            for p in new_poison:
                effects.processed.append(
                    (p.record.poison_id, p.record.partition, p.record.offset, "dead-lettered")
                )
            numbers = await store.case_numbers(
                conn, [c for f in effects.files.values() for c in f.cases]
            )
            effects.outbox.extend(self._outbox(folded, effects.files, numbers))
            await store.write(conn, effects, numbers)
            if not self._replay:
                await audit.append(
                    conn,
                    [_decided(event, applied) for event, applied, _ in folded]
                    + [_alerted(event, a) for event, applied, _ in folded for a in applied.alerts]
                    + [_dead_lettered(p) for p in new_poison],
                    at=dt.datetime.now(dt.UTC),
                )
        if not self._replay:  # a replay's poison was dead-lettered when it first came by
            await self._send_dead_letters(poison)
        return BatchReport(
            applied=len(folded),
            duplicates=len(decoded) - len(folded) - len(failed),
            dead_lettered=len(poison),
        )

    def _decode(
        self, records: Sequence[BusRecord]
    ) -> tuple[list[tuple[BusRecord, CloudEvent[Any]]], list[Poison]]:
        decoded, poison = [], []
        for record in records:
            try:
                event = from_kafka(
                    record.key,
                    record.value,
                    record.headers,
                    max_bytes=self._parts.max_event_bytes,
                )
            except ContractError as error:
                poison.append(Poison(record, error.reason.value, error.message))
                continue
            if event.subject is None:
                poison.append(Poison(record, "missing_subject", "a canonical event has a subject"))
            elif event.data.person.ahv_number is not None:
                poison.append(Poison(record, "ahv_in_clear", "an AHV number in clear on the bus"))
            elif origin_of(event) not in self._world.kinds:
                poison.append(Poison(record, "unknown_source", "source is not in the registry"))
            else:
                decoded.append((record, event))
        return decoded, poison

    def _fold(
        self,
        decoded: list[tuple[BusRecord, CloudEvent[Any]]],
        files: dict[str, CaseFile],
        seen: set[uuid.UUID],
    ) -> tuple[store.BatchEffects, list[tuple[CloudEvent[Any], Applied, BusRecord]], list[Poison]]:
        effects = store.BatchEffects()
        folded: list[tuple[CloudEvent[Any], Applied, BusRecord]] = []
        failed: list[Poison] = []
        # Files are folded in place; if an event fails, its person's file is refolded from the
        # state read at the start of the batch (cheaper than copying every file per event).
        originals = {person: file.model_dump_json() for person, file in files.items()}
        good: dict[str, list[tuple[CloudEvent[Any], int]]] = {}
        for record, event in decoded:
            if event.id in seen:
                continue
            seen.add(event.id)  # a duplicate inside the batch counts once too
            person = str(event.subject)
            try:
                applied = files[person].apply(event, record.offset, self._world, self._parts.rules)
            except Exception as error:  # a bug must not stop the person's later events
                log.exception("event could not be applied", event_id=str(event.id))
                failed.append(Poison(record, "processing_failed", type(error).__name__))
                files[person] = self._refold(originals[person], good.get(person, []))
                if person in effects.files:  # what is stored must be the refolded file
                    effects.files[person] = files[person]
                continue
            good.setdefault(person, []).append((event, record.offset))
            effects.files[person] = files[person]
            if event.data.person.sealed_ahv:
                effects.sealed_ahv[person] = event.data.person.sealed_ahv
            effects.timeline.append(_timeline_row(record, event, applied))
            effects.decisions.extend((event.id, d) for d in applied.decisions)
            effects.notices.extend(
                (event.id, d.recipient, person, d.basis.articles, event.time)
                for d in applied.decisions
                if d.allowed and d.basis is not None and d.basis.inform_person
            )
            effects.deadlines.extend((person, d) for d in applied.deadlines)
            effects.processed.append((event.id, record.partition, record.offset, "applied"))
            folded.append((event, applied, record))
        return effects, folded, failed

    def _refold(self, original: str, events: list[tuple[CloudEvent[Any], int]]) -> CaseFile:
        file = CaseFile.model_validate_json(original)
        for event, position in events:
            file.apply(event, position, self._world, self._parts.rules)
        return file

    def _outbox(
        self,
        folded: list[tuple[CloudEvent[Any], Applied, BusRecord]],
        files: dict[str, CaseFile],
        numbers: dict[uuid.UUID, str],
    ) -> list[OutboxRecord]:
        records = []
        for event, applied, _ in folded:
            person = str(event.subject)
            number = numbers.get(applied.case_key) if applied.case_key else None
            case_refs = files[person].case_refs
            for decision in applied.decisions:
                if decision.allowed and decision.recipient != applied.facts.origin:
                    records.append(
                        delivery(
                            event,
                            decision,
                            pseudonym=person,
                            case_number=number,
                            recipient_case_ref=case_refs.get(decision.recipient),
                            lanes=self._parts.lanes,
                        )
                    )
            records.extend(
                alert_delivery(
                    intent,
                    pseudonym=person,
                    case_number=number,
                    recipient_case_ref=case_refs.get(intent.recipient),
                    at=event.time,
                    lanes=self._parts.lanes,
                )
                for intent in applied.alerts
            )
        return records

    async def _send_dead_letters(self, poison: Sequence[Poison]) -> None:
        if not poison:
            return
        futures = [
            await self._parts.producer.send(
                COORDINATION_REJECTED,
                key=str(p.record.poison_id).encode(),
                value=self._parts.seal.seal_bytes(_original(p.record)),
                headers=[
                    ("iiz_reason", p.reason.encode()),
                    ("iiz_message", redact_ahv_numbers(p.message).encode()),
                    ("iiz_topic", p.record.topic.encode()),
                    ("iiz_partition", str(p.record.partition).encode()),
                    ("iiz_offset", str(p.record.offset).encode()),
                    ("iiz_dead_letter_id", str(p.record.poison_id).encode()),
                    ("iiz_sealed", self._parts.seal.key_id.encode()),
                ],
            )
            for p in poison
        ]
        for future in futures:
            await future
        log.warning("dead-lettered case events", count=len(poison))


def _timeline_row(record: BusRecord, event: CloudEvent[Any], applied: Applied) -> store.TimelineRow:
    stored = event.model_dump(mode="json", exclude_none=True)
    stored["data"]["person"].pop("sealed_ahv", None)  # held once, in persons.sealed_ahv
    return store.TimelineRow(
        event_id=event.id,
        pseudonym=str(event.subject),
        case_key=applied.case_key,
        partition=record.partition,
        offset=record.offset,
        occurred_at=event.time,
        type=event.type,
        origin=applied.facts.origin,
        datacategory=event.datacategory.value,
        event_json=json.dumps(stored),
    )


def _basis_text(decision: Decision) -> str:
    basis = decision.basis
    if basis is None:
        return ""
    parts = [basis.kind.value, *(str(c) for c in basis.consent_ids), *basis.articles]
    return " ".join(parts)


def _decided(event: CloudEvent[Any], applied: Applied) -> audit.AuditEntry:
    allowed = {d.recipient: _basis_text(d) for d in applied.decisions if d.allowed}
    denied = {d.recipient: store.denial_text(d) or "" for d in applied.decisions if not d.allowed}
    return audit.AuditEntry(
        actor="coordination",
        action="decided",
        subject=str(event.subject),
        object=str(event.id),
        purpose="routing",
        basis="; ".join(f"{r}: {b}" for r, b in allowed.items()),
        detail={"type": event.type, "allowed": allowed, "denied": denied},
    )


def _alerted(event: CloudEvent[Any], intent: AlertIntent) -> audit.AuditEntry:
    return audit.AuditEntry(
        actor="coordination",
        action="alerted",
        subject=str(event.subject),
        object=str(intent.alert_id),
        purpose="alert",
        detail={
            "kind": intent.kind.value,
            "recipient": intent.recipient,
            "audience": intent.audience.value,
            "cause": str(event.id),
        },
    )


def _dead_lettered(poison: Poison) -> audit.AuditEntry:
    r = poison.record
    return audit.AuditEntry(
        actor="coordination",
        action="dead-lettered",
        object=f"{r.topic}/{r.partition}/{r.offset}",
        purpose="routing",
        detail={"reason": poison.reason},
    )


def _original(record: BusRecord) -> bytes:
    def b64(raw: bytes | None) -> str | None:
        return None if raw is None else base64.b64encode(raw).decode("ascii")

    return json.dumps(
        {
            "key": b64(record.key),
            "value": b64(record.value),
            "headers": [[name, b64(value)] for name, value in record.headers],
        }
    ).encode()
