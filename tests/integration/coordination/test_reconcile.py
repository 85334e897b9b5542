"""Reconciliation counts what was accepted from the canonical topic itself, so a crash between
intake's Kafka commit and its ledger write cannot hide an event: an event on the topic but not
on the timeline, one on the timeline but not on the topic, and one without a ledger row are each
a difference."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from schemas.codec import to_kafka
from schemas.envelope import CloudEvent
from schemas.events import CaseOpened, NoteAdded
from services.common.database import asyncpg_dsn, create_pool
from services.common.kafka_clients import create_producer
from services.common.migrations import ServiceGrants, upgrade
from services.coordination.ops.migrate import migrate
from services.coordination.ops.reconcile import reconcile_since
from services.coordination.ops.reconciliation import (
    LEDGER_MISSING,
    MISSING_FROM_TIMELINE,
    NOT_ON_TOPIC,
)
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from services.intake.migrate import PRIVILEGES
from tests.case_story import CaseStory
from tests.infra import REPO, Infra
from tests.integration.coordination.conftest import drop_schema, make_coordination_settings

INTAKE_MIGRATIONS = REPO / "services" / "intake" / "migrations"


@dataclass
class Bus:
    """A private canonical topic, coordination and intake schemas, and a way to write to each."""

    settings: CoordinationSettings
    intake_schema: str
    db: asyncpg.Pool
    producer: AIOKafkaProducer

    @property
    def topic(self) -> str:
        return self.settings.coordination_case_events_topic

    async def publish(self, event: CloudEvent[Any], *, at: dt.datetime | None = None) -> BusRecord:
        """On the canonical topic, committed (as intake's transaction or the notes API would)."""
        record = to_kafka(event)
        sent = await self.producer.send_and_wait(
            self.topic,
            record.value,
            key=record.key,
            headers=list(record.headers),
            timestamp_ms=None if at is None else int(at.timestamp() * 1000),
        )
        return BusRecord(
            self.topic, sent.partition, sent.offset, record.key, record.value, record.headers
        )

    async def publish_aborted(self, event: CloudEvent[Any]) -> BusRecord:
        """In a transaction that is then aborted: committed readers never see it."""
        producer = create_producer(self.settings, transactional_id=f"test-{uuid.uuid4()}")
        await producer.start()
        try:
            await producer.begin_transaction()
            record = to_kafka(event)
            sent = await producer.send_and_wait(
                self.topic, record.value, key=record.key, headers=list(record.headers)
            )
            await producer.abort_transaction()
        finally:
            await producer.stop()
        return BusRecord(
            self.topic, sent.partition, sent.offset, record.key, record.value, record.headers
        )

    async def fold(self, *records: BusRecord) -> None:
        """Into the timeline, as coordination's worker does with what it consumes."""
        runtime = CoordinationRuntime(self.settings)
        await runtime.start()
        try:
            await runtime.processor().process(list(records))
        finally:
            await runtime.stop()

    async def ledger(self, event: CloudEvent[Any]) -> None:
        """Intake's ledger row of an accepted submission."""
        await self.db.execute(
            f'INSERT INTO "{self.intake_schema}".submission_ledger'  # noqa: S608 - a test schema
            " (canonical_id, source, original_id, channel) VALUES ($1, $2, $3, 'test')",
            event.id,
            event.source,
            str(event.id),
        )


@pytest.fixture
async def bus(infra: Infra, new_topic: Callable[..., Any]) -> AsyncIterator[Bus]:
    topic = await new_topic("case-events", partitions=3)
    settings = make_coordination_settings(infra, coordination_case_events_topic=topic)
    intake_schema = f"intake_{uuid.uuid4().hex[:10]}"
    await migrate(settings)
    await upgrade(
        INTAKE_MIGRATIONS,
        settings.owner_database_url,
        intake_schema,
        ServiceGrants.for_urls(settings.database_url, settings.owner_database_url, PRIVILEGES),
    )
    db = await create_pool(settings.database_url, settings.coordination_db_schema)
    producer = create_producer(settings)
    await producer.start()
    try:
        yield Bus(settings, intake_schema, db, producer)
    finally:
        await producer.stop()
        await db.close()
        await drop_schema(settings)
        conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
        await conn.execute(f'DROP SCHEMA "{intake_schema}" CASCADE')
        await conn.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def test_an_event_on_the_topic_without_a_timeline_entry_or_ledger_row_is_reported(
    bus: Bus,
) -> None:
    earlier = CaseStory(person_seed=601).rav(CaseOpened)
    await bus.publish(earlier, at=_now() - dt.timedelta(hours=1))  # before the window
    since = _now()
    lost = CaseStory(person_seed=602).rav(CaseOpened)
    await bus.publish(lost)

    report = await reconcile_since(bus.settings, bus.db, since, intake_schema=bus.intake_schema)

    assert (report.accepted, report.in_timeline) == (1, 0)
    assert report.examples[MISSING_FROM_TIMELINE] == [str(lost.id)]
    assert report.examples[LEDGER_MISSING] == [str(lost.id)]
    assert report.differences == 2


async def test_an_event_on_the_timeline_without_a_ledger_row_is_reported_as_ledger_missing(
    bus: Bus,
) -> None:
    since = _now()
    story = CaseStory(person_seed=611)
    recorded, unrecorded = story.rav(CaseOpened), CaseStory(person_seed=612).rav(CaseOpened)
    records = [await bus.publish(recorded), await bus.publish(unrecorded)]
    await bus.ledger(recorded)  # intake was killed before it wrote the other one's row
    await bus.fold(*records)

    report = await reconcile_since(bus.settings, bus.db, since, intake_schema=bus.intake_schema)

    assert (report.accepted, report.in_timeline, report.ledger_missing) == (2, 2, 1)
    assert report.examples[LEDGER_MISSING] == [str(unrecorded.id)]
    assert report.differences == 1
    assert any(line.startswith("  ledger missing (1):") for line in report.lines())


async def test_a_timeline_entry_whose_event_is_not_on_the_topic_is_reported(bus: Bus) -> None:
    since = _now()
    aborted = CaseStory(person_seed=621).rav(CaseOpened)
    # A reader that ignored the abort (read_uncommitted) folded an event that never happened.
    await bus.fold(await bus.publish_aborted(aborted))

    report = await reconcile_since(bus.settings, bus.db, since, intake_schema=bus.intake_schema)

    assert report.accepted == 0
    assert report.examples[NOT_ON_TOPIC] == [str(aborted.id)]
    assert report.differences == 1


async def test_a_coordination_note_needs_no_ledger_row_and_a_complete_window_has_no_difference(
    bus: Bus,
) -> None:
    since = _now()
    story = CaseStory(person_seed=631)
    opened = story.rav(CaseOpened)
    note = story.rav(NoteAdded, text="Erstgespräch geführt")  # published by the notes API
    records = [await bus.publish(opened), await bus.publish(note)]
    await bus.ledger(opened)
    await bus.fold(*records)

    report = await reconcile_since(bus.settings, bus.db, since, intake_schema=bus.intake_schema)

    assert (report.accepted, report.in_timeline, report.ledger_missing) == (2, 2, 0)
    assert report.differences == 0, report.lines()


async def test_the_reconcile_command_lists_the_differences_and_exits_1(bus: Bus) -> None:
    since = _now()
    lost = CaseStory(person_seed=641).rav(CaseOpened)
    await bus.publish(lost)
    s = bus.settings

    command = ["reconcile", "--since", since.isoformat(), "--intake-schema", bus.intake_schema]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.coordination",
        *command,
        cwd=REPO,
        env={
            **os.environ,
            "IIZ_KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "IIZ_DATABASE_URL": s.database_url,
            "IIZ_COORDINATION_DB_SCHEMA": s.coordination_db_schema,
            "IIZ_COORDINATION_CASE_EVENTS_TOPIC": s.coordination_case_events_topic,
            "IIZ_ENVIRONMENT": "test",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    stdout = out.decode()

    assert process.returncode == 1, err.decode()
    assert f"  {MISSING_FROM_TIMELINE} (1): {lost.id}" in stdout
    assert f"  {LEDGER_MISSING} (1): {lost.id}" in stdout
