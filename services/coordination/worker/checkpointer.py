"""Signs checkpoints of the audit chain and publishes them to ``iiz.audit-checkpoints.v1``.

A task of the worker process, beside the relay and the scheduler. Every pass:

1. **Take** (one transaction, under a schema-scoped advisory lock so that one instance takes
   them): if the head has moved ``rows_every`` rows past the newest checkpoint, or has moved at
   all and the newest checkpoint (or, before the first, this task's start) is
   ``seconds_every`` old, the head's row count and hash are signed with the time, recorded in
   ``audit_checkpoints`` and kept in memory to publish. Rows may be appended by any process
   (the API audits its reads); the checkpoint covers whatever the chain holds.
2. **Publish** what this process took and the broker has not yet acknowledged, oldest first
   (acks=all, idempotent producer). A failure keeps them for the next pass, which sends the
   same bytes again: a checkpoint describes a state of the chain, so a duplicate on the topic is
   harmless (verify-audit checks each).

"The newest checkpoint" is one this worker's key signed: the services' database role may add
rows to ``audit_checkpoints`` (the worker is that role), so a row counts only if its signature
verifies with the worker's own key, it describes this chain at its own ``row_count``, and that
count is not beyond the head (a row claiming row 9e15 cannot stop the checkpoints); its time is
the signed one. Which checkpoints still wait for the broker is in memory only, where no database
role can mark them published; after a restart the newest stored checkpoint is published once
more (it may have been stored but not published before the stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from services.common.outages import Backoff, log_failure
from services.coordination.checkpoints import Checkpoint, CheckpointSigner, CheckpointVerifier
from services.coordination.clock import Clock, utc_now

log = structlog.get_logger(__name__)
CHECKPOINT_LOCK_CLASS = ":audit-checkpoint"  # advisory-lock namespace, beside the schema's name
STORED_SCAN = 100  # recorded rows looked at for the newest own checkpoint (none found: take one)


class AuditCheckpointer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        signer: CheckpointSigner,
        *,
        topic: str,
        chain: str,
        rows_every: int,
        seconds_every: float,
        poll_seconds: float,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._signer = signer
        self._topic = topic
        self._chain = chain
        self._rows_every = rows_every
        self._every = dt.timedelta(seconds=seconds_every)
        self._poll = poll_seconds
        self._clock = clock
        self._started = clock()
        self._own = CheckpointVerifier({signer.key_id: signer.key.public_key()})
        self._last: Checkpoint | None = None  # the newest this process took
        self._pending: list[Checkpoint] = []  # taken, not yet acknowledged by the broker
        self._resumed = False  # the newest stored one queued again after a start
        self._backoff = Backoff(base=poll_seconds, cap=max(10.0, poll_seconds))

    async def take(self) -> int | None:
        """Sign and record a checkpoint if one is due; its row count, else ``None``."""
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || $1), 0)",
                CHECKPOINT_LOCK_CLASS,
            ):
                return None  # another instance takes checkpoints right now
            head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
            assert head is not None, "the migration creates the head row"
            rows = int(head["seq"])
            stored = await self._newest_stored(conn, rows)
            if not self._resumed:
                self._resumed = True
                if stored is not None:
                    self._pending.append(stored)
            known = [c for c in (stored, self._last) if c is not None and c.rows <= rows]
            last = max(known, key=lambda c: (c.rows, c.at), default=None)
            last_rows = last.rows if last is not None else 0
            now = self._clock()
            since = last.at if last is not None else self._started
            due = rows - last_rows >= self._rows_every or (
                rows > last_rows and now - since >= self._every
            )
            if not due:
                return None
            checkpoint = self._signer.sign(self._chain, rows, str(head["hash"]), now)
            # A record; a row someone else put at this count (DO NOTHING) does not stop the
            # checkpoint: it is published from memory all the same.
            await conn.execute(
                "INSERT INTO audit_checkpoints (row_count, head_hash, taken_at, key_id, value)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (row_count) DO NOTHING",
                rows,
                checkpoint.head,
                now,
                checkpoint.key_id,
                checkpoint.to_json(),
            )
        self._last = checkpoint
        self._pending.append(checkpoint)
        return rows

    async def _newest_stored(self, conn: asyncpg.Connection, head_rows: int) -> Checkpoint | None:
        """The newest recorded checkpoint up to the head that this worker's key signed."""
        found = await conn.fetch(
            "SELECT row_count, value FROM audit_checkpoints WHERE row_count <= $1"
            " ORDER BY row_count DESC LIMIT $2",
            head_rows,
            STORED_SCAN,
        )
        for row in found:
            try:
                checkpoint = Checkpoint.from_json(bytes(row["value"]))
            except ValueError:
                continue
            if (
                checkpoint.chain == self._chain
                and checkpoint.rows == int(row["row_count"])
                and self._own.problem(checkpoint) is None
            ):
                return checkpoint
        return None

    async def publish_pending(self) -> int:
        """Publish every checkpoint taken and not yet acknowledged; returns how many."""
        pending = list(self._pending)
        if not pending:
            return 0
        key = self._chain.encode("utf-8")
        sent = [
            await self._producer.send(
                self._topic,
                key=key,
                value=c.to_json(),
                headers=[("content-type", b"application/json")],
            )
            for c in pending
        ]
        for future in sent:
            await future
        del self._pending[: len(pending)]
        log.info("audit checkpoints published", count=len(pending), rows=pending[-1].rows)
        return len(pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Take and publish until ``stop`` is set, every poll interval; back off while the
        database or the broker is away."""
        attempt = 0
        while not stop.is_set():
            try:
                await self.take()
                await self.publish_pending()
                attempt = 0
                await _wait(stop, self._poll)
            except Exception as error:  # database or broker away: checkpoints wait, none lost
                attempt += 1
                log_failure(log, "audit checkpoint pass failed; retrying", error, attempt=attempt)
                await _wait(stop, self._backoff.delay(attempt))


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
