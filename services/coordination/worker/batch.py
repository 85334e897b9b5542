"""One batch of ``iiz.case-events.v1``, computed: decode the records, fold the events into the
persons' files, decide, and gather every effect into one ``BatchEffects``. No I/O, no clock.

1. ``open_sealed`` then ``decode``: a record sealed for its person is opened with the person's
   key (``record_seal``); an erased person's records are skipped (counted, neither poison nor
   processed); a record that is not a valid canonical event is poison;
2. ``fold_batch``: events not yet processed (by id) are applied in offset order to the files
   read under the persons' locks; an event that fails to apply is poison too, and its person's
   file is refolded without it;
3. ``batch_effects``: with the case numbers issued in between (the only value the database
   adds), the timeline, decisions, read models, outbox rows, deadlines, notices, processed
   marks, the persons' files, the audit entries and the dead letters to send.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from schemas.codec import KafkaRecord, from_kafka
from schemas.envelope import CloudEvent
from schemas.errors import ContractError
from services.common.record_seal import (
    Erased,
    RecordSealError,
    UnsealedRecordError,
    open_record,
)
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case
from services.coordination.domain.event_step import Applied, Refused, apply_event
from services.coordination.domain.folding import fold, origin_of
from services.coordination.domain.notices import Notice, notices_of
from services.coordination.domain.policy import Decision, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.worker import batch_audit
from services.coordination.worker.deliveries import (
    EventDeliveries,
    OutboxRecord,
    alert_delivery,
    refusal_delivery,
)
from services.coordination.worker.effects import (
    BatchEffects,
    BatchReport,
    BusRecord,
    Poison,
    Row,
    TimelineRow,
)
from services.coordination.worker.read_models import read_model_rows

log = structlog.get_logger(__name__)
Decoded = tuple[BusRecord, CloudEvent[Any]]


@dataclass(frozen=True)
class BatchContext:
    """What computing a batch needs besides its records and the persons' files."""

    world: World  # registry kinds, legal-basis matrix, grace; consents come from each file
    rules: RuleSettings
    lanes: int
    max_event_bytes: int
    replay: bool = False  # a replay writes no audit rows and sends no dead letters


@dataclass(frozen=True)
class FoldedEvent:
    record: BusRecord
    event: CloudEvent[Any]
    applied: Applied


@dataclass(frozen=True)
class RefusedEvent:
    """An event whose sender may not make the change it asks for: answered, not folded."""

    record: BusRecord
    event: CloudEvent[Any]
    refused: Refused


@dataclass
class FoldedBatch:
    """The batch after folding: what changed, and what could not be taken."""

    decoded: int
    files: dict[str, CaseFile] = field(default_factory=dict)  # changed, in order of change
    sealed_ahv: dict[str, str] = field(default_factory=dict)
    events: list[FoldedEvent] = field(default_factory=list)
    refused: list[RefusedEvent] = field(default_factory=list)
    failed: list[Poison] = field(default_factory=list)  # events that could not be applied
    poison: list[Poison] = field(default_factory=list)  # every poison record of the batch
    new_poison: list[Poison] = field(default_factory=list)  # not dead-lettered before

    def cases(self) -> list[Case]:
        """Every case of the changed files: each needs its issued number."""
        return [c for f in self.files.values() for c in f.cases]


@dataclass(frozen=True)
class Opened:
    """A batch's records readable (legacy cleartext ones as they were; opened ones keep their
    sealed ``wire`` form), the erased persons' records, and records that do not open (poison:
    changed, moved, no key, or in clear for a registry subject)."""

    records: list[BusRecord]
    erased: list[Erased]
    poison: list[Poison]


def open_sealed(records: Sequence[BusRecord], keys: Mapping[str, bytes | None]) -> Opened:
    """Open every sealed record with its person's key (``person_registry.keys_of``)."""
    opened = Opened([], [], [])
    for record in records:
        plain = KafkaRecord(record.key, record.value or b"", record.headers)
        try:
            result = open_record(plain, keys)
        except UnsealedRecordError as error:
            opened.poison.append(Poison(record, "unsealed_registry_subject", str(error)))
            continue
        except RecordSealError as error:
            opened.poison.append(Poison(record, "not_opened", str(error)))
            continue
        if isinstance(result, Erased):
            opened.erased.append(result)
        elif result is plain:
            opened.records.append(record)
        else:  # the wire form goes along: a dead letter carries the record still sealed
            opened.records.append(
                dataclasses.replace(record, value=result.value, headers=result.headers, wire=record)
            )
    return opened


