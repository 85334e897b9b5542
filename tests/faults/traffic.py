"""Realistic traffic: the simulator's Basel-Landschaft population (deterministic by seed), each
step put on the sender's intake topic by that partner's own plain idempotent producer, as a
partner system would, and poison at 1 in 50 on every consumed topic.

Each person's steps go in order, the next only after the previous one's receipt (so the bus
order of a person's events is the script's order); many persons run at once, paced to a target
rate so that a run's faults fall mid-stream. A partner whose send fails (broker away) sends the
same record again, as the contract says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from schemas.codec import KafkaRecord
from schemas.receipts import Receipt
from schemas.registry.institutions import InstitutionRegistry
from services.common.kafka_clients import create_producer
from services.common.settings import CommonSettings
from services.intake.submission import canonical_id
from simulator import wire
from simulator.credentials import PartnerSettings
from simulator.population import Population
from simulator.script import Expect, PersonScript, Step
from tests.faults.poison import Poison, PoisonFactory, PoisonSent
from tests.faults.tail import Seen, Tail

RECEIPT_TYPE = Receipt.cloud_event_type()
POISON_EVERY = 49  # one poison after every 49 valid submissions: 1 in 50
Note = Callable[[str], None]


@dataclass
class Submission:
    """One record a partner produced, and its answer."""

    step: Step
    channel: str
    canonical_id: uuid.UUID
    receipt: dict[str, Any] | None = None


@dataclass
class Receipts:
    """The receipts on the partners' delivery topics, by the channel they answer."""

    by_channel: dict[str, list[tuple[str, dict[str, Any]]]] = field(default_factory=dict)
    _waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    def see(self, seen: Seen) -> None:
        if seen.header("ce_type") != RECEIPT_TYPE or seen.value is None:
            return
        data = json.loads(seen.value)
        channel = data.get("channel", "")
        self.by_channel.setdefault(channel, []).append((seen.header("ce_id") or "", data))
        waiting = self._waiting.pop(channel, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(data)

    async def wait(self, channel: str, within: float) -> dict[str, Any] | None:
        if channel in self.by_channel:
            return self.by_channel[channel][0][1]
        future = asyncio.get_running_loop().create_future()
        self._waiting[channel] = future
        try:
            return await asyncio.wait_for(future, within)
        except TimeoutError:
            self._waiting.pop(channel, None)
            return None


class Traffic:
    def __init__(
        self,
        settings: CommonSettings,
        registry: InstitutionRegistry,
        population: Population,
        poison: PoisonFactory,
        tail: Tail,
        note: Note,
        *,
        seconds: float,
        concurrency: int = 24,
        receipt_timeout: float = 300.0,
        as_partner: PartnerSettings | None = None,
    ) -> None:
        """``settings``: the suite's own producer (poison on the bus's topics, e.g. as admin);
        ``as_partner``: each institution's own connection (default: ``settings``)."""
        self._settings = settings
        self._as_partner = as_partner
        self._registry = registry
        self.population = population
        self._poison = poison
        self._note = note
        self._concurrency = concurrency
        self._receipt_timeout = receipt_timeout
        self.receipts = Receipts()
        tail.listeners.append(self.receipts.see)
        self.total_valid = sum(1 for s in population.steps if s.expect is Expect.ACCEPTED)
        self._interval = seconds / max(1, len(population.steps))
        self._next_slot = 0.0
        self._producers: dict[str, AIOKafkaProducer] = {}
        self._internal: AIOKafkaProducer | None = None
        self._poison_lock = asyncio.Lock()
        self.submissions: list[Submission] = []
        self.poison: list[PoisonSent] = []
        self.valid_sent = 0
        self.resends = 0
        self.started = 0.0
        self.finished = 0.0
        self._progress = asyncio.Event()

    # ----- progress, for the faults ---------------------------------------------------------

    @property
    def fraction(self) -> float:
        return self.valid_sent / max(1, self.total_valid)

    async def reached(self, fraction: float) -> None:
        """Until that share of the valid submissions has been sent (or the traffic ended)."""
        while self.fraction < fraction and not self.finished:
            self._progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), 1.0)

    # ----- running ---------------------------------------------------------------------------

    async def run(self) -> None:
        self._internal = await self._started_producer(self._settings)
        for institution in sorted(self._registry.by_id):  # every partner, before any fault
            own = self._as_partner(institution) if self._as_partner else self._settings
            self._producers[institution] = await self._started_producer(own)
        self.started = time.monotonic()
        gate = asyncio.Semaphore(self._concurrency)

        async def play(person: PersonScript) -> None:
            async with gate:
                for step in person.steps:
                    await self._submit(step)

        try:
            async with asyncio.TaskGroup() as group:  # one failing person stops them all
                for person in self.population.persons:
                    group.create_task(play(person))
        finally:
            self.finished = time.monotonic()
            self._progress.set()
            for producer in [*self._producers.values(), self._internal]:
                await producer.stop()

    async def _started_producer(self, settings: CommonSettings) -> AIOKafkaProducer:
        """A plain idempotent producer (acks=all), as a partner system would use."""
        for attempt in range(1, 31):
            producer = create_producer(settings)
            try:
                await producer.start()
            except KafkaError as error:
                await producer.stop()
                self._note(f"producer could not start ({type(error).__name__}); again #{attempt}")
                await asyncio.sleep(min(0.5 * attempt, 5.0))
            else:
                return producer
        raise RuntimeError("no producer could start in 30 attempts")

    async def _pace(self) -> None:
        now = time.monotonic()
        slot = max(self._next_slot, now)
        self._next_slot = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)

    async def _partner(self, origin: str) -> AIOKafkaProducer:
        return self._producers[origin]

    async def _produce(
        self, producer: AIOKafkaProducer, topic: str, key: bytes | None, record: KafkaRecord | None
    ) -> RecordMetadata:
        """Send until the broker confirms; the same record again after a failure."""
        for attempt in range(1, 31):
            try:
                if record is None:  # a tombstone
                    return await producer.send_and_wait(topic, None, key=key)
                return await producer.send_and_wait(
                    topic, record.value, key=record.key, headers=list(record.headers)
                )
            except KafkaError as error:
                self.resends += 1
                self._note(f"send to {topic} failed ({type(error).__name__}); again #{attempt}")
                await asyncio.sleep(min(0.5 * attempt, 5.0))
        raise RuntimeError(f"could not send to {topic} in 30 attempts")

    async def _submit(self, step: Step) -> None:
        await self._pace()
        record = wire.kafka_record(step)
        topic = self._registry.by_id[step.origin].intake_topic
        meta = await self._produce(await self._partner(step.origin), topic, record.key, record)
        channel = f"kafka:{topic}/{meta.partition}/{meta.offset}"
        submission = Submission(step, channel, canonical_id(step.event.source, str(step.event.id)))
        self.submissions.append(submission)
        if step.expect is Expect.ACCEPTED:
            self.valid_sent += 1
            self._progress.set()
            if self.valid_sent % POISON_EVERY == 0:
                await self._send_poison()
        submission.receipt = await self.receipts.wait(channel, self._receipt_timeout)
        if submission.receipt is None:
            self._note(f"no receipt within {self._receipt_timeout:.0f} s for {channel}")

    async def _send_poison(self) -> None:
        """One poison record on each consumed topic."""
        async with self._poison_lock:
            batch: list[Poison] = [
                self._poison.intake(),
                self._poison.canonical(),
                self._poison.delivery(),
                self._poison.outcome(),
            ]
            for poison in batch:
                assert self._internal is not None
                producer = await self._partner(poison.origin) if poison.origin else self._internal
                meta = await self._produce(producer, poison.topic, poison.key, poison.record)
                self.poison.append(PoisonSent(poison, meta.partition, meta.offset))

    # ----- what was sent ---------------------------------------------------------------------

    def sent_valid(self) -> set[uuid.UUID]:
        """Canonical ids of the valid first submissions (each must become one canonical event)."""
        return {s.canonical_id for s in self.submissions if s.step.expect is Expect.ACCEPTED}
