"""Kafka client factories with the project's safe defaults (acks=all, idempotence, manual commits).

aiokafka defaults to ``acks=1`` without idempotence and FastStream to auto-commit
(at-most-once); both would lose events here, so every client is built through these factories.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from services.common.settings import CommonSettings

METADATA_WAIT_SECONDS = 30.0
SAFE_PRODUCER_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
}


def create_producer(settings: CommonSettings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer that waits for all in-sync replicas."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **{**SAFE_PRODUCER_OPTIONS, **overrides},
    )


def create_consumer(
    settings: CommonSettings, *topics: str, group_id: str, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer that never commits on its own and reads only committed records.

    Offsets move only after effects are durable (the consumer edge commits them). Without
    ``topics`` it is not subscribed yet (the edge subscribes with its rebalance listener)."""
    options: dict[str, Any] = {
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
    }
    return AIOKafkaConsumer(
        *topics, bootstrap_servers=settings.kafka_bootstrap_servers, **{**options, **overrides}
    )


def create_broker(settings: CommonSettings, **overrides: Any) -> KafkaBroker:
    """A FastStream broker whose publishers are idempotent and whose subscribers ack manually."""
    options: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "ack_policy": AckPolicy.MANUAL,
        # One INFO line per message halves throughput; errors still log.
        "log_level": logging.DEBUG,
    }
    # FastStream wraps a string into a one-item list, so "a:9092,b:9094" would be one host.
    servers = [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()]
    return KafkaBroker(servers, **{**options, **overrides})


def create_reader(settings: CommonSettings) -> AIOKafkaConsumer:
    """A group-less consumer that sees only committed records and never commits itself."""
    return AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        isolation_level="read_committed",
        enable_auto_commit=False,
    )


async def end_offsets(settings: CommonSettings, topics: list[str]) -> dict[TopicPartition, int]:
    """The committed end of every partition of the topics (where a new reader would start)."""
    consumer = create_reader(settings)
    await consumer.start()
    try:
        # Topics created moments ago (a fresh cluster) may not be in the metadata yet: ask
        # again until every one is, for up to METADATA_WAIT_SECONDS.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + METADATA_WAIT_SECONDS
        for topic in topics:
            consumer._client.add_topic(topic)
        while True:
            await consumer._client.force_metadata_update()
            missing = [t for t in topics if not consumer.partitions_for_topic(t)]
            if not missing or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()
