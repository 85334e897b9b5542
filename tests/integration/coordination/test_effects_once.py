"""Every effect happens once: redelivered events, and a crash between the database commit and the
offset commit, leave one timeline row, one decision per recipient and one outbox row."""

from __future__ import annotations

import asyncpg
from faststream import TestApp

from schemas.events import CaseOpened
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import Publish, eventually, processed_count
from tests.integration.coordination.test_consent_routing import consent_story

COUNTED = ("timeline", "decisions", "outbox", "processed_events", "consents", "cases")


async def _counts(db: asyncpg.Pool) -> dict[str, int]:
    return {table: int(await db.fetchval(f"SELECT count(*) FROM {table}")) for table in COUNTED}  # noqa: S608


async def test_a_redelivered_event_creates_no_second_row_anywhere(
    running_coordination: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    story, _ = consent_story()
    await publish(story.events)
    await eventually(lambda: _at_least(db, len(story.events)))
    before = await _counts(db)

    await publish(story.events)  # the same canonical events (same ids) once more
    marker = CaseStory(person_seed=99)  # an event after them: the duplicates were consumed
    await publish([marker.rav(CaseOpened)])
    await eventually(lambda: _at_least(db, len(story.events) + 1))

    after = await _counts(db)
    assert after["timeline"] == before["timeline"] + 1
    assert after["processed_events"] == before["processed_events"] + 1
    assert after["decisions"] == before["decisions"] + 1  # the marker's origin decision
    assert after["outbox"] == before["outbox"]


async def test_a_crash_after_the_database_commit_but_before_the_offset_commit_duplicates_nothing(
    coordination_settings: CoordinationSettings, publish: Publish, db: asyncpg.Pool
) -> None:
    story, _ = consent_story()
    # The consumer group is primed at the end; these records come after it.
    await publish(story.events)

    # First life: the batch's effects are committed to PostgreSQL, then the process dies before
    # it commits the Kafka offsets (we simply never commit them).
    runtime = CoordinationRuntime(coordination_settings)
    await runtime.start()
    try:
        records = await _records_after_group_position(coordination_settings, len(story.events))
        report = await runtime.processor().process(records)
    finally:
        await runtime.stop()
    assert report.applied == len(story.events)
    before = await _counts(db)

    # Second life: the consumer starts from the uncommitted offsets and sees the batch again.
    async with TestApp(create_app(coordination_settings)):
        await eventually(lambda: _group_caught_up(coordination_settings))
    assert await _counts(db) == before


async def _at_least(db: asyncpg.Pool, count: int) -> bool:
    return await processed_count(db) >= count


async def _records_after_group_position(
    settings: CoordinationSettings, count: int
) -> list[BusRecord]:
    from tests.kafka_tools import read_until

    positions = await _group_positions(settings)
    found = await read_until(settings, positions, lambda rs: len(rs) >= count, within=30)
    return [
        BusRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers)) for r in found
    ]


async def _group_positions(settings: CoordinationSettings) -> dict:  # type: ignore[type-arg]
    from services.common.kafka_clients import create_admin

    admin = create_admin(settings)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.coordination_group_id)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items()}


async def _group_caught_up(settings: CoordinationSettings) -> bool:
    from tests.kafka_tools import end_offsets

    committed = await _group_positions(settings)
    ends = await end_offsets(settings, [settings.coordination_case_events_topic])
    return all(committed.get(tp, 0) >= end for tp, end in ends.items())
