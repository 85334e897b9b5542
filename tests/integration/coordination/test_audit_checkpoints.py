"""Signed checkpoints: the worker publishes the chain's head every N rows, and ``verify-audit``
finds a log that its owner rewrote with recomputed hashes — naming the first checkpoint that no
longer matches — and a checkpoint with a bad signature."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream import TestApp

from services.common.database import create_pool
from services.common.kafka_clients import create_producer, create_reader
from services.coordination import audit
from services.coordination.checkpoints import Checkpoint, CheckpointSigner
from services.coordination.ops.migrate import migrate
from services.coordination.ops.verify_audit import verify_audit
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.checkpointer import AuditCheckpointer
from services.coordination.worker.consumer import create_app
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    drop_schema,
    eventually,
    make_coordination_settings,
    prime_outcomes_at_end,
    processed_count,
)
from tests.integration.coordination.test_consent_routing import consent_story
from tests.integration.coordination.test_rebuild_and_audit import (
    _publish,
    owner_pool,
    verify_audit_verdict,
)

EVERY_ROWS = 3


@pytest.fixture
async def checkpointed(
    infra: Infra, new_topic: Callable[..., Any]
) -> AsyncIterator[CoordinationSettings]:
    """Coordination on logs of its own, taking a checkpoint every 3 audit rows (the time rule
    set far off, so that each checkpoint here is one taken for its rows)."""
    settings = make_coordination_settings(
        infra,
        coordination_case_events_topic=await new_topic("iiz.case-events.test", partitions=3),
        coordination_audit_checkpoints_topic=await new_topic("iiz.audit-checkpoints.test"),
        coordination_audit_checkpoint_rows=EVERY_ROWS,
        coordination_audit_checkpoint_seconds=3600.0,
        coordination_audit_checkpoint_poll_seconds=0.1,
    )
    await migrate(settings)
    await prime_outcomes_at_end(settings)
    yield settings
    await drop_schema(settings)


async def on_topic(settings: CoordinationSettings) -> list[Checkpoint]:
    """Every checkpoint on the test's checkpoint topic, in order."""
    topic = settings.coordination_audit_checkpoints_topic
    reader = create_reader(settings)
    await reader.start()
    try:
        partition = TopicPartition(topic, 0)
        reader.assign([partition])
        await reader.seek_to_beginning(partition)
        end = (await reader.end_offsets([partition]))[partition]
        found: list[Checkpoint] = []
        while await reader.position(partition) < end:
            batch = await reader.getmany(partition, timeout_ms=1000)
            found += [Checkpoint.from_json(r.value) for r in batch.get(partition, [])]
        return found
    finally:
        await reader.stop()


async def all_rows_checkpointed(settings: CoordinationSettings, pool: asyncpg.Pool) -> bool:
    head = int(await pool.fetchval("SELECT seq FROM audit_head"))
    published = await on_topic(settings)
    return bool(published) and published[-1].rows == head


async def run_until_checkpointed(settings: CoordinationSettings) -> asyncpg.Pool:
    """The consent story through the live worker, then three rounds of reads audited by
    another writer (as the API does); each time until the whole chain is checkpointed."""
    story, _ = consent_story()
    await _publish(settings, story.events)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    async with TestApp(create_app(settings)):
        await eventually(lambda: _processed(pool, len(story.events)), within=60)
        await eventually(lambda: all_rows_checkpointed(settings, pool), within=30)
        for round_ in range(3):
            reads = [
                audit.AuditEntry(actor="rav/coordinator/t", action="read-case", object=str(n))
                for n in range(EVERY_ROWS + round_)
            ]
            async with pool.acquire() as conn, conn.transaction():
                await audit.append(conn, reads, at=dt.datetime.now(dt.UTC))
            await eventually(lambda: all_rows_checkpointed(settings, pool), within=30)
    return pool


async def _processed(pool: asyncpg.Pool, count: int) -> bool:
    return await processed_count(pool) >= count


