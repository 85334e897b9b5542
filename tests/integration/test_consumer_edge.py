"""The consumer edge on the real broker: committed reads, raw bytes, poison isolation, calm
backoff, offsets that reach the end, and health that means something."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from services.common.consumer_edge import ConsumedRecord, ConsumerEdge, EdgeConfig
from services.common.health import HealthServer
from services.common.kafka_clients import create_producer
from services.common.logging import configure_logging
from services.common.outages import Backoff
from services.common.settings import CommonSettings
from tests.kafka_tools import end_offsets

NewTopic = Callable[..., Coroutine[Any, Any, str]]
FAST = Backoff(base=0.05, cap=0.2)


@dataclass
class RecordingHandler:
    """Remembers what it handled and rejected; fails as the test tells it to."""

    bad_values: set[bytes] = field(default_factory=set)
    outage_calls: int = 0  # the next n calls of handle fail as if the database were away
    probe_fails: bool = False
    calls: int = 0
    handled: list[bytes] = field(default_factory=list)
    rejected: list[tuple[bytes, str, str]] = field(default_factory=list)
    headers: list[tuple[tuple[str, bytes], ...]] = field(default_factory=list)
    gate: asyncio.Event | None = None  # while unset, handle waits (a wedged handler)

    async def handle(self, records: Sequence[ConsumedRecord]) -> None:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.outage_calls > 0:
            self.outage_calls -= 1
            raise ConnectionRefusedError("database away")
        if any(r.value in self.bad_values for r in records):
            raise ValueError("this record breaks the handler")
        self.handled.extend(r.value or b"" for r in records)
        self.headers.extend(r.headers for r in records)

    async def reject(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        self.rejected.append((record.value or b"", reason, detail))

    async def probe(self) -> None:
        if self.probe_fails:
            raise ConnectionRefusedError("database away")


@pytest.fixture
async def topic(new_topic: NewTopic) -> str:
    return await new_topic("edge", partitions=2)


@pytest.fixture
async def producer(settings: CommonSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = create_producer(settings)
    await producer.start()
    yield producer
    await producer.stop()


def edge_for(
    settings: CommonSettings, topic: str, handler: RecordingHandler, **config: Any
) -> ConsumerEdge:
    options: dict[str, Any] = {
        "name": "test",
        "topics": (topic,),
        "group_id": f"edge-test-{uuid.uuid4().hex[:8]}",
        "max_records": 50,
        "poll_timeout_ms": 100,
        "backoff": FAST,
        **config,
    }
    return ConsumerEdge(settings, EdgeConfig(**options), handler)


async def send_all(producer: AIOKafkaProducer, topic: str, values: list[bytes]) -> None:
    for value in values:
        await producer.send_and_wait(topic, value, key=b"k", partition=0)


async def until(condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


async def committed_offsets(edge: ConsumerEdge, topic: str) -> dict[TopicPartition, int]:
    consumer = edge._consumer
    assert consumer is not None
    result = {}
    for tp in consumer.assignment():
        if tp.topic == topic:
            result[tp] = await consumer.committed(tp) or 0
    return result


async def test_a_record_that_fails_alone_is_rejected_and_every_record_after_it_is_handled(
    settings: CommonSettings, topic: str, producer: AIOKafkaProducer
) -> None:
    values = [f"r{n}".encode() for n in range(40)]
    handler = RecordingHandler(bad_values={b"r17"})
    await send_all(producer, topic, values)
    edge = edge_for(settings, topic, handler)
    await edge.start()
    try:
        await until(lambda: len(handler.handled) + len(handler.rejected) >= len(values))
    finally:
        await edge.stop()

    assert handler.rejected == [(b"r17", "processing_failed", "ValueError")]
    assert sorted(handler.handled) == sorted(v for v in values if v != b"r17")
    assert Counter(handler.handled).most_common(1)[0][1] == 1  # nothing handled twice


async def test_an_outage_rewinds_and_retries_the_batch_and_dead_letters_nothing(
    settings: CommonSettings,
    topic: str,
    producer: AIOKafkaProducer,
    session_log_lines: Any,
) -> None:
    values = [f"o{n}".encode() for n in range(10)]
    handler = RecordingHandler(outage_calls=5)
    await send_all(producer, topic, values)
    configure_logging("INFO", json=True)  # through the standard library, as in a service
    before = len(session_log_lines.lines)
    edge = edge_for(settings, topic, handler)
    await edge.start()
    try:
        await until(lambda: len(handler.handled) >= len(values))
    finally:
        await edge.stop()

    lines = session_log_lines.lines[before:]
    retries = [line for line in lines if "dependency unavailable; will retry" in line]
    assert handler.rejected == []
    assert sorted(handler.handled) == sorted(values)
    assert len(retries) == 5  # one calm line per attempt
    assert not any("Traceback" in line for line in lines)


async def test_a_record_is_not_blamed_while_the_dependencies_do_not_answer(
    settings: CommonSettings, topic: str, producer: AIOKafkaProducer
) -> None:
    handler = RecordingHandler(bad_values={b"p1"}, probe_fails=True)
    await send_all(producer, topic, [b"p0", b"p1", b"p2"])
    edge = edge_for(settings, topic, handler)
    await edge.start()
    try:
        await until(lambda: b"p0" in handler.handled and handler.calls >= 8)
        assert handler.rejected == []  # the probe says "outage": nothing is dead-lettered
        handler.probe_fails = False
        await until(lambda: len(handler.rejected) == 1 and b"p2" in handler.handled)
    finally:
        await edge.stop()

    assert handler.handled.count(b"p0") == 1  # the settled front is never redone
    assert [value for value, _reason, _detail in handler.rejected] == [b"p1"]


async def test_headers_that_are_not_utf8_reach_the_handler_as_bytes(
    settings: CommonSettings, topic: str, producer: AIOKafkaProducer
) -> None:
    handler = RecordingHandler()
    await producer.send_and_wait(topic, b"v0", partition=0)
    await producer.send_and_wait(
        topic, b"v1", partition=0, headers=[("ce_source", b"/iiz/bl/r\xe4v")]
    )
    await producer.send_and_wait(topic, b"v2", partition=0)
    edge = edge_for(settings, topic, handler)
    await edge.start()
    try:
        await until(lambda: len(handler.handled) == 3)
    finally:
        await edge.stop()

    assert handler.handled == [b"v0", b"v1", b"v2"]
    assert (("ce_source", b"/iiz/bl/r\xe4v"),) in handler.headers


async def test_an_aborted_transaction_is_never_handed_to_the_handler_and_lag_reaches_zero(
    settings: CommonSettings, topic: str
) -> None:
    writer = create_producer(settings, transactional_id=f"edge-test-{uuid.uuid4().hex[:8]}")
    await writer.start()
    try:
        async with writer.transaction():
            await writer.send(topic, b"committed-1", partition=0)
        await writer.begin_transaction()  # the sender gives up: the transaction aborts
        await writer.send(topic, b"aborted", partition=0)
        await writer.flush()
        await writer.abort_transaction()
        async with writer.transaction():
            await writer.send(topic, b"committed-2", partition=0)
    finally:
        await writer.stop()
    handler = RecordingHandler()
    edge = edge_for(settings, topic, handler)
    ends = await end_offsets(settings, [topic])
    await edge.start()
    try:
        await until(lambda: len(handler.handled) == 2)

        async def at_end() -> bool:
            return await committed_offsets(edge, topic) == {
                tp: ends[tp] for tp in ends if tp.partition in (0, 1)
            }

        deadline = time.monotonic() + 30
        while not await at_end():
            assert time.monotonic() < deadline, await committed_offsets(edge, topic)
            await asyncio.sleep(0.05)
        assert edge.health().lag == 0
    finally:
        await edge.stop()

    assert handler.handled == [b"committed-1", b"committed-2"]
    assert ends[TopicPartition(topic, 0)] == 6  # 3 records and 3 transaction markers


async def test_health_is_ready_once_joined_and_not_live_while_a_wedged_handler_holds_lag(
    settings: CommonSettings, topic: str, producer: AIOKafkaProducer
) -> None:
    handler = RecordingHandler(gate=asyncio.Event())
    edge = edge_for(settings, topic, handler, stall_seconds=0.5)
    await edge.start()
    server = HealthServer([edge], host="127.0.0.1", port=0)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{base}/readyz")).status_code == 200
            assert (await client.get(f"{base}/livez")).status_code == 200
            await send_all(producer, topic, [b"w0", b"w1"])
            deadline = time.monotonic() + 30
            while (live := await client.get(f"{base}/livez")).status_code == 200:
                assert time.monotonic() < deadline, "a wedged edge stayed live"
                await asyncio.sleep(0.1)
            assert live.status_code == 503
            assert live.json()["edges"][0]["live"] is False
            assert handler.gate is not None
            handler.gate.set()
            await until(lambda: len(handler.handled) == 2)
            deadline = time.monotonic() + 30
            while (await client.get(f"{base}/livez")).status_code != 200:
                assert time.monotonic() < deadline, "the edge did not come back to life"
                await asyncio.sleep(0.1)
    finally:
        assert handler.gate is not None
        handler.gate.set()
        await server.stop()
        await edge.stop()
