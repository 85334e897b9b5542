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
- Latency: consumers ``NOTIFY iiz_outbox`` in the transaction that writes rows; the relay
  ``LISTEN``s and falls back to polling.
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

    async def publish_pending(self) -> int:
        """One pass over every lane this relay can take; returns how many rows it published."""
        published, failures = 0, []
        for lane in range(self._lanes):
            try:
                while True:
                    sent = await self._publish_lane(lane)
                    published += sent
                    if sent < self._batch:
                        break
            except Exception as error:  # this lane waits for the next pass; the others go on
                log_failure(log, "outbox lane failed; its rows stay for the next pass", error)
                failures.append(error)
        if failures and not published:
            raise failures[0]
        return published

    async def _publish_lane(self, lane: int) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            # The lock's first key is the schema, so coordinations sharing a database
            # (staging next to test) never hold each other's lanes.
            if not await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || $1), $2)",
                LANE_LOCK_CLASS,
                lane,
            ):
                return 0  # another relay publishes this lane right now
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox"
                " WHERE lane = $1 AND published_at IS NULL ORDER BY id LIMIT $2"
                " FOR UPDATE SKIP LOCKED",
                lane,
                self._batch,
            )
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    row["topic"],
                    key=row["key"],
                    value=row["value"],
                    headers=[(k, v.encode("utf-8")) for k, v in json.loads(row["headers"])],
                )
                for row in rows
            ]
            for future in pending:
                await future
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
            return len(rows)

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
                await self.publish_pending()
                await _wait_any(stop, self._wake, self._poll)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(OUTBOX_CHANNEL, self._notified)
            with contextlib.suppress(Exception):
                await self._pool.release(listener)

    def _notified(self, *_args: object) -> None:
        self._wake.set()


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
