"""One committed-only reader over every topic the suite watches, from the run's start offsets.

It keeps every record it read (this run's records only: each topic is read from where it ended
when the run began, and the runs of a suite follow each other) and tells listeners about each
one (the partners' receipts). ``caught_up`` waits until it has read to the current end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.common.kafka_clients import create_reader
from services.common.settings import CommonSettings


@dataclass(frozen=True, slots=True)
class Seen:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        raw = next((v for k, v in self.headers if k == name), None)
        return None if raw is None else raw.decode("utf-8", "replace")

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


class Tail:
    def __init__(self, settings: CommonSettings, start: dict[TopicPartition, int]) -> None:
        self._settings = settings
        self._start = dict(start)
        self.records: dict[str, list[Seen]] = defaultdict(list)
        self.listeners: list[Callable[[Seen], None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.errors = 0

    async def start(self) -> None:
        self._consumer = create_reader(self._settings)
        await self._consumer.start()
        self._consumer.assign(list(self._start))
        for tp, offset in self._start.items():
            self._consumer.seek(tp, offset)
        self._task = asyncio.create_task(self._read(self._consumer))

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=300, max_records=5000)
            except KafkaError:
                self.errors += 1  # the broker is away (a fault of the run): read on
                await asyncio.sleep(0.5)
                continue
            for part in batch.values():
                for r in part:
                    seen = Seen(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers))
                    self.records[r.topic].append(seen)
                    for listener in self.listeners:
                        listener(seen)

    async def caught_up(self, within: float = 60.0) -> bool:
        """Until every partition is read to its current (committed) end; False on timeout."""
        assert self._consumer is not None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                ends = await self._consumer.end_offsets(list(self._start))
                behind = [tp for tp, end in ends.items() if await self._consumer.position(tp) < end]
            except KafkaError:
                await asyncio.sleep(0.5)
                continue
            if not behind:
                return True
            await asyncio.sleep(0.2)
        return False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
