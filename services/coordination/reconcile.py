"""Reconciliation: proves for a set of accepted events that nothing was lost (ARCHITECTURE §8).

"Accepted" comes from a source a crash cannot lose: the canonical topic itself
(``reconcile_since``: its committed records from a point in time), or the receipts a run was
given (``reconcile``: their canonical ids). Intake's ledger is only a secondary check: intake
writes it after its Kafka commit, so a crash in between leaves an accepted event without a row.

- every accepted event is in the timeline, or coordination dead-lettered it (with its reason on
  ``iiz.coordination.rejected.v1``);
- every timeline entry in the window is an event on the topic (an entry whose event is not there
  was folded from an aborted transaction or from somewhere else);
- every event intake accepted has its ledger row (coordination's own notes have none);
- every allowed decision for another institution has exactly its delivery in the outbox, and no
  delivery of these events exists without such a decision;
- every such delivery was published and has a final outcome from notifications (delivered or
  dead-lettered).

Each line of the report is a count pair that must be equal; ``differences`` sums the gaps, and
for each kind of difference the report names up to ``MAX_EXAMPLES`` ids (event, delivery or
topic position ids: never personal data).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.alerts import Alert
from schemas.events import NoteAdded
from services.common.database import checked_schema
from services.common.kafka_clients import create_reader, end_offsets
from services.coordination.deliveries import delivery_id
from services.coordination.processor import POISON_NAMESPACE
from services.coordination.settings import CoordinationSettings

FINAL = ("delivered", "dead-lettered")
MAX_EXAMPLES = 10
READ_TIMEOUT_SECONDS = 600.0
# Published by coordination's notes API straight to the canonical topic: never in the ledger.
COORDINATION_TYPES = frozenset({NoteAdded.cloud_event_type()})

MISSING_FROM_TIMELINE = "missing from the timeline"
NOT_ON_TOPIC = "on the timeline, not on the topic"
LEDGER_MISSING = "ledger missing"
DELIVERY_MISSING = "delivery missing"
WITHOUT_DECISION = "delivery without a decision"
NOT_PUBLISHED = "delivery not published"
NO_OUTCOME = "delivery without a final outcome"
ALERT_NO_OUTCOME = "alert without a final outcome"

# Outbox headers are stored as a JSON list of [name, value] pairs.
DELIVERIES_OF_EVENTS = """
SELECT delivery_id, published_at IS NOT NULL AS published FROM outbox o
WHERE delivery_id = ANY($1) OR EXISTS (
    SELECT 1 FROM jsonb_array_elements(o.headers) h
    WHERE h->>0 = 'ce_causationid' AND h->>1 = ANY($2::text[]))
"""
ALERTS_TO_PERSONS = """
SELECT o.delivery_id, EXISTS (
    SELECT 1 FROM delivery_outcomes d
    WHERE d.delivery_id = o.delivery_id AND d.status = ANY($3::text[])) AS settled
FROM outbox o
WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(o.headers) h
              WHERE h->>0 = 'ce_type' AND h->>1 = $2)
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(o.headers) h
              WHERE h->>0 = 'ce_subject' AND h->>1 IN (
                  SELECT pseudonym FROM timeline WHERE event_id = ANY($1)))
"""
# Timeline entries folded from the read positions whose event is not among those read there.
TIMELINE_NOT_ON_TOPIC = """
SELECT t.event_id FROM timeline t
JOIN unnest($1::int[], $2::bigint[], $3::bigint[]) AS span(bus_partition, first, stop)
  ON t.bus_partition = span.bus_partition
 AND t.bus_offset >= span.first AND t.bus_offset < span.stop
