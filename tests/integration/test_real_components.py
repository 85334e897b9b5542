"""The infrastructure under the tests is a real Apache Kafka broker and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import ApiVersionRequest

from services.common.kafka_clients import create_broker, create_consumer, create_producer
from services.common.settings import CommonSettings
from tests.infra import REPO, Infra

NewTopic = Callable[..., Awaitable[str]]

# ConsumerGroupHeartbeat (KIP-848) exists only in Kafka >= 3.7; an API a stand-in would not have.
CONSUMER_GROUP_HEARTBEAT_API_KEY = 68


async def test_the_broker_is_apache_kafka_with_a_cluster_id(
    kafka_admin: AIOKafkaAdminClient, infra: Infra
) -> None:
    cluster = await kafka_admin.describe_cluster()
    node = kafka_admin._client.get_random_node()
    versions = await kafka_admin._client.send(node, ApiVersionRequest())

    api_keys = {api_key for api_key, _min, _max in versions.api_versions}
    assert cluster["cluster_id"]
    assert CONSUMER_GROUP_HEARTBEAT_API_KEY in api_keys
    if infra.origin == "infra/local":
        stored = (REPO / ".infra" / "kafka" / "cluster-id").read_text().strip()
        assert cluster["cluster_id"] == stored


async def test_an_idempotent_producer_and_a_manually_committing_consumer_round_trip(
    settings: CommonSettings, new_topic: NewTopic
) -> None:
    topic = await new_topic("roundtrip")
    producer = create_producer(settings)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"event-{n}".encode(), key=b"person-1")
    finally:
        await producer.stop()

    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = create_consumer(settings, topic, group_id=group)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000, max_records=5)
        received = [m.value for records in batch.values() for m in records]
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()

    assert received == [f"event-{n}".encode() for n in range(5)]
    assert committed == 5


async def test_a_faststream_subscriber_receives_a_message_from_the_real_broker(
    settings: CommonSettings, new_topic: NewTopic
) -> None:
    topic = await new_topic("faststream")
    broker = create_broker(settings)
    received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    @broker.subscriber(topic, group_id=f"g-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest")
    async def on_message(body: bytes) -> None:
        if not received.done():
            received.set_result(body)

    async with broker:
        await broker.start()
        await broker.publish(b"hello from the bus", topic=topic)
        body = await asyncio.wait_for(received, timeout=30)

    assert body == b"hello from the bus"


async def test_asyncpg_round_trips_through_postgresql(pg: asyncpg.Connection) -> None:
    await pg.execute("CREATE TABLE probe (id uuid PRIMARY KEY, note text NOT NULL)")
    row_id = uuid.uuid4()
    await pg.execute("INSERT INTO probe VALUES ($1, $2)", row_id, "Fallkonferenz")

    row = await pg.fetchrow("SELECT id, note FROM probe")
    version = await pg.fetchval("SHOW server_version_num")

    assert row is not None
    assert (row["id"], row["note"]) == (row_id, "Fallkonferenz")
    assert int(version) >= 150000
