"""The outbox relay: publishes authorised deliveries from the ``outbox`` table to Kafka.

Written for this project rather than taken from ``faststream-outbox`` (see docs/architecture.md):
rows are written by the consumer's raw asyncpg transaction, and order per Kafka key must hold
with several relay instances.

- Rows are spread over lanes by a stable hash of their Kafka key (recipient + person). A relay
  takes a lane with a transaction-scoped advisory lock, so one lane is published by one relay at
  a time, oldest row first: per key, deliveries leave in the order they were decided.
- Within the lane, rows are claimed ``FOR UPDATE SKIP LOCKED``, sent, and marked published only
  after the broker acknowledged every one (acks=all, idempotent producer). A failure rolls the
  claim back; the next pass sends the same rows again with the same delivery ids
  (at-least-once; consumers dedupe by id).
- One pass is one transaction on the relay's own (listening) connection: a single statement
  takes every lane lock it can get and claims each held lane's oldest rows, all of them are
  sent at once (one produce round per pass, not one per lane), and the rows of every lane whose
  sends were all acknowledged are marked in one UPDATE. A lane with a failed send keeps all its
  rows for the next pass; the other lanes are marked.
- Latency: consumers ``NOTIFY iiz_outbox`` in the transaction that writes rows; the relay
  ``LISTEN``s and falls back to polling. Notifications that arrive during a pass coalesce into
  one more pass right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from services.common.outages import Backoff, log_failure
from services.coordination.worker.store import OUTBOX_CHANNEL

log = structlog.get_logger(__name__)
LANE_LOCK_CLASS = ":outbox-lane"  # advisory-lock namespace of outbox lanes

# Every lane whose lock this transaction gets ($1 namespace, $2 lanes), and of each, its oldest
# unpublished rows ($3 at most), locked: one round trip for the whole pass's claim.
_CLAIM = """
WITH held AS MATERIALIZED (
    SELECT lane FROM generate_series(0, $2::integer - 1) AS lane
    WHERE pg_try_advisory_xact_lock(hashtext(current_schema() || $1::text), lane)
)
SELECT claimed.id, claimed.lane, claimed.topic, claimed.key, claimed.value, claimed.headers
FROM held CROSS JOIN LATERAL (
    SELECT id, lane, topic, key, value, headers FROM outbox
    WHERE outbox.lane = held.lane AND published_at IS NULL
    ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED
) AS claimed
ORDER BY claimed.lane, claimed.id
"""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        lanes: int,
        batch: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._lanes = lanes
        self._batch = batch
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._backoff = Backoff(base=poll_seconds, cap=max(10.0, poll_seconds))

    async def publish_pending(self, conn: asyncpg.Connection | None = None) -> int:
        """Passes until no held lane has a full batch left; returns how many rows were published.

        ``conn``: the connection to run on (the relay's listening one); else one from the pool."""
        if conn is None:
            async with self._pool.acquire() as acquired:
                return await self.publish_pending(acquired)
        published = 0
        while True:
            sent, full = await self._pass(conn)
            published += sent
            if not full:
                return published

    async def _pass(self, conn: asyncpg.Connection) -> tuple[int, bool]:
        """One transaction over every lane this relay can take: (rows published, whether a
        lane had a full batch, so more may wait)."""
        async with conn.transaction():
            # The lock's first key is the schema, so coordinations sharing a database
            # (staging next to test) never hold each other's lanes. A lane another relay holds
            # right now is skipped; the CTE (volatile, so evaluated once) takes each lock once.
            rows = await conn.fetch(_CLAIM, LANE_LOCK_CLASS, self._lanes, self._batch)
            if not rows:
                return 0, False
            lanes: dict[int, list[asyncpg.Record]] = {}
            for row in rows:  # by lane, oldest first (the claim's order)
                lanes.setdefault(row["lane"], []).append(row)
            sent = {lane: await self._send_lane(claimed) for lane, claimed in lanes.items()}
            outcomes = await asyncio.gather(
                *(f for futures, _ in sent.values() for f in futures), return_exceptions=True
            )
            acked: list[int] = []
            failures: dict[int, BaseException] = {}
            at = 0
            for lane, (futures, refused) in sent.items():
                results, at = outcomes[at : at + len(futures)], at + len(futures)
                failed = refused if refused is not None else _first_error(results)
                if failed is None:
                    acked.extend(row["id"] for row in lanes[lane])
                else:  # this lane waits for the next pass; the others are marked
                    failures[lane] = failed
                    log_failure(log, "outbox lane failed; its rows wait", failed, lane=lane)
            if failures and not acked:
                raise next(iter(failures.values()))
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", acked
            )
            full = any(
                len(claimed) >= self._batch
                for lane, claimed in lanes.items()
                if lane not in failures
            )
            return len(acked), full

    async def _send_lane(
        self, claimed: list[asyncpg.Record]
    ) -> tuple[list[asyncio.Future[object]], BaseException | None]:
        """Hand one lane's rows to the producer, oldest first; stops at the first refusal (the
        lane's later rows are not sent, so they cannot overtake it)."""
        futures: list[asyncio.Future[object]] = []
        try:
            for row in claimed:
                headers = [(k, v.encode("utf-8")) for k, v in json.loads(row["headers"])]
                futures.append(
                    await self._producer.send(
                        row["topic"], key=row["key"], value=row["value"], headers=headers
                    )
                )
        except Exception as error:
            return futures, error
        return futures, None

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set: on every notification, else every poll interval.

        While the broker or the database is away it backs off (capped, jittered) and comes back
        with a fresh listening connection."""
        attempt = 0
        while not stop.is_set():
            try:
                await self._listen_and_publish(stop)
                return
            except Exception as error:  # broker or database away: rows stay, try again later
                attempt += 1
                log_failure(log, "outbox relay pass failed; retrying", error, attempt=attempt)
                await _wait(stop, self._backoff.delay(attempt))

    async def _listen_and_publish(self, stop: asyncio.Event) -> None:
        listener = await self._pool.acquire()
        try:
            await listener.add_listener(OUTBOX_CHANNEL, self._notified)
            while not stop.is_set():
                self._wake.clear()
                # On the listening connection: no pool acquire and reset per pass. A NOTIFY
                # that comes during the pass's transaction is delivered after it and sets
                # the wake-up again, so the next pass starts at once.
                await self.publish_pending(listener)
                await _wait_any(stop, self._wake, self._poll)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(OUTBOX_CHANNEL, self._notified)
            with contextlib.suppress(Exception):
                await self._pool.release(listener)

    def _notified(self, *_args: object) -> None:
        self._wake.set()


def _first_error(results: list[object]) -> BaseException | None:
    return next((r for r in results if isinstance(r, BaseException)), None)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


async def _wait_any(first: asyncio.Event, second: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(first.wait()), asyncio.create_task(second.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