def decode(
    records: Sequence[BusRecord], context: BatchContext
) -> tuple[list[Decoded], list[Poison]]:
    decoded: list[Decoded] = []
    poison: list[Poison] = []
    for record in records:
        try:
            event = from_kafka(
                record.key, record.value, record.headers, max_bytes=context.max_event_bytes
            )
        except ContractError as error:
            poison.append(Poison(record, error.reason.value, error.message))
            continue
        if event.subject is None:
            poison.append(Poison(record, "missing_subject", "a canonical event has a subject"))
        elif event.data.person.ahv_number is not None:
            poison.append(Poison(record, "ahv_in_clear", "an AHV number in clear on the bus"))
        elif origin_of(event) not in context.world.kinds:
            poison.append(Poison(record, "unknown_source", "source is not in the registry"))
        else:
            decoded.append((record, event))
    return decoded, poison


def first_positions(decoded: Sequence[Decoded]) -> dict[str, tuple[int, int]]:
    """Each person of the batch with the partition and offset of its first record."""
    persons: dict[str, tuple[int, int]] = {}
    for record, event in decoded:
        persons.setdefault(str(event.subject), (record.partition, record.offset))
    return persons


def fold_batch(
    decoded: Sequence[Decoded],
    poison: Sequence[Poison],
    files: Mapping[str, CaseFile],
    seen: set[uuid.UUID],
    context: BatchContext,
) -> FoldedBatch:
    """Apply the events not ``seen`` before, in order, to ``files`` (folded in place)."""
    files, seen = dict(files), set(seen)
    batch = FoldedBatch(decoded=len(decoded))
    # If an event fails, its person's file is refolded from the state read at the start of the
    # batch (cheaper than copying every file per event).
    originals = {person: file.model_dump_json() for person, file in files.items()}
    good: dict[str, list[tuple[CloudEvent[Any], int]]] = {}
    for record, event in decoded:
        if event.id in seen:
            continue
        seen.add(event.id)  # a duplicate inside the batch counts once too
        person = str(event.subject)
        try:
            applied = apply_event(files[person], event, record.offset, context.world, context.rules)
        except Exception as error:  # a bug must not stop the person's later events
            log.exception("event could not be applied", event_id=str(event.id))
            batch.failed.append(Poison(record, "processing_failed", type(error).__name__))
            files[person] = refold(originals[person], good.get(person, []), context.rules)
            if person in batch.files:  # what is stored must be the refolded file
                batch.files[person] = files[person]
            continue
        if isinstance(applied, Refused):  # the file is unchanged
            batch.refused.append(RefusedEvent(record, event, applied))
            continue
        good.setdefault(person, []).append((event, record.offset))
        batch.files[person] = files[person]
        if event.data.person.sealed_ahv:
            batch.sealed_ahv[person] = event.data.person.sealed_ahv
        batch.events.append(FoldedEvent(record, event, applied))
    batch.poison = [*poison, *batch.failed]
    batch.new_poison = [p for p in batch.poison if p.record.poison_id not in seen]
    return batch


def refold(
    original: str, events: list[tuple[CloudEvent[Any], int]], rules: RuleSettings
) -> CaseFile:
    """The file as stored (JSON) with ``events`` folded in again."""
    file = CaseFile.model_validate_json(original)
    for event, position in events:
        fold(file, event, position, rules)
    return file


def batch_effects(
    batch: FoldedBatch, numbers: Mapping[uuid.UUID, str], context: BatchContext, *, at: dt.datetime
) -> BatchEffects:
    """Every effect of the folded batch, with the case ``numbers`` issued for its cases."""
    # Each event as JSON once: its timeline row and its deliveries are both made from it.
    stored = [f.event.model_dump(mode="json", exclude_none=True) for f in batch.events]
    timeline = [(timeline_row(f, s), f.event) for f, s in zip(batch.events, stored, strict=True)]
    audit = batch_audit.entries(
        [(f.event, f.applied) for f in batch.events],
        [(r.event, r.refused) for r in batch.refused],
        batch.new_poison,
    )
    return BatchEffects(
        timeline=[row for row, _ in timeline],
        decisions=[decision_row(f.event.id, d) for f in batch.events for d in f.applied.decisions],
        read_models=read_model_rows(batch.files, numbers, timeline),
        outbox=outbox_records(batch, numbers, context.lanes, stored),
        deadlines=[(str(f.event.subject), d) for f in batch.events for d in f.applied.deadlines],
        notices=[n.row() for f in batch.events for n in notices_of_event(f)],
        processed=[
            *((f.event.id, f.record.partition, f.record.offset, "applied") for f in batch.events),
            *((r.event.id, r.record.partition, r.record.offset, "refused") for r in batch.refused),
            *(
                (p.record.poison_id, p.record.partition, p.record.offset, "dead-lettered")
                for p in batch.new_poison
            ),
        ],
        persons=[
            (name, file.model_dump_json(), file.last_position, batch.sealed_ahv.get(name))
            for name, file in batch.files.items()
        ],
        audit=[] if context.replay else audit,  # a replay appends one "rebuilt" row instead
        audited_at=at,
        # A replay's poison was dead-lettered when it first came by.
        dead_letters=[] if context.replay else batch.poison,
        report=BatchReport(
            applied=len(batch.events),
            duplicates=batch.decoded - len(batch.events) - len(batch.refused) - len(batch.failed),
            dead_lettered=len(batch.poison),
            refused=len(batch.refused),
        ),
    )


