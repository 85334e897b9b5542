"""Reconciliation: proves for a set of accepted events that nothing was lost (ARCHITECTURE §8).

"Accepted" comes from a source a crash cannot lose: the canonical topic itself
(``reconcile_since``: its committed records from a point in time), or the receipts a run was
given (``reconcile``: their canonical ids). Intake's ledger is only a secondary check: intake
writes it after its Kafka commit, so a crash in between leaves an accepted event without a row.

- every accepted event is in the timeline, or coordination dead-lettered it (with its reason on
  ``iiz.coordination.rejected.v1``) or refused it (its sender may not make that change; marked
  ``refused`` and answered on the sender's topic);
- every timeline entry in the window is an event on the topic (an entry whose event is not there
  was folded from an aborted transaction or from somewhere else);
- every event intake accepted has its ledger row (coordination's own notes have none);
- every allowed decision for another institution has exactly its delivery in the outbox, and no
  delivery of these events exists without such a decision;
- every such delivery was published and has a final outcome from notifications (delivered or
  dead-lettered).

The report (``reconciliation.py``) is a list of count pairs that must be equal; ``differences``
sums the gaps, and each kind of difference names a few example ids (never personal data).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import replace

import asyncpg

from schemas.alerts import Alert
from schemas.events import NoteAdded
from schemas.refusals import Refusal
from services.common.database import checked_schema
from services.common.person_registry import erased_among
from services.coordination.ops.canonical_topic import (
    CanonicalRecord,
    CanonicalWindow,
    read_canonical,
)
from services.coordination.ops.reconciliation import (
    ALERT_NO_OUTCOME,
    DELIVERY_MISSING,
    LEDGER_MISSING,
    MISSING_FROM_TIMELINE,
    NO_OUTCOME,
    NOT_ON_TOPIC,
    NOT_PUBLISHED,
    WITHOUT_DECISION,
    Reconciliation,
    first_examples,
)
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.deliveries import delivery_id

FINAL = ("delivered", "dead-lettered")
# Published by coordination's notes API straight to the canonical topic: never in the ledger.
COORDINATION_TYPES = frozenset({NoteAdded.cloud_event_type()})
# Outbox headers are stored as a JSON list of [name, value] pairs.
DELIVERIES_OF_EVENTS = """
SELECT delivery_id, published_at IS NOT NULL AS published FROM outbox o
WHERE delivery_id = ANY($1) OR EXISTS (
    SELECT 1 FROM jsonb_array_elements(o.headers) h
    WHERE h->>0 = 'ce_causationid' AND h->>1 = ANY($2::text[]))
  AND NOT EXISTS (  -- a refusal answers a refused event: counted with the refused events
    SELECT 1 FROM jsonb_array_elements(o.headers) h WHERE h->>0 = 'ce_type' AND h->>1 = $3)
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


async def reconcile_since(
    settings: CoordinationSettings,
    pool: asyncpg.Pool,
    since: dt.datetime,
    *,
    intake_schema: str | None,
) -> Reconciliation:
    """Everything on the canonical topic since ``since``, against the timeline, intake's ledger
    (in ``intake_schema``; None skips that check) and the deliveries."""
    window = await read_canonical(settings, since)
    return await reconcile_window(
        pool, window, intake_schema, person_schema=settings.person_db_schema
    )


