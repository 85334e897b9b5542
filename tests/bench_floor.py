"""`IIZ_BENCH=floor`: the raw floor of this machine, on the same secured broker and database.

What the services could reach at best, measured in the same run as their figures and with the
same client factories (SASL_SSL + SCRAM as the benchmarks' principal, TLS verified; the services'
database role), on a scratch topic of six partitions like the benchmarks' own:

- produce: N records of the size of a canonical event (a sealed ``case.opened``, a key per
  person), aiokafka with acks=all and idempotence (``create_producer``), all sent, then flushed;
  the clock runs from the first send to the end of the flush (the client is started and knows
  the topic before);
- plain consume: the N records read by a fresh group in batches of up to 500, nothing
  committed; the clock runs from the group's assignment to the last record;
- consume + COPY + commit: a fresh group reads them in batches of up to 500; per batch one
  PostgreSQL transaction that COPYs the records (partition, offset, key, value; primary key on
  the position) into a table of a scratch schema, then the batch's offsets are committed — the
  floor of the coordination worker, which does that and its own work per batch. Clock as above.

The group join (the figures' clocks include it, about a second) is reported apart, not in the
floor. Each floor is the median of three such runs (IIZ_BENCH_FLOOR_REPEATS), each on its own
scratch topic and schema, removed afterwards. Measures; asserts nothing.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import NewTopic

from schemas.codec import KafkaRecord, to_kafka
from schemas.events import CaseOpened
from services.common.database import asyncpg_dsn, create_pool, database_user
from services.common.kafka_clients import create_admin, create_consumer, create_producer
from services.common.person_registry import new_subject
from services.common.record_seal import seal_record
from services.coordination.settings import CoordinationSettings
from tests.factories import sample_event, valid_ahv
from tests.infra import replication_factor

BATCH = 500
PARTITIONS = 6
WITHIN_SECONDS = 600.0
TABLE = "floor_records"
Batch = list[Any]  # the ConsumerRecords of one getmany


@dataclass(frozen=True)
class Floor:
    """One floor: how many events, how long from assignment (or first send) to done, the join;
    for the median of repeated runs, the lowest and highest rate among them."""

    events: int
    seconds: float
    join_seconds: float | None = None
    low: float | None = None
    high: float | None = None

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def median_floor(runs: list[Floor]) -> Floor:
    """The run with the median rate (of an odd number of runs), with the runs' range."""
    ordered = sorted(runs, key=lambda f: f.per_second)
    middle = ordered[len(ordered) // 2]
    return replace(middle, low=ordered[0].per_second, high=ordered[-1].per_second)


@dataclass(frozen=True)
class Floors:
    events: int
    record_bytes: int
    produce: Floor
    consume: Floor
    copy_commit: Floor
    repeats: int = 1


def canonical_record() -> KafkaRecord:
    """A canonical event as intake writes it: ``case.opened`` for a registry subject, sealed."""
    subject = new_subject()
    event = sample_event(
        CaseOpened,
        person={"ahv_number": valid_ahv(1), "case_ref": "B-1"},
        subject=subject,
        partitionkey=subject,
    )
    return seal_record(to_kafka(event), os.urandom(32))


def record_bytes(record: KafkaRecord) -> int:
    """Key, value and headers: what the broker stores of a record, less its own framing."""
    headers = sum(len(name) + len(value) for name, value in record.headers)
    return len(record.key or b"") + len(record.value) + headers


async def measure_floors(events: int, repeats: int = 3) -> Floors:
    """The median of ``repeats`` runs of each floor: a floor of 20 000 records takes well under a
    second here, so one run is at the mercy of whatever else the two cores do at that moment."""
    runs = [await measure_floors_once(events) for _ in range(repeats)]
    return Floors(
        events,
        runs[0].record_bytes,
        median_floor([r.produce for r in runs]),
        median_floor([r.consume for r in runs]),
        median_floor([r.copy_commit for r in runs]),
        repeats,
    )


async def measure_floors_once(events: int) -> Floors:
    """The three floors for ``events`` records on a scratch topic and in a scratch schema."""
    suffix = uuid.uuid4().hex[:8]
    settings = CoordinationSettings(log_level="WARNING")
    topic = f"bench.floor.{suffix}"
    schema = f"bench_floor_{suffix}"
    admin = create_admin(settings)
    await admin.start()
    try:
        replicas = await replication_factor(admin)
        await admin.create_topics([NewTopic(topic, PARTITIONS, replicas)])
        await _create_scratch_table(settings, schema)
        template = canonical_record()
        produce = await _produce(settings, topic, template, events)
        consume = await _consume(settings, topic, f"bench-floor-{suffix}-read", events, None)
        pool = await create_pool(settings.database_url, schema, max_size=1)
        try:
            async with pool.acquire() as conn:
                copy = await _consume(
                    settings, topic, f"bench-floor-{suffix}-copy", events, _copy_into(conn)
                )
        finally:
            await pool.close()
    finally:
        await _drop_scratch_schema(settings, schema)
        await admin.delete_topics([topic])
        await admin.close()
    return Floors(events, record_bytes(template), produce, consume, copy)


async def _produce(
    settings: CoordinationSettings, topic: str, template: KafkaRecord, events: int
) -> Floor:
    key = template.key or b""
    headers = list(template.headers)
    producer = create_producer(settings)
    await producer.start()
    try:
        await producer.partitions_for(topic)  # the new topic's metadata, before the clock
        began = time.perf_counter()
        for n in range(events):
            # A key per person (as long as a subject): the records spread over the partitions.
            own_key = key[: -len(str(n))] + str(n).encode()
            await producer.send(topic, template.value, key=own_key, headers=headers)
        await producer.flush()
        elapsed = time.perf_counter() - began
    finally:
        await producer.stop()
    return Floor(events, elapsed)


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka has no types
    """Notes when the group gave this consumer its partitions."""

    def __init__(self) -> None:
        self.at: float | None = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned and self.at is None:
            self.at = time.perf_counter()


async def _consume(
    settings: CoordinationSettings,
    topic: str,
    group_id: str,
    events: int,
    store: Callable[[Batch], Awaitable[None]] | None,
) -> Floor:
    """Read ``events`` records with a fresh group; with ``store``: store each batch, then commit
    its offsets."""
    consumer: AIOKafkaConsumer = create_consumer(settings, group_id=group_id)
    assigned = _Assigned()
    began = time.perf_counter()
    await consumer.start()
    consumer.subscribe([topic], listener=assigned)
    seen = 0
    try:
        deadline = time.monotonic() + WITHIN_SECONDS
        while seen < events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"floor: read {seen} of {events} within {WITHIN_SECONDS}s")
            batch = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            records = [r for part in batch.values() for r in part]
            if not records:
                continue
            if store is not None:
                await store(records)
                await consumer.commit({tp: part[-1].offset + 1 for tp, part in batch.items()})
            seen += len(records)
        done = time.perf_counter()
    finally:
        await consumer.stop()
    start = assigned.at if assigned.at is not None else began
    return Floor(seen, done - start, join_seconds=start - began)


