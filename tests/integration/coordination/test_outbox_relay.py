"""The outbox relay on the real database and broker: every delivery leaves once, in order per key.

The processor writes the deliveries of thirty persons (RAV, IV-Stelle and the social services of
Liestal all take part, with consent) into the outbox; then relays publish them to
``iiz.deliveries.v1``. Deliveries are read back from the topic's end offsets taken before.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError

from schemas.codec import to_kafka
from schemas.envelope import CloudEvent
from schemas.events import (
    CaseOpened,
    ConsentGranted,
    MeasureStarted,
    NoteAdded,
    ParticipantJoined,
)
from schemas.topics import CASE_EVENTS, DELIVERIES
from schemas.vocabulary import DataCategory, MeasureKind, ParticipantRole
from services.common.kafka_clients import create_producer
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.deliveries import delivery_id
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.relay import OutboxRelay
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import Publish, eventually
from tests.kafka_tools import Record, end_offsets, read_until

SH = "sozialhilfe-2829"
PERSONS = 30
MISSING_TOPIC = "iiz.no-such-topic.v1"  # the broker refuses it (topics are not auto-created)


@pytest.fixture
async def runtime(
    coordination_settings: CoordinationSettings,
) -> AsyncIterator[CoordinationRuntime]:
    """Coordination's resources without the consumer, relay or scheduler running."""
    built = CoordinationRuntime(coordination_settings)
    await built.start()
    yield built
    await built.stop()


@pytest.fixture
async def second_producer(
    coordination_settings: CoordinationSettings,
) -> AsyncIterator[AIOKafkaProducer]:
    producer = create_producer(coordination_settings)
    await producer.start()
    yield producer
    await producer.stop()


def busy_story(seed: int) -> CaseStory:
    """Three institutions with consent; every later event goes to the two others."""
    story = CaseStory(person_seed=seed)
    story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    story.rav(
        ConsentGranted,
        institutions=["rav", "iv", SH],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT, DataCategory.IDENTITY],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1",
    )
    story.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    story.rav(ParticipantJoined, institution=SH, role=ParticipantRole.PARTICIPANT)
    for n in range(3):
        story.rav(MeasureStarted, kind=MeasureKind.COACHING)
        story.iv(NoteAdded, text=f"Gespräch {n} geführt.")
        story.sozialhilfe_2829(NoteAdded, text=f"Budget {n} besprochen.")
    return story


async def feed_interleaved(runtime: CoordinationRuntime, stories: list[CaseStory]) -> None:
    """The persons' events in round-robin order, so their outbox rows interleave."""
    longest = max(len(s.events) for s in stories)
    events = [s.events[i] for i in range(longest) for s in stories if i < len(s.events)]
    records = []
    for offset, event in enumerate(events):
        r = to_kafka(event)
        records.append(BusRecord(CASE_EVENTS, 0, offset, r.key, r.value, r.headers))
    await runtime.processor().process(records)


async def outbox(db: asyncpg.Pool) -> list[asyncpg.Record]:
    rows = await db.fetch("SELECT id, delivery_id, lane, key, published_at FROM outbox ORDER BY id")
    return list(rows)


