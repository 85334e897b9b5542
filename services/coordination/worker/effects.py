"""Everything one batch of case events changes, as one value: computed by ``batch.py`` without
I/O, written by ``store.write_batch`` in one transaction (the audit chain included)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from services.common.consumer_edge import ConsumedRecord
from services.coordination.audit import AuditEntry
from services.coordination.domain.consequences import Deadline
from services.coordination.worker.deliveries import OutboxRecord

POISON_NAMESPACE = uuid.UUID("2b8e6f0a-7c41-4d9b-8e3f-5a6c7d8e9f10")

Row = tuple[Any, ...]  # a row of a table, in the column order of the store's statement


@dataclass(frozen=True, slots=True)
class BusRecord(ConsumedRecord):
    """A record of the case-event log, as the consumer edge hands it over. Once opened
    (``batch.open_sealed``), ``wire`` keeps the record as the log holds it (sealed for its
    person): dead letters carry that form, so erasing the person's key erases them too."""

    wire: ConsumedRecord | None = field(default=None, repr=False, compare=False)

    @property
    def on_log(self) -> ConsumedRecord:
        """The record as the log holds it (sealed records before they were opened)."""
        return self if self.wire is None else self.wire

    @property
    def poison_id(self) -> uuid.UUID:
        """The id that marks the record as dead-lettered (derived from its position)."""
        return uuid.uuid5(POISON_NAMESPACE, f"{self.topic}/{self.partition}/{self.offset}")


@dataclass(frozen=True)
class Poison:
    """A record coordination cannot take, with the reason its dead letter names."""

    record: BusRecord
    reason: str
    message: str


class TimelineRow(NamedTuple):
    """One row of ``timeline``, in its columns' order (written with COPY)."""

    event_id: uuid.UUID
    pseudonym: str
    case_key: uuid.UUID | None
    bus_partition: int
    bus_offset: int
    occurred_at: dt.datetime
    type: str
    origin: str
    datacategory: str
    event: str  # the event as JSON, without the sealed AHV number


@dataclass(frozen=True)
class BatchReport:
    applied: int
    duplicates: int
    dead_lettered: int
    refused: int = 0  # taken, but refused: the sender may not make the change it asks for
    erased: int = 0  # sealed for a person who was erased: skipped, never readable again


@dataclass(frozen=True)
class ReadModels:
    """The persons' cases, participants, engagements and referrals (replaced as a whole per
    person) and their consents and revocations (appended)."""

    persons: list[str]
    cases: list[Row]
    participants: list[Row]
    engagements: list[Row]
    referrals: list[Row]
    consents: list[Row]
    revocations: list[Row]


@dataclass(frozen=True)
class BatchEffects:
    """What a batch writes (rows in the order written) and what it sends after the commit."""

    timeline: list[TimelineRow]
    decisions: list[Row]
    read_models: ReadModels
    outbox: list[OutboxRecord]
    deadlines: list[tuple[str, Deadline]]  # (person, deadline)
    notices: list[Row]
    processed: list[Row]  # event id, partition, offset, outcome
    persons: list[Row]  # pseudonym, state, offset, sealed AHV
    audit: list[AuditEntry]
    audited_at: dt.datetime  # the audit entries' time
    dead_letters: list[Poison]  # to (re)send after the commit
    report: BatchReport
