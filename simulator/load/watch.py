"""What the load run watches while it sends: the partners' delivery topics (every record, with
the time it was read) and the services' consumer groups (their lag, once a second)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from services.common.kafka_clients import create_admin, create_reader, end_offsets
from services.common.settings import CommonSettings
from simulator.load.lag import LagSample, Partition, group_lag
from simulator.load.latency import Arrival


def _header(headers: Sequence[tuple[str, bytes | None]], name: str) -> str | None:
    raw = next((v for k, v in headers if k == name), None)
    return None if raw is None else raw.decode("utf-8", "replace")


class DeliveryWatch:
    """Reads every institution's delivery topic from its current end, as the partners would
    (only committed records); keeps an ``Arrival`` per record."""

    def __init__(self, settings: CommonSettings, topics: Sequence[str]) -> None:
        self._settings = settings
        self._topics = list(topics)
        self.arrivals: list[Arrival] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        positions = await end_offsets(self._settings, self._topics)
        # A short fetch wait: the reader's own wait would count as the bus's latency.
        self._consumer = create_reader(self._settings, fetch_max_wait_ms=20)
        await self._consumer.start()
        self._consumer.assign(list(positions))
        for partition, offset in positions.items():
            self._consumer.seek(partition, offset)
        self._task = asyncio.create_task(self._read(self._consumer))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in batch.values():
                for record in records:
                    self.arrivals.append(self._arrival(record, now))

    @staticmethod
    def _arrival(record: Any, now: float) -> Arrival:
        headers = record.headers
        return Arrival(
            record_id=_header(headers, "ce_id") or f"{record.topic}/{record.offset}",
            causation=_header(headers, "ce_causationid"),
            type=_header(headers, "ce_type") or "",
            at=now,
        )


class LagWatch:
    """Every ``every`` seconds: each group's lag over its topics, and their end offsets."""

    def __init__(
        self, settings: CommonSettings, groups: Mapping[str, Sequence[str]], every: float = 1.0
    ) -> None:
        self._settings = settings
        self._groups = {g: list(t) for g, t in groups.items()}
        self._every = every
        self.samples: list[LagSample] = []
        self.partitions: dict[str, list[TopicPartition]] = {}
        self._start: dict[Partition, int] = {}
        self._admin: AIOKafkaAdminClient | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        topics = sorted({t for ts in self._groups.values() for t in ts})
        ends = await end_offsets(self._settings, topics)
        self._start = {(tp.topic, tp.partition): at for tp, at in ends.items()}
        self.partitions = {
            g: [tp for tp in ends if tp.topic in ts] for g, ts in self._groups.items()
        }
        self._admin = create_admin(self._settings)
        await self._admin.start()
        self._reader = create_reader(self._settings)
        await self._reader.start()
        self.samples.append(await self.sample())
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._reader is not None:
            await self._reader.stop()
        if self._admin is not None:
            await self._admin.close()

    def floor(self, group: str) -> int:
        """A transaction marker per partition is no backlog."""
        return len(self.partitions[group])

    async def sample(self) -> LagSample:
        assert self._reader is not None, "start() first"
        assert self._admin is not None, "start() first"
        every = [tp for tps in self.partitions.values() for tp in tps]
        ends = {
            (tp.topic, tp.partition): at
            for tp, at in (await self._reader.end_offsets(every)).items()
        }
        lag: dict[str, int] = {}
        sums: dict[str, int] = {}
        for group, tps in self.partitions.items():
            offsets = await self._admin.list_consumer_group_offsets(group)
            committed = {
                (tp.topic, tp.partition): meta.offset
                for tp, meta in offsets.items()
                if meta.offset >= 0
            }
            mine = {(tp.topic, tp.partition): ends[(tp.topic, tp.partition)] for tp in tps}
            lag[group] = group_lag(mine, committed, self._start)
            sums[group] = sum(mine.values())
        return LagSample(time.time(), lag, sums)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                self.samples.append(await self.sample())
            except KafkaError as error:  # a missed sample is a gap in the curve, not the end
                print(f"  lag sample failed: {error!r}", flush=True)

    def between(self, begin: float, end: float) -> list[LagSample]:
        return [s for s in self.samples if begin <= s.at <= end]
