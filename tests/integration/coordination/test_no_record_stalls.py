"""No record stalls coordination's partition or vanishes from it (issue 13, findings 1, 3, 7).

Each test runs the worker on a private copy of the canonical log and writes records to it as an
older intake, a careless tool or an aborted transaction would have left them."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition
from faststream import TestApp

from schemas.codec import KafkaRecord, to_kafka
from schemas.events import CaseOpened, NoteAdded
from schemas.topics import COORDINATION_REJECTED
from services.common.database import asyncpg_dsn, create_pool
from services.common.kafka_clients import create_consumer, create_producer
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from tests.case_story import CaseStory
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    drop_schema,
    eventually,
    make_coordination_settings,
    prime_outcomes_at_end,
)
from tests.kafka_tools import Record, end_offsets, read_until

NewTopic = Callable[..., Coroutine[Any, Any, str]]


@pytest.fixture
async def log_settings(infra: Infra, new_topic: NewTopic) -> AsyncIterator[CoordinationSettings]:
    topic = await new_topic("iiz.case-events.stall", partitions=1)
    settings = make_coordination_settings(infra, coordination_case_events_topic=topic)
    await migrate(settings)
    await prime_outcomes_at_end(settings)
    yield settings
    await drop_schema(settings)


@pytest.fixture
async def db(log_settings: CoordinationSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(log_settings.database_url, log_settings.coordination_db_schema)
    yield pool
    await pool.close()


async def write(settings: CoordinationSettings, records: list[KafkaRecord]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(
                settings.coordination_case_events_topic, r.value, key=r.key, headers=list(r.headers)
            )
    finally:
        await producer.stop()


def with_nul_in_the_text(story: CaseStory) -> KafkaRecord:
    """A note whose text holds U+0000: valid JSON, but PostgreSQL text cannot hold it."""
    record = to_kafka(story.rav(NoteAdded, text="Gespräch geführt."))
    data = json.loads(record.value)
    data["text"] = "a\u0000b"
    return KafkaRecord(record.key, json.dumps(data).encode(), record.headers)


async def timeline_ids(db: asyncpg.Pool, story: CaseStory) -> set[str]:
    rows = await db.fetch("SELECT event_id FROM timeline WHERE pseudonym = $1", story.pseudonym)
    return {str(r["event_id"]) for r in rows}


def ids(records: list[KafkaRecord]) -> set[str]:
    return {dict(r.headers)["ce_id"].decode() for r in records}


def dead_letters_of(topic: str) -> Callable[[list[Record]], list[Record]]:
    def mine(records: list[Record]) -> list[Record]:
        return [r for r in records if dict(r.headers).get("iiz_topic") == topic.encode()]

    return mine


async def test_a_nul_character_on_the_canonical_log_is_dead_lettered_and_the_partition_moves_on(
    log_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    story = CaseStory(person_seed=7300)
    before = to_kafka(story.rav(CaseOpened))
    after = to_kafka(story.rav(NoteAdded, text="Nächster Termin vereinbart."))
    start = await end_offsets(log_settings, [COORDINATION_REJECTED])
    mine = dead_letters_of(log_settings.coordination_case_events_topic)

    async with TestApp(create_app(log_settings)):
        await write(log_settings, [before, with_nul_in_the_text(story), after])
        stored = await eventually(
            lambda: _when(timeline_ids(db, story), lambda found: len(found) >= 2)
        )
        letters = await read_until(log_settings, start, lambda rs: len(mine(rs)) >= 1)

    assert stored == ids([before, after])
    [letter] = mine(letters)
    assert dict(letter.headers)["iiz_offset"] == b"1"
    assert dict(letter.headers)["iiz_reason"] in (b"schema_violation", b"processing_failed")


async def test_a_record_the_database_refuses_is_dead_lettered_and_the_events_after_it_are_stored(
    log_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    """Any record the database write fails on (here a trigger refuses one event, as a constraint
    or an encoding error would) is found by halving the batch; the rest goes on."""
    story = CaseStory(person_seed=7310)
    events = [
        to_kafka(story.rav(CaseOpened)),
        *[to_kafka(story.rav(NoteAdded, text=f"Notiz {n}.")) for n in range(6)],
    ]
    refused = dict(events[3].headers)["ce_id"].decode()
    owner = await asyncpg.connect(  # a trigger is the schema owner's to add
        asyncpg_dsn(log_settings.owner_database_url),
        server_settings={"search_path": log_settings.coordination_db_schema},
    )
    await owner.execute(
        f"""
        CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.event_id = '{refused}'::uuid THEN
            RAISE EXCEPTION 'this row cannot be stored' USING ERRCODE = '22021';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_one BEFORE INSERT ON timeline
          FOR EACH ROW EXECUTE FUNCTION refuse_one();
        """
    )
    await owner.close()
    start = await end_offsets(log_settings, [COORDINATION_REJECTED])
    mine = dead_letters_of(log_settings.coordination_case_events_topic)

    async with TestApp(create_app(log_settings)):
        await write(log_settings, events)
        stored = await eventually(
            lambda: _when(timeline_ids(db, story), lambda found: len(found) >= len(events) - 1)
        )
        letters = await read_until(log_settings, start, lambda rs: len(mine(rs)) >= 1)

    assert stored == ids(events) - {refused}
    [letter] = mine(letters)
    assert dict(letter.headers)["iiz_reason"] == b"processing_failed"
    assert dict(letter.headers)["iiz_offset"] == b"3"
    audited = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'dead-lettered'")
    assert audited == 1


async def test_an_aborted_transaction_on_the_canonical_log_is_never_folded(
    log_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    """Intake answered 503 "nothing accepted" for an aborted transaction: nobody may see it."""
    story = CaseStory(person_seed=7320)
    aborted = to_kafka(story.rav(CaseOpened))
    committed = to_kafka(story.iv(CaseOpened))
    topic = log_settings.coordination_case_events_topic
    writer = create_producer(log_settings, transactional_id=f"abort-{uuid.uuid4().hex[:8]}")
    await writer.start()
    try:
        # intake's ledger failed: the transaction aborts
        await writer.begin_transaction()
        await writer.send(topic, aborted.value, key=aborted.key, headers=list(aborted.headers))
        await writer.flush()
        await writer.abort_transaction()
        async with writer.transaction():
            await writer.send(
                topic, committed.value, key=committed.key, headers=list(committed.headers)
            )
    finally:
        await writer.stop()

    async with TestApp(create_app(log_settings)):
        stored = await eventually(lambda: _when(timeline_ids(db, story), bool))
        ends = await end_offsets(log_settings, [topic])
        await eventually(lambda: _group_at(log_settings, ends))

    assert stored == ids([committed])
    assert await db.fetchval("SELECT count(*) FROM processed_events") == 1


async def test_the_worker_commits_past_transaction_markers_and_aborted_records_to_lag_zero(
    log_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    """The log ends in what no reader is handed (an aborted record and its marker): the
    group's committed offset must still reach the end, or monitoring on lag alarms forever."""
    story = CaseStory(person_seed=7330)
    events = [to_kafka(story.rav(CaseOpened)), to_kafka(story.rav(NoteAdded, text="Notiz."))]
    given_up = to_kafka(story.rav(NoteAdded, text="Nie bestätigt."))
    topic = log_settings.coordination_case_events_topic
    writer = create_producer(log_settings, transactional_id=f"lag-{uuid.uuid4().hex[:8]}")
    await writer.start()
    try:
        async with writer.transaction():
            for r in events:
                await writer.send(topic, r.value, key=r.key, headers=list(r.headers))
        await writer.begin_transaction()
        await writer.send(topic, given_up.value, key=given_up.key, headers=list(given_up.headers))
        await writer.flush()
        await writer.abort_transaction()
    finally:
        await writer.stop()
    ends = await end_offsets(log_settings, [topic])

    async with TestApp(create_app(log_settings)):
        await eventually(lambda: _when(timeline_ids(db, story), lambda f: len(f) == 2))
        committed = await eventually(lambda: _group_at(log_settings, ends))

    # two events, their commit marker, the aborted record and its abort marker
    assert ends == {TopicPartition(topic, 0): 5}
    assert committed == ends
    assert await timeline_ids(db, story) == ids(events)


async def _when(found: Coroutine[Any, Any, Any], ok: Callable[[Any], bool]) -> Any:
    value = await found
    return value if ok(value) else None


async def _group_at(
    settings: CoordinationSettings, ends: dict[TopicPartition, int]
) -> dict[TopicPartition, int] | None:
    """The group's committed offsets, once they equal the partitions' ends."""
    consumer = create_consumer(settings, group_id=settings.coordination_group_id)
    await consumer.start()
    try:
        committed = {tp: await consumer.committed(tp) for tp in ends}
    finally:
        await consumer.stop()
    return committed if committed == ends else None  # type: ignore[return-value]
