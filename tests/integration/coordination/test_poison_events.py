"""Poison on the case-event log: dead-lettered, sealed and recorded, while the person's valid
events around it are all processed.

The consumer reads a private copy of the canonical log (a topic of its own): the real
``iiz.case-events.v1`` is kept forever and audited for clear AHV numbers, and one of the poison
records here carries one on purpose.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from faststream import TestApp

from schemas.ahv import AhvNumber
from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import new_event
from schemas.events import (
    CaseOpened,
    ConsentGranted,
    MeasureStarted,
    NoteAdded,
    ParticipantJoined,
    PersonRef,
)
from schemas.topics import COORDINATION_REJECTED
from schemas.vocabulary import DataCategory, MeasureKind, ParticipantRole
from services.common.database import create_pool
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_producer
from services.common.person_registry import PersonRegistry
from services.common.record_seal import SEALED_HEADER, seal_record
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.coordination.worker.effects import BusRecord
from tests.ahv_scan import find_valid_ahv_numbers_in_bytes
from tests.case_story import CaseStory
from tests.factories import valid_ahv
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    drop_schema,
    eventually,
    make_coordination_settings,
    prime_outcomes_at_end,
)
from tests.kafka_tools import Record, end_offsets, read_until

SEED = 7100
CLEAR_AHV = valid_ahv(SEED + 1)


@dataclass(frozen=True)
class Sent:
    name: str
    record: KafkaRecord
    partition: int
    offset: int


@pytest.fixture
async def private_log(
    infra: Infra, new_topic: Callable[..., Coroutine[Any, Any, str]]
) -> AsyncIterator[CoordinationSettings]:
    """Coordination consuming a case-event topic of its own, with a fresh schema."""
    topic = await new_topic("iiz.case-events.test", partitions=3)
    settings = make_coordination_settings(infra, coordination_case_events_topic=topic)
    await migrate(settings)
    await prime_outcomes_at_end(settings)
    async with TestApp(create_app(settings)):
        yield settings
    await drop_schema(settings)


@pytest.fixture
async def db(private_log: CoordinationSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(private_log.database_url, private_log.coordination_db_schema)
    yield pool
    await pool.close()


def poisoned_story() -> tuple[CaseStory, list[tuple[str, KafkaRecord]]]:
    """Five valid events of one person, with four poison records between them (same key)."""
    story = CaseStory(person_seed=SEED)
    key = story.pseudonym.encode()
    person = PersonRef(case_ref="RAV-4711", sealed_ahv=story.sealed_ahv)
    at = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)

    def note(person: PersonRef, **attrs: Any) -> KafkaRecord:
        data = NoteAdded(person=person, note_id=uuid.uuid4(), text="Runder Tisch vereinbart.")
        attrs.setdefault("source", "/iiz/bl/rav")
        return to_kafka(new_event(data, time=at, partitionkey=story.pseudonym, **attrs))

    valid = [
        story.rav(CaseOpened),
        story.rav(
            ConsentGranted,
            institutions=["rav", "iv"],
            categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
            valid_from=dt.date(2026, 1, 1),
            document_ref="EINWILLIGUNG-1",
        ),
        story.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT),
        story.rav(MeasureStarted, kind=MeasureKind.COACHING),
        story.iv(NoteAdded, text="Abklärung terminiert."),
    ]
    poison = {
        "not_json": KafkaRecord(key, b"<<this is not json at all", ()),
        "missing_subject": note(person),
        "ahv_in_clear": note(
            PersonRef(case_ref="RAV-4711", ahv_number=AhvNumber(CLEAR_AHV)),
            subject=story.pseudonym,
        ),
        "unknown_source": note(person, source="/iiz/bl/nowhere", subject=story.pseudonym),
    }
    records = [(f"valid-{n}", to_kafka(e)) for n, e in enumerate(valid)]
    for n, reason in enumerate(poison, start=1):
        records.insert(2 * n - 1, (reason, poison[reason]))
    return story, records


async def publish_raw(
    settings: CoordinationSettings, records: list[tuple[str, KafkaRecord]]
) -> list[Sent]:
    producer = create_producer(settings)
    await producer.start()
    try:
        sent = []
        for name, record in records:
            meta = await producer.send_and_wait(
                settings.coordination_case_events_topic,
                key=record.key,
                value=record.value,
                headers=list(record.headers),
            )
            sent.append(Sent(name, record, meta.partition, meta.offset))
        return sent
    finally:
        await producer.stop()


def header(record: Record, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


def original_of(sealed: bytes, seal: IdentitySeal) -> KafkaRecord:
    raw = json.loads(seal.unseal_bytes(sealed, seal.key_id))

    def bytes_of(text: str | None) -> bytes | None:
        return None if text is None else base64.b64decode(text)

    headers = tuple((name, bytes_of(value) or b"") for name, value in raw["headers"])
    return KafkaRecord(bytes_of(raw["key"]), bytes_of(raw["value"]) or b"", headers)


async def test_poison_is_dead_lettered_sealed_and_recorded_while_valid_events_go_on(
    private_log: CoordinationSettings, db: asyncpg.Pool
) -> None:
    settings = private_log
    topic = settings.coordination_case_events_topic
    story, records = poisoned_story()
    start = await end_offsets(settings, [COORDINATION_REJECTED])

    sent = await publish_raw(settings, records)

    poison = [s for s in sent if not s.name.startswith("valid-")]
    valid = [s for s in sent if s.name.startswith("valid-")]
    assert [p.name for p in poison] == [
        "not_json",
        "missing_subject",
        "ahv_in_clear",
        "unknown_source",
    ]
    assert {s.partition for s in sent} == {valid[0].partition}, "one person, one partition"

    async def timeline_offsets() -> list[int] | None:
        rows = await db.fetch(
            "SELECT bus_offset FROM timeline WHERE pseudonym = $1 ORDER BY bus_offset",
            story.pseudonym,
        )
        found = [row["bus_offset"] for row in rows]
        return found if len(found) >= len(valid) else None

    assert await eventually(timeline_offsets) == [s.offset for s in valid]

    def mine(record: Record) -> bool:
        return header(record, "iiz_topic") == topic

    letters = await read_until(
        settings, start, lambda rs: sum(1 for r in rs if mine(r)) >= len(poison), within=60
    )
    by_offset = {int(header(r, "iiz_offset") or -1): r for r in letters if mine(r)}
    assert sorted(by_offset) == [p.offset for p in poison]
    seal = IdentitySeal.from_settings(settings)
    for p in poison:
        letter: Any = by_offset[p.offset]  # aiokafka ships no types
        dead_letter_id = BusRecord(topic, p.partition, p.offset, None, None, ()).poison_id
        assert header(letter, "iiz_reason") == p.name
        assert header(letter, "iiz_partition") == str(p.partition)
        assert header(letter, "iiz_dead_letter_id") == str(dead_letter_id)
        assert header(letter, "iiz_sealed") == settings.identity_key_id
        assert original_of(letter.value, seal) == p.record, f"{p.name}: the original, sealed"
        everything = letter.value + b"".join(v for _, v in letter.headers)
        assert find_valid_ahv_numbers_in_bytes(everything) == []
        assert CLEAR_AHV.replace(".", "").encode() not in everything

    outcomes = await db.fetch(
        "SELECT bus_offset, outcome, event_id FROM processed_events ORDER BY bus_offset"
    )
    assert [(r["bus_offset"], r["outcome"]) for r in outcomes] == [
        (s.offset, "dead-lettered" if s in poison else "applied") for s in sent
    ]
    assert {r["event_id"] for r in outcomes if r["outcome"] == "dead-lettered"} == {
        BusRecord(topic, p.partition, p.offset, None, None, ()).poison_id for p in poison
    }
    audited = await db.fetch(
        "SELECT object, detail FROM audit_log WHERE action = 'dead-lettered' ORDER BY seq"
    )
    assert [(r["object"], json.loads(r["detail"])["reason"]) for r in audited] == [
        (f"{topic}/{p.partition}/{p.offset}", p.name) for p in poison
    ]


async def test_the_clear_ahv_number_leaves_no_trace_in_the_store(
    private_log: CoordinationSettings, db: asyncpg.Pool
) -> None:
    story, records = poisoned_story()

    sent = await publish_raw(private_log, records)

    await eventually(lambda: _processed(db, len(sent)))
    digits = CLEAR_AHV.replace(".", "")
    for table in ("timeline", "persons", "decisions", "outbox", "audit_log"):
        dumped = await db.fetchval(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")  # noqa: S608
        assert digits not in dumped.replace(".", ""), table
    assert (
        await db.fetchval("SELECT count(*) FROM timeline WHERE pseudonym = $1", story.pseudonym)
        == len(sent) - 4
    )


async def _processed(db: asyncpg.Pool, count: int) -> bool:
    return int(await db.fetchval("SELECT count(*) FROM processed_events")) >= count


async def test_a_registry_persons_poison_is_dead_lettered_sealed_and_a_clear_record_refused(
    private_log: CoordinationSettings, db: asyncpg.Pool
) -> None:
    # A record of a registry person that opens but is not a valid event goes to the dead-letter
    # topic as the log holds it (sealed under the person's key: erasure covers it too); a record
    # in clear naming a registry subject is never folded (only legacy psn: records are in clear).
    settings = private_log
    topic = settings.coordination_case_events_topic
    ahv = AhvNumber(valid_ahv(SEED + 2))
    registry = PersonRegistry(
        db,
        settings.person_db_schema,
        settings.person_keyring,
        settings.pseudonym_keyring,
        IdentitySeal.from_settings(settings),
    )
    person = (await registry.resolve([ahv]))[ahv.digits]
    marker = f"GIFT-{uuid.uuid4().hex}"
    at = dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC)

    def note(text: str, source: str = "/iiz/bl/rav") -> KafkaRecord:
        data = NoteAdded(person=PersonRef(case_ref="RAV-4712"), note_id=uuid.uuid4(), text=text)
        event = new_event(
            data, source=source, time=at, subject=person.subject, partitionkey=person.subject
        )
        return to_kafka(event)

    records = [
        ("unknown_source", seal_record(note(marker, "/iiz/bl/nowhere"), person.key)),
        ("unsealed_registry_subject", note(marker)),
    ]
    start = await end_offsets(settings, [COORDINATION_REJECTED])

    sent = await publish_raw(settings, records)

    def mine(record: Record) -> bool:
        return header(record, "iiz_topic") == topic

    letters = await read_until(
        settings, start, lambda rs: sum(1 for r in rs if mine(r)) >= len(sent), within=60
    )
    by_offset = {int(header(r, "iiz_offset") or -1): r for r in letters if mine(r)}
    seal = IdentitySeal.from_settings(settings)
    for s in sent:
        letter: Any = by_offset[s.offset]  # aiokafka ships no types
        assert header(letter, "iiz_reason") == s.name
        assert original_of(letter.value, seal) == s.record, f"{s.name}: as the log holds it"
    first: Any = by_offset[sent[0].offset]
    opened_poison = original_of(first.value, seal)
    assert opened_poison.header(SEALED_HEADER) == b"v1"
    assert marker.encode() not in opened_poison.value + b"".join(
        v for _, v in opened_poison.headers
    )
    assert await db.fetchval("SELECT count(*) FROM timeline") == 0
    assert await db.fetchval("SELECT count(*) FROM persons") == 0
