"""Kafka client factories with the project's safe defaults (acks=all, idempotence, manual commits).

aiokafka defaults to ``acks=1`` without idempotence and FastStream to auto-commit
(at-most-once); both would lose events here, so every client is built through these factories.
They also connect the way the settings say: SASL_SSL (SCRAM, TLS verified against the CA file)
as the settings' principal, or PLAINTEXT where the settings ask for it (a development broker).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLScram256, SASLScram512

from services.common.settings import CommonSettings

METADATA_WAIT_SECONDS = 30.0
CONSUMER_FETCH_MAX_WAIT_MS = 50
# What a consumer buffers ahead of its handler: aiokafka's 50 MiB per fetch let a backlog on
# intake's 24 partitions fill the process with records decoded long before their batch (a
# batch is 500 records of about 1 KiB). Per partition it keeps aiokafka's 1 MiB: the producers
# write batches of up to 512 KiB, and a smaller limit would hand a busy partition one batch
# per round trip.
CONSUMER_PARTITION_FETCH_BYTES = 1024 * 1024
CONSUMER_FETCH_MAX_BYTES = 4 * 1024 * 1024
SAFE_PRODUCER_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    # No linger: every producer here hands a whole batch to send() without yielding and then
    # awaits the acks (or commits, which closes the batches anyway), so records already go out
    # together; a linger only added its 5 ms to every relay pass and router round.
    "linger_ms": 0,
    # aiokafka's default of 16 KiB per partition batch made a producer wait for the previous
    # request's acks=all about every ten records (19 produce requests per batch of 500 at
    # intake); 512 KiB stays well inside max_request_size and the broker's message.max.bytes.
    "max_batch_size": 512 * 1024,
}


def tls_context(settings: CommonSettings) -> ssl.SSLContext:
    """TLS that verifies the brokers' certificates (and host names) against the CA file, or
    against the system's CAs when no file is set."""
    cafile = str(settings.kafka_ca_file) if settings.kafka_ca_file is not None else None
    context: ssl.SSLContext = create_ssl_context(cafile=cafile)
    return context


def _credentials(settings: CommonSettings) -> tuple[str, str]:
    if not settings.kafka_username or settings.kafka_password is None:
        # The settings refuse this on their own; model_copy(update=...) does not validate.
        raise ValueError("SASL_SSL needs IIZ_KAFKA_USERNAME and IIZ_KAFKA_PASSWORD")
    return settings.kafka_username, settings.kafka_password.get_secret_value()


def connection_options(settings: CommonSettings) -> dict[str, Any]:
    """The aiokafka options every client connects with: servers, protocol, SASL and TLS."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers}
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {**options, "security_protocol": "PLAINTEXT"}
    username, password = _credentials(settings)
    return {
        **options,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "ssl_context": tls_context(settings),
    }


def broker_security(settings: CommonSettings) -> BaseSecurity | None:
    """The same connection for FastStream (None: PLAINTEXT)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    username, password = _credentials(settings)
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    return scram(username, password, ssl_context=tls_context(settings), use_ssl=True)


def create_producer(settings: CommonSettings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent producer that waits for all in-sync replicas."""
    return AIOKafkaProducer(
        **{**connection_options(settings), **SAFE_PRODUCER_OPTIONS, **overrides},
    )


def create_consumer(
    settings: CommonSettings, *topics: str, group_id: str, **overrides: Any
) -> AIOKafkaConsumer:
    """A consumer that never commits on its own and reads only committed records.

    Offsets move only after effects are durable (the consumer edge commits them). Without
    ``topics`` it is not subscribed yet (the edge subscribes with its rebalance listener).

    ``fetch_max_wait_ms`` 50 instead of aiokafka's 500: aiokafka keeps one fetch in flight per
    broker, and while a handler works it long-polls the partitions it has nothing buffered for.
    Records then arriving on a partition just handed to the handler waited for that fetch to
    come back (up to 500 ms, as long as the other partitions stayed quiet). The fetch sizes
    bound what a backlog buffers in memory. Both change when records are fetched, never what is
    committed."""
    options: dict[str, Any] = {
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "fetch_max_wait_ms": CONSUMER_FETCH_MAX_WAIT_MS,
        "max_partition_fetch_bytes": CONSUMER_PARTITION_FETCH_BYTES,
        "fetch_max_bytes": CONSUMER_FETCH_MAX_BYTES,
    }
    return AIOKafkaConsumer(*topics, **{**connection_options(settings), **options, **overrides})


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
    security = broker_security(settings)
    if security is not None:
        options["security"] = security
    return KafkaBroker(servers, **{**options, **overrides})


def create_reader(settings: CommonSettings, **overrides: Any) -> AIOKafkaConsumer:
    """A group-less consumer that sees only committed records and never commits itself."""
    options: dict[str, Any] = {"isolation_level": "read_committed", "enable_auto_commit": False}
    return AIOKafkaConsumer(**{**connection_options(settings), **options, **overrides})


def create_admin(settings: CommonSettings, **overrides: Any) -> AIOKafkaAdminClient:
    """An admin client (topics, groups, cluster metadata) as the settings' principal."""
    return AIOKafkaAdminClient(**{**connection_options(settings), **overrides})


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
