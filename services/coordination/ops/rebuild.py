"""``rebuild``: drop the projections and replay ``iiz.case-events.v1`` from its start.

The projections (person files, cases, participants, consents, timeline, engagements, referrals,
decisions, notices, processed marks) are derived from the log and are rebuilt to the same state.
Records of what already happened are kept: issued case numbers (a case keeps its number), the
outbox (delivery ids are derived, so a replayed delivery finds its row and is not sent again),
deadlines, the notices marked sent (``notice_dispatch``: notice ids are derived, so a notice
derived again is still marked sent), and the audit log (a replay appends one ``rebuilt`` row
instead of re-recording every decision). Stop the live consumers first: the replay reads up to
the log's end at its start, and a consumer restarted afterwards skips what the replay already
stored. Records sealed for a person who has since been erased cannot be opened any more: they are
skipped and counted (``erased``), so the rebuilt projections hold nothing of that person.

Emptying the projections (TRUNCATE) is the one step that needs the schema owner
(``IIZ_MIGRATION_DATABASE_URL``); the replay writes as the service role, like the worker, and
appends its audit row through the chain. The audit tables are never in ``PROJECTIONS`` (and
TRUNCATE of the audit log is refused by a trigger anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiokafka import TopicPartition

from services.common.database import asyncpg_dsn, checked_schema
from services.common.kafka_clients import create_reader
from services.coordination import audit
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.processor import BatchProcessor
from services.coordination.worker.runtime import CoordinationRuntime

PROJECTIONS = (  # never an audit table: the audit log outlives every rebuild
    "persons",
    "cases",
    "participants",
    "consents",
    "consent_revocations",
    "timeline",
    "engagements",
    "referrals",
    "decisions",
    "notices",
    "processed_events",
)


@dataclass(frozen=True)
class RebuildReport:
    records: int
    applied: int
    dead_lettered: int
    erased: int = 0  # records of erased persons: their key is gone, they are skipped


async def rebuild(runtime: CoordinationRuntime, *, batch_size: int = 2000) -> RebuildReport:
    """Replay the whole log into emptied projections (the runtime must be started)."""
    assert runtime.pool is not None, "start the runtime first"
    s = runtime.settings
    owner = await asyncpg.connect(
        asyncpg_dsn(s.owner_database_url),
        server_settings={"search_path": checked_schema(s.coordination_db_schema)},
    )
    try:
        await owner.execute(f"TRUNCATE {', '.join(PROJECTIONS)}")
    finally:
        await owner.close()
    report = await _replay(runtime, runtime.processor(replay=True), batch_size)
    async with runtime.pool.acquire() as conn, conn.transaction():
        await audit.append(
            conn,
            [
                audit.AuditEntry(
                    actor="coordination",
                    action="rebuilt",
                    purpose="maintenance",
                    detail={
                        "records": report.records,
                        "applied": report.applied,
                        "dead_lettered": report.dead_lettered,
                        "erased": report.erased,
                    },
                )
            ],
            at=runtime.clock(),
        )
    return report


async def _replay(
    runtime: CoordinationRuntime, processor: BatchProcessor, batch_size: int
) -> RebuildReport:
    """Every record of the topic up to its end at the start, through the replay processor."""
    topic = runtime.settings.coordination_case_events_topic
    reader = create_reader(runtime.settings)
    await reader.start()
    records = applied = dead = erased = 0
    try:
        await reader._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            fetched = await reader.getmany(*remaining, timeout_ms=1000, max_records=batch_size)
            batch = [
                BusRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                for tp, rs in fetched.items()
                for r in rs
                if r.offset < ends[tp]
            ]
            if batch:
                report = await processor.process(batch)
                records += len(batch)
                applied += report.applied
                dead += report.dead_lettered
                erased += report.erased
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await reader.stop()
    return RebuildReport(records, applied, dead, erased)