async def test_checkpoints_are_signed_and_published_every_n_rows_and_verify(
    checkpointed: CoordinationSettings,
) -> None:
    pool = await run_until_checkpointed(checkpointed)
    try:
        head = int(await pool.fetchval("SELECT seq FROM audit_head"))
        published = await on_topic(checkpointed)
        verifier = checkpointed.audit_verifier
        assert len(published) >= 4
        assert [verifier.problem(c) for c in published] == [None] * len(published)
        assert {c.chain for c in published} == {checkpointed.coordination_db_schema}
        counts = [c.rows for c in published]
        # Each taken once N rows had been appended since the one before (a batch's rows come
        # at once, so a step can be longer); the last covers the whole chain.
        steps = [b - a for a, b in zip([0, *counts], counts, strict=False)]
        assert all(step >= EVERY_ROWS for step in steps), counts
        assert counts[-1] == head
        chain = await audit.verify(pool, at_rows=counts)
        assert [c.head for c in published] == [chain.hashes[n] for n in counts]

        code, verdict = await verify_audit_verdict(checkpointed)
        assert (code, verdict) == (
            0,
            f"audit log intact: {head} rows, every link holds,"
            f" {len(published)} signed checkpoints match",
        )
    finally:
        await pool.close()


async def rewrite_whole_log(settings: CoordinationSettings, changed_row: int) -> None:
    """What the owner can do: drop the guards, write every row anew with one changed and every
    hash recomputed, set the head, restore the guards."""
    async with owner_pool(settings) as owner, owner.acquire() as conn, conn.transaction():
        rows = await conn.fetch("SELECT * FROM audit_log ORDER BY seq")
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        await conn.execute("DELETE FROM audit_log")
        prev = audit.GENESIS_HASH
        for row in rows:
            entry = audit.AuditEntry(
                actor="nobody" if row["seq"] == changed_row else row["actor"],
                action=row["action"],
                subject=row["subject"],
                object=row["object"],
                purpose=row["purpose"],
                basis=row["basis"],
                detail=json.loads(row["detail"]),
            )
            digest = audit.link_hash(row["seq"], row["at"], entry, prev)
            await conn.execute(
                "INSERT INTO audit_log (seq, at, actor, action, purpose, subject, object, basis,"
                " detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                row["seq"],
                row["at"],
                entry.actor,
                entry.action,
                entry.purpose,
                entry.subject,
                entry.object,
                entry.basis,
                row["detail"],
                prev,
                digest,
            )
            prev = digest
        await conn.execute("UPDATE audit_head SET hash = $1", prev)
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


async def test_a_log_rewritten_by_its_owner_is_named_at_its_first_checkpoint(
    checkpointed: CoordinationSettings,
) -> None:
    pool = await run_until_checkpointed(checkpointed)
    try:
        counts = [c.rows for c in await on_topic(checkpointed)]
        changed = counts[0] + 1  # after the first checkpoint: that one still matches
        first_broken = next(n for n in counts if n >= changed)

        await rewrite_whole_log(checkpointed, changed)

        assert (await audit.verify(pool)).intact  # the chain itself holds together
        code, verdict = await verify_audit_verdict(checkpointed)
        assert code == 1
        assert verdict.startswith(
            f"audit checkpoint MISMATCH: first checkpoint at row {first_broken} "
        ), verdict
        assert "the checkpoint says" in verdict
    finally:
        await pool.close()


async def test_a_checkpoint_signed_with_another_key_is_named(
    checkpointed: CoordinationSettings,
) -> None:
    pool = await run_until_checkpointed(checkpointed)
    try:
        head = await pool.fetchrow("SELECT seq, hash FROM audit_head")
        # A true statement about the chain, but not signed by the worker's key.
        forger = CheckpointSigner("a1", Ed25519PrivateKey.generate())
        forged = forger.sign(
            checkpointed.audit_chain, head["seq"], head["hash"], dt.datetime.now(dt.UTC)
        )
        producer = create_producer(checkpointed)
        await producer.start()
        try:
            await producer.send_and_wait(
                checkpointed.coordination_audit_checkpoints_topic,
                forged.to_json(),
                key=checkpointed.audit_chain.encode(),
            )
        finally:
            await producer.stop()

        code, verdict = await verify_audit_verdict(checkpointed)
        assert code == 1
        assert verdict.startswith(
            f"audit checkpoint MISMATCH: first checkpoint at row {head['seq']} "
        ), verdict
        assert verdict.endswith("bad signature (key a1)")
    finally:
        await pool.close()


# --- What the services' role can do to the checkpoints (it is the worker's role too) -----------


def _checkpointer(settings: CoordinationSettings, pool: asyncpg.Pool, producer: Any) -> Any:
    signer = settings.audit_signer
    assert signer is not None
    return AuditCheckpointer(
        pool,
        producer,
        signer,
        topic=settings.coordination_audit_checkpoints_topic,
        chain=settings.audit_chain,
        rows_every=EVERY_ROWS,
        seconds_every=3600.0,
        poll_seconds=0.1,
    )


