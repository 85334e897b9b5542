"""The open-loop sender and the load steps.

Each step offers one rate for a fixed time: slot ``i`` is sent at ``t0 + i / rate`` whatever the
bus answers, each institution producing on its own intake topic as its own principal. The
persons' steps are interleaved so that one person's are ``gap`` seconds apart and in order (on
one partner's topic they stay in order by key; across partners the gap keeps them in order as
long as the bus is faster than the gap). After the step the run waits until every group has
caught up (or ``drain`` seconds), then matches what the partners read to what was sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from schemas.codec import KafkaRecord
from schemas.registry.institutions import InstitutionRegistry
from services.common.kafka_clients import create_producer
from services.intake.submission import canonical_id
from simulator import wire
from simulator.credentials import PartnerSettings
from simulator.load.lag import judge
from simulator.load.latency import match, summarise
from simulator.load.report import StepResult
from simulator.load.schedule import due_at, due_by, interleave, lanes_for
from simulator.load.watch import DeliveryWatch, LagWatch
from simulator.population import YEAR_VOLUMES, Population, build_year_population
from simulator.script import PersonScript

STEPS_PER_PERSON = 13  # about what a year population's persons submit (14.1 at seed 7)


@dataclass(frozen=True)
class LoadPlan:
    rates: tuple[float, ...]
    seconds: float
    gap_seconds: float = 2.0
    drain_seconds: float = 60.0
    seed: int = 0
    keep_going: bool = False  # every rate, even after one the bus could not keep up with
    instances: int = 1  # copies of each service


def load_population(plan: LoadPlan, rate: float, seed: int) -> list[PersonScript]:
    """Enough persons for one step at ``rate``: a year population of last year at the canton's
    mix of paths, scaled up, shuffled so that every step gets the same mix of story lengths."""
    needed = rate * plan.seconds / STEPS_PER_PERSON + lanes_for(rate, plan.gap_seconds)
    scale = max(1, math.ceil(1.15 * needed / sum(YEAR_VOLUMES.values())))
    year = dt.datetime.now(dt.UTC).year - 1
    population: Population = build_year_population(
        year, seed, volumes={path: n * scale for path, n in YEAR_VOLUMES.items()}
    )
    found = list(population.persons)
    random.Random(seed).shuffle(found)  # noqa: S311 - reproducible order, not a secret
    return found


class OpenLoopSender:
    """One idempotent producer per institution, as that institution's principal."""

    def __init__(self, registry: InstitutionRegistry, as_partner: PartnerSettings) -> None:
        self._registry = registry
        self._as_partner = as_partner
        self._producers: dict[str, AIOKafkaProducer] = {}

    async def start(self, institutions: Sequence[str]) -> None:
        for institution in sorted(set(institutions)):
            producer = create_producer(self._as_partner(institution))
            await producer.start()
            self._producers[institution] = producer
            # The topic's metadata now, not on the first send of a step (it would count).
            await producer.partitions_for(self._registry.by_id[institution].intake_topic)

    async def stop(self) -> None:
        producers, self._producers = self._producers, {}
        for producer in producers.values():
            await producer.stop()

    async def send(
        self, records: Sequence[tuple[str, KafkaRecord]], rate: float
    ) -> tuple[float, int, int, float]:
        """Send ``records`` ((institution, record)) on the schedule; returns the wall time the
        schedule began, how many were sent, how many failed and the most it fell behind."""
        topics = {i: self._registry.by_id[i].intake_topic for i in self._producers}
        futures: list[asyncio.Future[object]] = []
        began, clock = time.time(), time.monotonic()
        total, sent, behind = len(records), 0, 0.0
        while sent < total:
            elapsed = time.monotonic() - clock
            due = due_by(elapsed, rate, total)
            if sent < due:
                behind = max(behind, elapsed - due_at(sent, rate))
            while sent < due:
                institution, record = records[sent]
                futures.append(
                    await self._producers[institution].send(
                        topics[institution],
                        record.value,
                        key=record.key,
                        headers=list(record.headers),
                    )
                )
                sent += 1
            if sent < total:
                await asyncio.sleep(max(0.0, due_at(sent, rate) - (time.monotonic() - clock)))
        answers = await asyncio.gather(*futures, return_exceptions=True)
        errors = sum(isinstance(a, BaseException) for a in answers)
        return began, sent, errors, behind


@dataclass
class LoadRun:
    plan: LoadPlan
    sender: OpenLoopSender
    deliveries: DeliveryWatch
    lags: LagWatch
    steps_run: int = 0

    async def step(self, rate: float) -> StepResult:
        """Offer ``rate`` for the plan's seconds, with persons of their own (a seed per step)."""
        self.steps_run += 1
        seed = self.plan.seed * 100 + self.steps_run
        persons = load_population(self.plan, rate, seed)
        print(f"  {rate:>7,.0f}/s: {len(persons):,} persons (seed {seed})", flush=True)
        slots, _ = interleave(
            [len(p.steps) for p in persons],
            round(rate * self.plan.seconds),
            lanes_for(rate, self.plan.gap_seconds),
        )
        steps = [persons[slot.person].steps[slot.step] for slot in slots]
        del persons
        records = [(step.origin, wire.kafka_record(step)) for step in steps]
        began, sent, errors, behind = await self.sender.send(records, rate)
        ended = began + self.plan.seconds
        await asyncio.sleep(max(0.0, ended + 1.5 - time.time()))  # one more lag sample
        window = self.lags.between(began - 1.5, ended + 1.5)
        judgements = tuple(
            judge(window, group, floor=self.lags.floor(group)) for group in self.lags.partitions
        )
        drained = await self.drain(ended)
        canonical_due: dict[str, float] = {}
        original_due: dict[str, float] = {}
        for index, step in enumerate(steps):
            due = began + due_at(index, rate)
            canonical_due.setdefault(str(canonical_id(step.event.source, str(step.event.id))), due)
            original_due.setdefault(str(step.event.id), due)
        matched = match(self.deliveries.arrivals, canonical_due, original_due)
        return StepResult(
            rate=rate,
            seconds=self.plan.seconds,
            offered=len(slots),
            sent=sent,
            send_errors=errors,
            sender_behind_s=behind,
            deliveries=summarise(matched.deliveries),
            receipts=summarise(matched.receipts),
            refusals=matched.refusals,
            alerts=matched.alerts,
            repeated=matched.repeated,
            judgements=judgements,
            drained_s=drained,
        )

    async def drain(self, ended: float) -> float | None:
        """Seconds after ``ended`` until every group is within its floor and no delivery has
        arrived for two seconds; None if that did not happen within the plan's drain time."""
        deadline = ended + self.plan.drain_seconds
        while time.time() < deadline:
            latest = self.lags.samples[-1]
            caught_up = all(latest.lag[g] <= self.lags.floor(g) for g in self.lags.partitions)
            last_arrival = self.deliveries.arrivals[-1].at if self.deliveries.arrivals else 0.0
            if caught_up and time.time() - last_arrival > 2.0:
                return time.time() - ended
            await asyncio.sleep(0.5)
        return None