WHERE NOT (t.event_id = ANY($4::uuid[]))
"""


@dataclass(frozen=True)
class Reconciliation:
    accepted: int
    in_timeline: int
    authorised: int
    in_outbox: int
    unauthorised_in_outbox: int
    published: int
    settled: int
    delivered: int
    dead_lettered: int
    alerts: int = 0
    alerts_settled: int = 0
    refused: int = 0  # dead-lettered by coordination: not in the timeline, but not lost
    not_on_topic: int = 0
    via_intake: int = 0  # accepted events that intake published (so have a ledger row)
    in_ledger: int = 0
    ledger_checked: bool = False
    topic_checked: bool = False  # timeline entries were checked against the topic
    source: str = "the given event ids"
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ledger_missing(self) -> int:
        return self.via_intake - self.in_ledger

    def kinds(self) -> dict[str, int]:
        """How many of each kind of difference."""
        return {
            MISSING_FROM_TIMELINE: self.accepted - self.in_timeline - self.refused,
            NOT_ON_TOPIC: self.not_on_topic,
            LEDGER_MISSING: self.ledger_missing,
            DELIVERY_MISSING: self.authorised - self.in_outbox,
            WITHOUT_DECISION: self.unauthorised_in_outbox,
            NOT_PUBLISHED: self.in_outbox - self.published,
            NO_OUTCOME: self.published - self.settled,
            ALERT_NO_OUTCOME: self.alerts - self.alerts_settled,
        }

    @property
    def differences(self) -> int:
        return sum(self.kinds().values())

    def lines(self) -> list[str]:
        refused = f"+ {self.refused} dead-lettered by coordination" if self.refused else ""
        pairs = [
            ("accepted events", self.accepted, "timeline entries", self.in_timeline, refused),
            (
                "authorised decisions",
                self.authorised,
                "outbox deliveries",
                self.in_outbox,
                f"without a decision: {self.unauthorised_in_outbox}",
            ),
            ("outbox deliveries", self.in_outbox, "published", self.published, ""),
            (
                "published deliveries",
                self.published,
                "final outcomes",
                self.settled,
                f"{self.delivered} delivered, {self.dead_lettered} dead-lettered",
            ),
            ("alerts to these persons", self.alerts, "final outcomes", self.alerts_settled, ""),
        ]
        if self.ledger_checked:
            pairs.insert(
                1, ("accepted via intake", self.via_intake, "ledger rows", self.in_ledger, "")
            )
        lines = [f"accepted: {self.source}"]
        lines += [f"{a:<24}{n:>7} = {b:<18}{m:>7}  {note}".rstrip() for a, n, b, m, note in pairs]
        if self.topic_checked:
            lines.append(f"{'timeline, not on topic':<24}{self.not_on_topic:>7}")
        lines.append(f"{'differences':<24}{self.differences:>7}")
        for kind, count in self.kinds().items():
            if count:
                shown = self.examples.get(kind, [])
                more = ", …" if count > len(shown) else ""
                lines.append(f"  {kind} ({count}): {', '.join(shown)}{more}")
        return lines


@dataclass(frozen=True)
class CanonicalRecord:
    """A committed record of the canonical topic: where it is and which event it says it is."""

    partition: int
    offset: int
    event_id: uuid.UUID | None  # None: no readable ce_id (coordination dead-letters it)
    type: str | None

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
    kind = named.get("ce_type")
    return CanonicalRecord(
        partition, offset, event_id, kind.decode("utf-8", "replace") if kind else None
    )


async def reconcile_since(
    settings: CoordinationSettings,
    pool: asyncpg.Pool,
    since: dt.datetime,
    *,
    intake_schema: str | None,
) -> Reconciliation:
    """Everything on the canonical topic since ``since``, against the timeline, intake's ledger
    (in ``intake_schema``; None skips that check) and the deliveries."""
    return await reconcile_window(pool, await read_canonical(settings, since), intake_schema)


async def reconcile_window(
    pool: asyncpg.Pool, window: CanonicalWindow, intake_schema: str | None
) -> Reconciliation:
    by_id: dict[uuid.UUID, list[CanonicalRecord]] = {}
    unreadable: list[CanonicalRecord] = []
    for record in window.records:
        if record.event_id is None:
            unreadable.append(record)
        else:
            by_id.setdefault(record.event_id, []).append(record)
    ids = list(by_id)
    timeline = await _in_timeline(pool, ids)
    # Not on the timeline: dead-lettered by coordination (marked by position), or missing.
    waiting = {i: rs for i, rs in by_id.items() if i not in timeline}
    waiting_records = [r for rs in waiting.values() for r in rs] + unreadable
    refused_marks = await _dead_lettered(pool, [r.poison_id(window.topic) for r in waiting_records])
    missing = [str(i) for i, rs in waiting.items() if not _marked(rs, window.topic, refused_marks)]
    missing += [
        f"{window.topic}/{r.partition}/{r.offset}"
        for r in unreadable
        if r.poison_id(window.topic) not in refused_marks
    ]
    refused = len(waiting) + len(unreadable) - len(missing)
    not_on_topic = await _timeline_not_on_topic(pool, window)
    via_intake = [i for i, rs in by_id.items() if rs[0].type not in COORDINATION_TYPES]
    in_ledger = (
        set() if intake_schema is None else await _in_ledger(pool, intake_schema, via_intake)
    )
    base = await reconcile(pool, ids)  # the deliveries and alerts of these events
    ledger = "" if intake_schema is None else f"; ledger in schema {intake_schema}"
    return replace(
        base,
        accepted=len(by_id) + len(unreadable),
        refused=refused,
        not_on_topic=len(not_on_topic),
        via_intake=0 if intake_schema is None else len(via_intake),
        in_ledger=len(in_ledger),
        ledger_checked=intake_schema is not None,
        topic_checked=True,
        source=f"committed records on {window.topic} since {window.since.isoformat()}{ledger}",
        examples={
            **base.examples,
            MISSING_FROM_TIMELINE: _first(missing),
            NOT_ON_TOPIC: _first(str(i) for i in not_on_topic),
            LEDGER_MISSING: _first(str(i) for i in via_intake if i not in in_ledger),
        },
    )


def _marked(records: Sequence[CanonicalRecord], topic: str, marks: set[uuid.UUID]) -> bool:
    return any(r.poison_id(topic) in marks for r in records)


async def _in_timeline(pool: asyncpg.Pool, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    rows = await pool.fetch(
        "SELECT event_id FROM timeline WHERE event_id = ANY($1::uuid[])", list(ids)
    )
    return {r["event_id"] for r in rows}


async def _dead_lettered(pool: asyncpg.Pool, marks: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not marks:
        return set()
    rows = await pool.fetch(
        "SELECT event_id FROM processed_events"
        " WHERE event_id = ANY($1::uuid[]) AND outcome = 'dead-lettered'",
        list(marks),
    )
    return {r["event_id"] for r in rows}


async def _timeline_not_on_topic(pool: asyncpg.Pool, window: CanonicalWindow) -> list[uuid.UUID]:
    if not window.spans:
        return []
    partitions = sorted(window.spans)
    rows = await pool.fetch(
        TIMELINE_NOT_ON_TOPIC,
        partitions,
        [window.spans[p][0] for p in partitions],
        [window.spans[p][1] for p in partitions],
        list(window.ids_in_spans),
    )
    return sorted(r["event_id"] for r in rows)


async def _in_ledger(
    pool: asyncpg.Pool, intake_schema: str, ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    schema = checked_schema(intake_schema)
    rows = await pool.fetch(
        f'SELECT canonical_id FROM "{schema}".submission_ledger'  # noqa: S608 - checked name
        " WHERE canonical_id = ANY($1::uuid[])",
        list(ids),
    )
    return {r["canonical_id"] for r in rows}


def _first(ids: Iterable[str]) -> list[str]:
    return sorted(ids)[:MAX_EXAMPLES]


async def reconcile(
    pool: asyncpg.Pool, event_ids: Sequence[uuid.UUID], *, source: str = "the given event ids"
) -> Reconciliation:
    """For accepted events known by id (e.g. the canonical ids of one run's receipts)."""
    ids = list(dict.fromkeys(event_ids))
    timeline_ids = await _in_timeline(pool, ids)
    allowed = await pool.fetch(
        "SELECT d.event_id, d.recipient FROM decisions d JOIN timeline t USING (event_id)"
        " WHERE d.event_id = ANY($1) AND d.allowed AND d.recipient <> t.origin",
        ids,
    )
    expected = {delivery_id(r["event_id"], r["recipient"]) for r in allowed}
    outbox = await pool.fetch(
        DELIVERIES_OF_EVENTS,
        list(expected),
        [str(i) for i in ids],
    )
    outbox_ids = {r["delivery_id"] for r in outbox}
    published = {r["delivery_id"] for r in outbox if r["published"]} & expected
    outcomes = await pool.fetch(
        "SELECT DISTINCT ON (delivery_id) delivery_id, status FROM delivery_outcomes"
        " WHERE delivery_id = ANY($1) AND status = ANY($2::text[])"
        " ORDER BY delivery_id, (status = 'delivered') DESC",
        list(published),
        list(FINAL),
    )
    settled = {r["delivery_id"]: r["status"] for r in outcomes}
    alerts = await pool.fetch(
        ALERTS_TO_PERSONS,
        ids,
        Alert.cloud_event_type(),
        list(FINAL),
    )
    return Reconciliation(
        accepted=len(ids),
        in_timeline=len(timeline_ids),
        authorised=len(expected),
        in_outbox=len(expected & outbox_ids),
        unauthorised_in_outbox=len(outbox_ids - expected),
        published=len(published),
        settled=len(settled),
        delivered=sum(1 for s in settled.values() if s == "delivered"),
        dead_lettered=sum(1 for s in settled.values() if s == "dead-lettered"),
        alerts=len(alerts),
        alerts_settled=sum(1 for r in alerts if r["settled"]),
        source=source,
        examples={
            MISSING_FROM_TIMELINE: _first(str(i) for i in ids if i not in timeline_ids),
            DELIVERY_MISSING: _first(str(i) for i in expected - outbox_ids),
            WITHOUT_DECISION: _first(str(i) for i in outbox_ids - expected),
            NOT_PUBLISHED: _first(str(i) for i in (expected & outbox_ids) - published),
            NO_OUTCOME: _first(str(i) for i in published - set(settled)),
            ALERT_NO_OUTCOME: _first(str(r["delivery_id"]) for r in alerts if not r["settled"]),
        },
    )