async def _append(pool: asyncpg.Pool, count: int, at: dt.datetime | None = None) -> None:
    reads = [
        audit.AuditEntry(actor="rav/coordinator/t", action="read-case", object=str(n))
        for n in range(count)
    ]
    async with pool.acquire() as conn, conn.transaction():
        await audit.append(conn, reads, at=at or dt.datetime.now(dt.UTC))


FORGE = (
    "INSERT INTO audit_checkpoints (row_count, head_hash, taken_at, key_id, value)"
    " VALUES ($1, $2, now(), 'a1', $3)"
)


async def test_rows_the_service_role_adds_do_not_stop_or_suppress_checkpoints(
    checkpointed: CoordinationSettings,
) -> None:
    """A row far beyond the head, a row claiming to be fresh but not signed by the worker's key,
    and rows in the way of the next checkpoints: the next checkpoint is taken and published."""
    pool = await create_pool(checkpointed.database_url, checkpointed.coordination_db_schema)
    producer = create_producer(checkpointed)
    await producer.start()
    try:
        await _append(pool, 2)
        head = await pool.fetchrow("SELECT seq, hash FROM audit_head")
        forger = CheckpointSigner("a1", Ed25519PrivateKey.generate())
        fresh = forger.sign(checkpointed.audit_chain, 2, head["hash"], dt.datetime.now(dt.UTC))
        await pool.execute(FORGE, 9_000_000_000_000_000, "f" * 64, b"{}")
        await pool.execute(FORGE, 2, head["hash"], fresh.to_json())
        for row_count in range(3, 10):  # where the next checkpoints would be recorded
            await pool.execute(FORGE, row_count, "0" * 64, b"not a checkpoint")

        await _append(pool, EVERY_ROWS)
        worker = _checkpointer(checkpointed, pool, producer)
        assert await worker.take() == 2 + EVERY_ROWS
        assert await worker.take() is None  # taken once, not again on every pass
        assert await worker.publish_pending() == 1
        published = await on_topic(checkpointed)
        assert [(c.rows, checkpointed.audit_verifier.problem(c)) for c in published] == [
            (2 + EVERY_ROWS, None)
        ]
        code, verdict = await verify_audit_verdict(checkpointed)
        assert (code, verdict.split(":")[0]) == (0, "audit log intact"), verdict
    finally:
        await producer.stop()
        await pool.close()


async def test_a_restarted_worker_publishes_its_newest_recorded_checkpoint_again(
    checkpointed: CoordinationSettings,
) -> None:
    """Stored but not published before a stop: no database row says "published", so the next
    worker publishes the newest recorded one again (a duplicate is harmless)."""
    pool = await create_pool(checkpointed.database_url, checkpointed.coordination_db_schema)
    producer = create_producer(checkpointed)
    await producer.start()
    try:
        await _append(pool, EVERY_ROWS)
        assert await _checkpointer(checkpointed, pool, producer).take() == EVERY_ROWS
        assert await on_topic(checkpointed) == []  # stopped before publishing
        again = _checkpointer(checkpointed, pool, producer)
        assert await again.take() is None
        assert await again.publish_pending() == 1
        assert [c.rows for c in await on_topic(checkpointed)] == [EVERY_ROWS]
    finally:
        await producer.stop()
        await pool.close()


