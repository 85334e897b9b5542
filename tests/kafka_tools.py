"""Helpers for tests on the real broker: positions instead of sleeps, reads until a condition."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.common.kafka_clients import create_consumer, create_reader, end_offsets

__all__ = ["end_offsets", "prime_group_at_end", "read_all", "read_between", "read_until"]
from services.common.settings import CommonSettings
from services.coordination.worker.effects import BusRecord

Record = ConsumerRecord[bytes, bytes]


async def prime_group_at_end(settings: CommonSettings, group_id: str, topics: list[str]) -> None:
    """Commit the group's offsets at the current end, so it processes only what comes next."""
    offsets = await end_offsets(settings, topics)
    consumer = create_consumer(settings, group_id=group_id)
    await consumer.start()
    try:
        consumer.assign(list(offsets))  # a manually assigned consumer may commit for its group
        await consumer.commit({tp: offset for tp, offset in offsets.items()})
    finally:
        await consumer.stop()


async def read_until(
    settings: CommonSettings,
    start: dict[TopicPartition, int],
    done: Callable[[list[Record]], bool],
    *,
    within: float = 60.0,
) -> list[Record]:
    """Read committed records from the given positions until ``done(records)`` or time runs out."""
    consumer = create_reader(settings)
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + within
        while True:  # at least one fetch, so `done` sees what is there now
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
            if done(records):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {within}s; got {len(records)}")
    finally:
        await consumer.stop()
    return records


async def read_all(
    settings: CommonSettings, topics: list[str], *, within: float = 120.0
) -> list[Record]:
    """Every committed record of the topics up to their current end.

    Positions, not counts: transaction markers take offsets but are never returned.
    """
    ends = await end_offsets(settings, topics)
    consumer = create_reader(settings)
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        deadline = time.monotonic() + within
        while await _behind(consumer, ends):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read to the end within {within}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for part in batch.values():
                records.extend(part)
    finally:
        await consumer.stop()
    return records


async def read_between(
    settings: CommonSettings,
    start: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    *,
    within: float = 60.0,
) -> list[Record]:
    """Every committed record from the ``start`` positions up to the ``ends`` positions."""
    consumer = create_reader(settings)
    await consumer.start()
    records: list[Record] = []
    try:
        consumer.assign(list(ends))
        for tp in ends:
            consumer.seek(tp, start.get(tp, 0))
        deadline = time.monotonic() + within
        while await _behind(consumer, ends):
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read to the end within {within}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for part in batch.values():
                records.extend(
                    r for r in part if r.offset < ends[TopicPartition(r.topic, r.partition)]
                )
    finally:
        await consumer.stop()
    return records


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def bus_records(settings: CommonSettings, topic: str) -> list[BusRecord]:
    """Every committed record of ``topic``, as the coordination worker's batches hold them."""
    return [
        BusRecord(topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
        for r in await read_all(settings, [topic])
    ]