def notices_of_event(folded: FoldedEvent) -> list[Notice]:
    """The duties to inform the person that the event's deliveries by law carry."""
    event, applied = folded.event, folded.applied
    return notices_of(
        event_id=event.id,
        origin=applied.facts.origin,
        pseudonym=str(event.subject),
        case_key=applied.case_key,
        event_type=event.type,
        time=event.time,
        decisions=applied.decisions,
    )


def timeline_row(folded: FoldedEvent, stored: dict[str, Any] | None = None) -> TimelineRow:
    """``stored``: the event as ``model_dump(mode="json", exclude_none=True)``, if made already
    (read, not changed)."""
    event, record = folded.event, folded.record
    if stored is None:
        stored = event.model_dump(mode="json", exclude_none=True)
    data = stored["data"]
    person = data["person"]
    if "sealed_ahv" in person:  # held once, in persons.sealed_ahv (a copy: ``stored`` is shared)
        person = {name: value for name, value in person.items() if name != "sealed_ahv"}
        stored = {**stored, "data": {**data, "person": person}}
    return TimelineRow(
        event_id=event.id,
        pseudonym=str(event.subject),
        case_key=folded.applied.case_key,
        bus_partition=record.partition,
        bus_offset=record.offset,
        occurred_at=event.time,
        type=event.type,
        origin=folded.applied.facts.origin,
        datacategory=event.datacategory.value,
        event=json.dumps(stored),
    )


def decision_row(event_id: uuid.UUID, d: Decision) -> Row:
    basis = d.basis
    if basis is None:
        return (
            event_id,
            d.recipient,
            d.allowed,
            None,
            [],
            [],
            None,
            batch_audit.category_codes(d.categories),
            sorted(d.withheld),
            batch_audit.denial_text(d),
            False,
        )
    return (
        event_id,
        d.recipient,
        d.allowed,
        str(basis.kind),  # a ``StrEnum``: its value
        list(basis.consent_ids),
        list(basis.articles),
        basis.legal_basis_version,
        batch_audit.category_codes(d.categories),
        sorted(d.withheld),
        batch_audit.denial_text(d),
        bool(basis.inform_person),
    )


def outbox_records(
    batch: FoldedBatch,
    numbers: Mapping[uuid.UUID, str],
    lanes: int,
    stored: Sequence[dict[str, Any] | None] | None = None,
) -> list[OutboxRecord]:
    """Per event in order: its deliveries to other institutions, then its alerts. The
    recipients' own case references are those of the file at the end of the batch. ``stored``:
    the events as JSON (``model_dump(mode="json", exclude_none=True)``), if made already."""
    records: list[OutboxRecord] = []
    dumps = stored if stored is not None else [None] * len(batch.events)
    for folded, dump in zip(batch.events, dumps, strict=True):
        event, applied = folded.event, folded.applied
        person = str(event.subject)
        number = numbers.get(applied.case_key) if applied.case_key else None
        case_refs = batch.files[person].case_refs
        origin = applied.facts.origin
        allowed = [d for d in applied.decisions if d.allowed and d.recipient != origin]
        if allowed:
            own = EventDeliveries(event, pseudonym=person, stored=dump)
            records.extend(
                own.record(
                    decision,
                    case_number=number,
                    recipient_case_ref=case_refs.get(decision.recipient),
                    lanes=lanes,
                )
                for decision in allowed
            )
        records.extend(
            alert_delivery(
                intent,
                pseudonym=person,
                case_number=number,
                recipient_case_ref=case_refs.get(intent.recipient),
                at=event.time,
                lanes=lanes,
            )
            for intent in applied.alerts
        )
    records.extend(
        refusal_delivery(r.event, r.refused, pseudonym=str(r.event.subject), lanes=lanes)
        for r in batch.refused
    )
    return records