async def test_the_service_role_may_only_add_checkpoint_rows(
    checkpointed: CoordinationSettings,
) -> None:
    pool = await create_pool(checkpointed.database_url, checkpointed.coordination_db_schema)
    try:
        granted = await pool.fetch(
            "SELECT privilege_type, column_name FROM information_schema.column_privileges"
            " WHERE table_schema = current_schema() AND table_name = 'audit_checkpoints'"
            " AND grantee = current_user"
        )
        by_kind: dict[str, set[str]] = {}
        for row in granted:
            by_kind.setdefault(row["privilege_type"], set()).add(row["column_name"])
        assert by_kind == {
            "SELECT": {"row_count", "head_hash", "taken_at", "key_id", "value"},
            "INSERT": {"row_count", "head_hash", "taken_at", "key_id", "value"},
        }
        await pool.execute(FORGE, 1, "0" * 64, b"{}")
        for statement in (
            "UPDATE audit_checkpoints SET value = ''::bytea",
            "DELETE FROM audit_checkpoints",
            "TRUNCATE audit_checkpoints",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await pool.execute(statement)
    finally:
        await pool.close()


# --- verify-audit: the checkpoints must cover the log ------------------------------------------


async def test_verify_audit_fails_when_too_many_rows_follow_the_newest_checkpoint(
    checkpointed: CoordinationSettings,
) -> None:
    """No worker signed anything (or the topic was emptied): the chain holds, but verify-audit
    does not call it intact."""
    pool = await create_pool(checkpointed.database_url, checkpointed.coordination_db_schema)
    try:
        await _append(pool, 6)
        limits = {
            "IIZ_COORDINATION_AUDIT_CHECKPOINT_ROWS": "3",
            "IIZ_COORDINATION_AUDIT_VERIFY_MARGIN_ROWS": "2",
            "IIZ_COORDINATION_AUDIT_CHECKPOINT_SECONDS": "3600",
        }
        code, verdict = await verify_audit_verdict(checkpointed, **limits)
        assert code == 1
        assert verdict.startswith(
            "audit checkpoints MISSING: 6 rows after no matching checkpoint, more than 5"
        ), verdict

        signer = checkpointed.audit_signer
        assert signer is not None
        head = await pool.fetchrow("SELECT seq, hash FROM audit_head")
        await _publish_checkpoint(
            checkpointed, signer.sign(checkpointed.audit_chain, 6, head["hash"], _now())
        )
        await _append(pool, 5)  # within 3 + 2 of the checkpoint
        assert await verify_audit_verdict(checkpointed, **limits) == (
            0,
            "audit log intact: 11 rows, every link holds, 1 signed checkpoints match",
        )
        await _append(pool, 1)
        code, verdict = await verify_audit_verdict(checkpointed, **limits)
        assert code == 1
        assert verdict.startswith("audit checkpoints MISSING: 6 rows after the newest matching")
    finally:
        await pool.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _publish_checkpoint(settings: CoordinationSettings, checkpoint: Checkpoint) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.coordination_audit_checkpoints_topic,
            checkpoint.to_json(),
            key=settings.audit_chain.encode(),
        )
    finally:
        await producer.stop()


async def test_verify_audit_fails_when_rows_waited_too_long_for_a_checkpoint(
    checkpointed: CoordinationSettings,
) -> None:
    """Rows older than checkpoint_seconds + the margin and no checkpoint after them; a row
    appended just now after a long quiet time is not late."""
    settings = checkpointed.model_copy(
        update={
            "coordination_audit_checkpoint_seconds": 600.0,
            "coordination_audit_verify_margin_seconds": 60.0,
        }
    )
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        now = _now()
        await _append(pool, 2, at=now - dt.timedelta(hours=2))
        report = await verify_audit(settings, pool, now=now)
        assert not report.intact
        assert report.verdict().startswith(
            "audit checkpoints MISSING: row 1 and the 1 after it have waited 7200 s for a"
            " checkpoint, more than 660 s"
        ), report.verdict()

        signer = settings.audit_signer
        assert signer is not None
        head = await pool.fetchrow("SELECT seq, hash FROM audit_head")
        await _publish_checkpoint(
            settings,
            signer.sign(settings.audit_chain, 2, head["hash"], now - dt.timedelta(hours=1)),
        )
        await _append(pool, 1, at=now - dt.timedelta(seconds=30))
        report = await verify_audit(settings, pool, now=now)
        assert report.intact, list(report.lines())
        report = await verify_audit(settings, pool, now=now + dt.timedelta(seconds=631))
        assert report.verdict().startswith("audit checkpoints MISSING: row 3 and the 0 after")
    finally:
        await pool.close()


async def test_verify_audit_fails_without_the_checkpoints_topic(
    checkpointed: CoordinationSettings,
) -> None:
    pool = await create_pool(checkpointed.database_url, checkpointed.coordination_db_schema)
    try:
        await _append(pool, 1)
        gone = f"iiz.audit-checkpoints.gone-{checkpointed.coordination_db_schema}"
        settings = checkpointed.model_copy(update={"coordination_audit_checkpoints_topic": gone})
        report = await verify_audit(settings, pool)
        assert report.verdict() == f"audit checkpoints MISSING: topic {gone} not found" + (
            " (infra/create_topics.py creates it)"
        )
    finally:
        await pool.close()
