"""A record on the canonical log with text PostgreSQL cannot store (written before intake
refused it) is dead-lettered by coordination, and the person's later events are processed: the
partition moves on instead of failing the timeline write on every retry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import new_event
from schemas.events import CaseOpened, MeasureStarted, NoteAdded, PersonRef
from schemas.topics import COORDINATION_REJECTED
from schemas.vocabulary import MeasureKind
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.kafka_tools import Record, end_offsets, read_until

NewTopic = Callable[..., Coroutine[Any, Any, str]]


def _note_with_nul(story: CaseStory) -> KafkaRecord:
    """A canonical note as an older intake let it through: valid JSON, "\\u0000" in the text."""
    person = PersonRef(case_ref=f"RAV-{story.pseudonym[-6:]}", sealed_ahv=story.sealed_ahv)
    note = NoteAdded(person=person, note_id=uuid.uuid4(), text="Rückruf\x00 vereinbart")
    event = new_event(
        note,
        source="/iiz/bl/rav",
        time=dt.datetime(2026, 3, 4, 9, tzinfo=dt.UTC),
        subject=story.pseudonym,
        partitionkey=story.pseudonym,
    )
    return to_kafka(event)


def _header(record: Record, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


async def test_a_canonical_record_with_a_nul_character_is_dead_lettered_and_the_person_goes_on(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool, new_topic: NewTopic
) -> None:
    topic = await new_topic("iiz.case-events.test")  # dead letters name it, not the real log
    story = CaseStory(person_seed=7300)
    story.rav(CaseOpened)
    story.rav(MeasureStarted, kind=MeasureKind.COACHING)
    valid = story.records()
    sent = [valid[0], _note_with_nul(story), valid[1]]
    records = [BusRecord(topic, 0, n, r.key, r.value, r.headers) for n, r in enumerate(sent)]
    start = await end_offsets(coordination_settings, [COORDINATION_REJECTED])

    runtime = CoordinationRuntime(coordination_settings)
    await runtime.start()
    try:
        report = await runtime.processor().process(records)
    finally:
        await runtime.stop()

    assert (report.applied, report.dead_lettered) == (2, 1)
    outcomes = await db.fetch("SELECT bus_offset, outcome FROM processed_events ORDER BY 1")
    assert [(r["bus_offset"], r["outcome"]) for r in outcomes] == [
        (0, "applied"),
        (1, "dead-lettered"),
        (2, "applied"),
    ]
    timeline = await db.fetch(
        "SELECT bus_offset FROM timeline WHERE pseudonym = $1", story.pseudonym
    )
    assert sorted(r["bus_offset"] for r in timeline) == [0, 2]
    letters = await read_until(
        coordination_settings, start, lambda rs: any(_header(r, "iiz_topic") == topic for r in rs)
    )
    [letter] = [r for r in letters if _header(r, "iiz_topic") == topic]
    assert _header(letter, "iiz_reason") == "schema_violation"
    assert _header(letter, "iiz_offset") == "1"
    assert "vereinbart" not in (_header(letter, "iiz_message") or "")
