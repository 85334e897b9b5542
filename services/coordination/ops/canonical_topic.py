"""The canonical topic as reconciliation reads it: its committed records from a point in time,
each with its position and the event id its headers name."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka_clients import create_reader, end_offsets
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import POISON_NAMESPACE

READ_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class CanonicalRecord:
    """A committed record of the canonical topic: where it is and which event it says it is."""

    partition: int
    offset: int
    event_id: uuid.UUID | None  # None: no readable ce_id (coordination dead-letters it)
    type: str | None
    subject: str | None = None  # readable also when the record is sealed for its person

    def poison_id(self, topic: str) -> uuid.UUID:
        """The id coordination marks the record with when it dead-letters it."""
        return uuid.uuid5(POISON_NAMESPACE, f"{topic}/{self.partition}/{self.offset}")


@dataclass(frozen=True)
class CanonicalWindow:
    """The committed records of the canonical topic with a timestamp at or after ``since``."""

    topic: str
    since: dt.datetime
    records: list[CanonicalRecord]
    spans: dict[int, tuple[int, int]]  # partition: [first offset read, end offset)
    ids_in_spans: frozenset[uuid.UUID]  # every event id read in the spans, whatever its time


async def read_canonical(
    settings: CoordinationSettings, since: dt.datetime, *, within: float = READ_TIMEOUT_SECONDS
) -> CanonicalWindow:
    """Read the canonical topic (``read_committed``) from ``since`` to its current end.

    Equivalent to reading from the earliest offset and keeping the records whose timestamp is
    at or after ``since``, only faster: each partition starts at the broker's offset for that
    time (``offsets_for_times``: every record before it is older), and the filter by timestamp
    still applies after it. ``since`` without a time zone is UTC.
    """
    since = since if since.tzinfo is not None else since.replace(tzinfo=dt.UTC)
    since_ms = int(since.timestamp() * 1000)
    topic = settings.coordination_case_events_topic
    ends = await end_offsets(settings, [topic])
    reader = create_reader(settings)
    await reader.start()
    records: list[CanonicalRecord] = []
    ids: set[uuid.UUID] = set()
    try:
        reader.assign(list(ends))
        found = await reader.offsets_for_times(dict.fromkeys(ends, since_ms))
        starts = {tp: ends[tp] if found.get(tp) is None else found[tp].offset for tp in ends}
        for tp, offset in starts.items():
            reader.seek(tp, offset)
        deadline = time.monotonic() + within
        while await _behind(reader, ends):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topic} to its end within {within:.0f} s")
            batch = await reader.getmany(timeout_ms=500, max_records=5000)
            for tp, part in batch.items():
                for r in part:
                    if r.offset >= ends[tp]:
                        continue
                    record = _canonical_record(r.partition, r.offset, r.headers)
                    if record.event_id is not None:
                        ids.add(record.event_id)
                    if r.timestamp >= since_ms:
                        records.append(record)
    finally:
        await reader.stop()
    spans = {tp.partition: (starts[tp], ends[tp]) for tp in ends if starts[tp] < ends[tp]}
    return CanonicalWindow(topic, since, records, spans, frozenset(ids))


async def _behind(reader: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await reader.position(tp) < end:
            return True
    return False


def _canonical_record(
    partition: int, offset: int, headers: Iterable[tuple[str, bytes]]
) -> CanonicalRecord:
    named = dict(headers)
    try:
        event_id: uuid.UUID | None = uuid.UUID(named["ce_id"].decode("ascii"))
    except (KeyError, UnicodeDecodeError, ValueError):
        event_id = None
    kind, subject = named.get("ce_type"), named.get("ce_subject")
    return CanonicalRecord(
        partition,
        offset,
        event_id,
        kind.decode("utf-8", "replace") if kind else None,
        subject.decode("utf-8", "replace") if subject else None,
    )
