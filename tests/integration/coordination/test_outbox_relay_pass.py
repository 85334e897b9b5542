"""The outbox relay's pass on the real database and broker: one transaction over every lane it
can take, a lane held elsewhere or refused by the broker waits alone, and a notification (not
the poll) starts the pass.

Rows come from the processor (the deliveries of a few persons, RAV, IV-Stelle and the social
services of Liestal with consent), as in test_outbox_relay.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError

from schemas.codec import to_kafka
from schemas.events import CaseOpened, ConsentGranted, MeasureStarted, ParticipantJoined
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import DataCategory, MeasureKind, ParticipantRole
from services.common.kafka_clients import create_producer
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.relay import LANE_LOCK_CLASS, OutboxRelay
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import eventually

SH = "sozialhilfe-2829"


@pytest.fixture
async def runtime(
    coordination_settings: CoordinationSettings,
) -> AsyncIterator[CoordinationRuntime]:
    """Coordination's resources without the consumer, relay or scheduler running."""
    built = CoordinationRuntime(coordination_settings)
    await built.start()
    yield built
    await built.stop()


def story(seed: int) -> CaseStory:
    person = CaseStory(person_seed=seed)
    person.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    person.rav(
        ConsentGranted,
        institutions=["rav", "iv", SH],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1",
    )
    person.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    person.rav(ParticipantJoined, institution=SH, role=ParticipantRole.PARTICIPANT)
    person.rav(MeasureStarted, kind=MeasureKind.COACHING)
    return person


async def feed(runtime: CoordinationRuntime, seeds: range) -> None:
    events = [e for seed in seeds for e in story(seed).events]
    records = []
    for offset, event in enumerate(events):
        r = to_kafka(event)
        records.append(BusRecord(CASE_EVENTS, 0, offset, r.key, r.value, r.headers))
    await runtime.processor().process(records)


async def unpublished_by_lane(db: asyncpg.Pool) -> dict[int, int]:
    rows = await db.fetch(
        "SELECT lane, count(*) AS n FROM outbox WHERE published_at IS NULL GROUP BY lane"
    )
    return {row["lane"]: row["n"] for row in rows}


async def test_one_pass_publishes_every_free_lane_and_leaves_a_held_one(
    runtime: CoordinationRuntime, db: asyncpg.Pool
) -> None:
    await feed(runtime, range(6400, 6412))
    before = await unpublished_by_lane(db)
    assert len(before) >= 2, "rows in several lanes"
    held = min(before)
    relay = runtime.relay()
    async with db.acquire() as other, other.transaction():  # another relay holds this lane
        assert await other.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || $1), $2)",
            LANE_LOCK_CLASS,
            held,
        )
        published = await relay.publish_pending()
        assert await unpublished_by_lane(db) == {held: before[held]}
    assert published == sum(before.values()) - before[held]
    assert await relay.publish_pending() == before[held], "free again, the lane is published"
    assert await unpublished_by_lane(db) == {}


async def test_a_pass_claims_at_most_a_batch_per_lane_and_goes_on_until_none_is_full(
    runtime: CoordinationRuntime, db: asyncpg.Pool
) -> None:
    await feed(runtime, range(6420, 6432))
    total = sum((await unpublished_by_lane(db)).values())
    assert runtime.producer is not None
    lanes = runtime.settings.coordination_outbox_lanes
    relay = OutboxRelay(db, runtime.producer, lanes=lanes, batch=2)
    assert await relay.publish_pending() == total
    assert await unpublished_by_lane(db) == {}


class RefusingLane:
    """A real producer that refuses every record of one key: the broker refuses a topic that
    does not exist, as it would a record it cannot take."""

    def __init__(self, producer: AIOKafkaProducer, key: bytes) -> None:
        self._producer = producer
        self._key = key

    async def send(self, topic: str, **kwargs: Any) -> Any:
        if kwargs.get("key") == self._key:
            topic = "iiz.no-such-topic.v1"
        return await self._producer.send(topic, **kwargs)


async def test_a_lane_the_broker_refuses_keeps_its_rows_and_the_others_are_marked(
    runtime: CoordinationRuntime, db: asyncpg.Pool
) -> None:
    await feed(runtime, range(6440, 6452))
    before = await unpublished_by_lane(db)
    failing_lane = min(before)
    key = await db.fetchval(
        "SELECT key FROM outbox WHERE lane = $1 AND published_at IS NULL ORDER BY id LIMIT 1",
        failing_lane,
    )
    lanes = runtime.settings.coordination_outbox_lanes
    impatient = create_producer(runtime.settings, request_timeout_ms=1500)
    await impatient.start()
    try:
        relay = OutboxRelay(db, RefusingLane(impatient, bytes(key)), lanes=lanes)
        published = await relay.publish_pending()
        assert await unpublished_by_lane(db) == {failing_lane: before[failing_lane]}
        assert published == sum(before.values()) - before[failing_lane]

        with pytest.raises(UnknownTopicOrPartitionError):  # nothing else to publish: raised
            await relay.publish_pending()
        assert await unpublished_by_lane(db) == {failing_lane: before[failing_lane]}
    finally:
        await impatient.stop()
    assert await runtime.relay().publish_pending() == before[failing_lane]


async def test_a_notification_starts_a_pass_without_waiting_for_the_poll(
    runtime: CoordinationRuntime, db: asyncpg.Pool
) -> None:
    assert runtime.producer is not None
    lanes = runtime.settings.coordination_outbox_lanes
    relay = OutboxRelay(db, runtime.producer, lanes=lanes, poll_seconds=60.0)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(0.5)  # listening, first (empty) pass done
        await feed(runtime, range(6460, 6463))  # commits rows and NOTIFY iiz_outbox
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def drained() -> bool:
            return await unpublished_by_lane(db) == {}

        await eventually(drained, within=10)
        assert loop.time() - started < 5, "woken by the notification, not the 60 s poll"
    finally:
        stop.set()
        await running