async def reconcile_window(
    pool: asyncpg.Pool,
    window: CanonicalWindow,
    intake_schema: str | None,
    *,
    person_schema: str | None = None,
) -> Reconciliation:
    """The window against the projections; records of persons erased since (their tombstones in
    the person registry in ``person_schema``) are left out and counted as ``erased``."""
    by_id: dict[uuid.UUID, list[CanonicalRecord]] = {}
    unreadable: list[CanonicalRecord] = []
    gone = await _erased(pool, person_schema, {r.subject for r in window.records if r.subject})
    for record in window.records:
        if record.subject in gone:
            continue
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
    refused_marks |= await _refused(pool, list(waiting))
    missing = [
        str(i)
        for i, rs in waiting.items()
        if i not in refused_marks and not _marked(rs, window.topic, refused_marks)
    ]
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
        erased=sum(1 for r in window.records if r.subject in gone),
        refused=refused,
        not_on_topic=len(not_on_topic),
        via_intake=0 if intake_schema is None else len(via_intake),
        in_ledger=len(in_ledger),
        ledger_checked=intake_schema is not None,
        topic_checked=True,
        source=f"committed records on {window.topic} since {window.since.isoformat()}{ledger}",
        examples={
            **base.examples,
            MISSING_FROM_TIMELINE: first_examples(missing),
            NOT_ON_TOPIC: first_examples(str(i) for i in not_on_topic),
            LEDGER_MISSING: first_examples(str(i) for i in via_intake if i not in in_ledger),
        },
    )


async def _erased(pool: asyncpg.Pool, person_schema: str | None, subjects: set[str]) -> set[str]:
    return set() if person_schema is None else await erased_among(pool, person_schema, subjects)


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


async def _refused(pool: asyncpg.Pool, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Events coordination refused (their sender may not make that change): answered, not lost."""
    if not ids:
        return set()
    rows = await pool.fetch(
        "SELECT event_id FROM processed_events"
        " WHERE event_id = ANY($1::uuid[]) AND outcome = 'refused'",
        list(ids),
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


async def reconcile(
    pool: asyncpg.Pool, event_ids: Sequence[uuid.UUID], *, source: str = "the given event ids"
) -> Reconciliation:
    """For accepted events known by id (e.g. the canonical ids of one run's receipts)."""
    ids = list(dict.fromkeys(event_ids))
    timeline_ids = await _in_timeline(pool, ids)
    expected = await _authorised_deliveries(pool, ids)
    refused = await _refused(pool, [i for i in ids if i not in timeline_ids])
    outbox = await pool.fetch(
        DELIVERIES_OF_EVENTS, list(expected), [str(i) for i in ids], Refusal.cloud_event_type()
    )
    outbox_ids = {r["delivery_id"] for r in outbox}
    published = {r["delivery_id"] for r in outbox if r["published"]} & expected
    settled = await _final_outcomes(pool, published)
    alerts = await pool.fetch(ALERTS_TO_PERSONS, ids, Alert.cloud_event_type(), list(FINAL))
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
        refused=len(refused),
        source=source,
        examples={
            MISSING_FROM_TIMELINE: first_examples(
                str(i) for i in ids if i not in timeline_ids and i not in refused
            ),
            DELIVERY_MISSING: first_examples(str(i) for i in expected - outbox_ids),
            WITHOUT_DECISION: first_examples(str(i) for i in outbox_ids - expected),
            NOT_PUBLISHED: first_examples(str(i) for i in (expected & outbox_ids) - published),
            NO_OUTCOME: first_examples(str(i) for i in published - set(settled)),
            ALERT_NO_OUTCOME: first_examples(
                str(r["delivery_id"]) for r in alerts if not r["settled"]
            ),
        },
    )


async def _authorised_deliveries(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The delivery ids the allowed decisions for other institutions than the origin imply."""
    allowed = await pool.fetch(
        "SELECT d.event_id, d.recipient FROM decisions d JOIN timeline t USING (event_id)"
        " WHERE d.event_id = ANY($1) AND d.allowed AND d.recipient <> t.origin",
        ids,
    )
    return {delivery_id(r["event_id"], r["recipient"]) for r in allowed}


async def _final_outcomes(pool: asyncpg.Pool, published: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each published delivery's final outcome (delivered wins over dead-lettered)."""
    outcomes = await pool.fetch(
        "SELECT DISTINCT ON (delivery_id) delivery_id, status FROM delivery_outcomes"
        " WHERE delivery_id = ANY($1) AND status = ANY($2::text[])"
        " ORDER BY delivery_id, (status = 'delivered') DESC",
        list(published),
        list(FINAL),
    )
    return {r["delivery_id"]: r["status"] for r in outcomes}