async def pending(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


def header(record: Record, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


async def read_deliveries(
    settings: CoordinationSettings, start: Any, wanted: set[str]
) -> list[Record]:
    """Records of ``iiz.deliveries.v1`` from ``start`` until every wanted id was seen."""

    def all_seen(records: list[Record]) -> bool:
        return wanted <= {header(r, "ce_id") for r in records}

    records = await read_until(settings, start, all_seen, within=60)
    mine = [r for r in records if header(r, "ce_id") in wanted]
    return sorted(mine, key=lambda r: (r.partition, r.offset))


async def test_two_relays_publish_every_delivery_exactly_once_in_order_per_key(
    runtime: CoordinationRuntime, second_producer: AIOKafkaProducer, db: asyncpg.Pool
) -> None:
    settings = runtime.settings
    start = await end_offsets(settings, [DELIVERIES])
    await feed_interleaved(runtime, [busy_story(seed) for seed in range(6100, 6100 + PERSONS)])
    rows = await outbox(db)
    assert len(rows) >= PERSONS * 18, "every person's later events go to two institutions"
    lanes = settings.coordination_outbox_lanes
    assert runtime.pool is not None
    one = OutboxRelay(runtime.pool, runtime.producer, lanes=lanes, batch=7)
    other = OutboxRelay(db, second_producer, lanes=lanes, batch=7)
    published: list[int] = []

    async def drained() -> bool:
        published.extend(await asyncio.gather(one.publish_pending(), other.publish_pending()))
        return await pending(db) == 0

    await eventually(drained, within=60)

    assert sum(published) == len(rows), "the table counts every row published once"
    assert all(row["published_at"] is not None for row in await outbox(db))
    wanted = {str(row["delivery_id"]) for row in rows}
    delivered = await read_deliveries(settings, start, wanted)
    assert Counter(header(r, "ce_id") for r in delivered) == Counter(wanted)
    decided: dict[bytes, list[str]] = defaultdict(list)
    for row in rows:
        decided[bytes(row["key"])].append(str(row["delivery_id"]))
    arrived: dict[bytes, list[str]] = defaultdict(list)
    for record in delivered:
        arrived[record.key].append(str(header(record, "ce_id")))
    assert arrived == decided, "per key, deliveries leave in outbox id order"


class RefusingAfter:
    """A real producer that sends the first ``n`` records, then only to a topic that does not
    exist: the broker refuses those (as it would a send while it is away)."""

    def __init__(self, producer: AIOKafkaProducer, n: int) -> None:
        self._producer = producer
        self._left = n

    async def send(self, topic: str, **kwargs: Any) -> Any:
        self._left -= 1
        return await self._producer.send(topic if self._left >= 0 else MISSING_TOPIC, **kwargs)


@pytest.mark.parametrize("midway", [False, True], ids=["refused-at-once", "refused-at-lane-end"])
async def test_rows_the_broker_did_not_take_stay_pending_and_a_later_pass_publishes_them(
    runtime: CoordinationRuntime, db: asyncpg.Pool, midway: bool
) -> None:
    settings = runtime.settings
    start = await end_offsets(settings, [DELIVERIES])
    await feed_interleaved(runtime, [busy_story(seed) for seed in range(6200, 6203)])
    rows = await outbox(db)
    first_lane = Counter(row["lane"] for row in rows)[min(row["lane"] for row in rows)]
    sent_before_failing = first_lane - 1 if midway else 0  # all of the lane but its last row
    impatient = create_producer(settings, request_timeout_ms=1500)
    await impatient.start()
    try:
        failing = OutboxRelay(
            runtime.pool,
            RefusingAfter(impatient, sent_before_failing),
            lanes=settings.coordination_outbox_lanes,
            batch=len(rows),
        )
        with pytest.raises(UnknownTopicOrPartitionError):
            await failing.publish_pending()
    finally:
        await impatient.stop()

    assert await pending(db) == len(rows), "a lane is marked only after every send was acked"
    await eventually(lambda: _drain(runtime))

    wanted = {str(row["delivery_id"]) for row in rows}
    delivered = await read_deliveries(settings, start, wanted)
    assert {header(r, "ce_id") for r in delivered} == wanted, "nothing lost"


async def _drain(runtime: CoordinationRuntime) -> bool:
    assert runtime.pool is not None
    await runtime.relay().publish_pending()
    return await pending(runtime.pool) == 0


async def test_a_published_event_reaches_the_deliveries_topic_promptly(
    running_coordination: CoordinationSettings, publish: Publish
) -> None:
    story = CaseStory(person_seed=6300)
    story.rav(CaseOpened)
    story.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1",
    )
    joined: CloudEvent[Any] = story.rav(
        ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT
    )
    coaching: CloudEvent[Any] = story.rav(MeasureStarted, kind=MeasureKind.COACHING)
    start = await end_offsets(running_coordination, [DELIVERIES])

    await publish(story.events)

    wanted = {str(delivery_id(e.id, "iv")) for e in (joined, coaching)}
    delivered = await read_until(
        running_coordination,
        start,
        lambda records: wanted <= {header(r, "ce_id") for r in records},
        within=20,
    )
    assert wanted <= {header(r, "ce_id") for r in delivered}