def _copy_into(conn: asyncpg.Connection) -> Callable[[Batch], Awaitable[None]]:
    async def store(records: Batch) -> None:
        rows = [(r.partition, r.offset, r.key, r.value) for r in records]
        async with conn.transaction():
            await conn.copy_records_to_table(
                TABLE, records=rows, columns=["bus_partition", "bus_offset", "key", "value"]
            )

    return store


async def _create_scratch_table(settings: CoordinationSettings, schema: str) -> None:
    """The scratch schema and table, owned by the schema owner, writable by the services' role."""
    owner = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        await owner.execute(f'CREATE SCHEMA "{schema}"')
        await owner.execute(
            f'CREATE TABLE "{schema}".{TABLE} (bus_partition integer NOT NULL, bus_offset bigint'
            " NOT NULL, key bytea, value bytea NOT NULL, PRIMARY KEY (bus_partition, bus_offset))"
        )
        role = database_user(settings.database_url)
        if role is not None and settings.database_url != settings.owner_database_url:
            await owner.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
            await owner.execute(f'GRANT INSERT ON "{schema}".{TABLE} TO "{role}"')
    finally:
        await owner.close()


async def _drop_scratch_schema(settings: CoordinationSettings, schema: str) -> None:
    owner = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        await owner.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await owner.close()
