"""Crypto-shredding end to end on the real broker and database: what intake publishes lands on the
canonical topic sealed for its person, coordination opens and folds it, the case is found by AHV
number through the person registry; once the person is tombstoned, the worker skips their
records and a rebuild counts them as erased while everyone else is rebuilt."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from schemas.ahv import AhvNumber
from schemas.codec import KafkaRecord, to_kafka
from schemas.events import CaseOpened, NoteAdded, PersonRef
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS
from services.common.database import asyncpg_dsn
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_producer
from services.common.person_registry import PersonKey, PersonRegistry, new_subject, tombstone
from services.common.record_seal import SEALED_HEADER, seal_record
from services.coordination.api.problems import UnavailableError
from services.coordination.api.publishing import publish_case_event
from services.coordination.ops.migrate import migrate as migrate_coordination
from services.coordination.ops.rebuild import rebuild
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.queries import CaseRow
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.runtime import CoordinationRuntime
from services.intake.migrate import migrate as migrate_intake
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Submission
from tests.factories import sample_event, valid_ahv
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    drop_schema,
    eventually,
    make_coordination_settings,
)
from tests.kafka_tools import end_offsets, read_between
from tests.tokens import mint_token

pytestmark = pytest.mark.integration

RAV = load_institutions().by_id["rav"]
MARKER = f"X-MARK-{uuid.uuid4().hex}"
X, Y = AhvNumber(valid_ahv(8101)), AhvNumber(valid_ahv(8102))


@pytest.fixture
async def intake(
    coordination_settings: CoordinationSettings, infra: Infra
) -> AsyncIterator[IntakeRuntime]:
    """Intake in this process, writing the registry coordination reads."""
    suffix = uuid.uuid4().hex[:10]
    settings = IntakeSettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
        intake_db_schema=f"intake_{suffix}",
        intake_instance_id=f"sealed-{suffix}",
        person_db_schema=coordination_settings.person_db_schema,
        document_db_schema=coordination_settings.document_db_schema,
    )
    await migrate_intake(settings)
    runtime = IntakeRuntime(settings)
    await runtime.start("kafka")
    yield runtime
    await runtime.stop()
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    await conn.execute(f'DROP SCHEMA "{settings.intake_db_schema}" CASCADE')
    await conn.close()


def submission(ahv: AhvNumber, n: int, **data: Any) -> Submission:
    event = sample_event(
        CaseOpened,
        person={"ahv_number": ahv.formatted(), "case_ref": f"{MARKER}-{n}"},
        correlationid=f"{MARKER}-corr",
        **data,
    )
    return Submission(RAV, to_kafka(event), f"test:{n}")


async def publish_through_intake(
    intake: IntakeRuntime, items: list[Submission]
) -> list[KafkaRecord]:
    """Publish through intake's pipeline; the canonical records it wrote, as on the broker."""
    assert intake.pipeline is not None
    start = await end_offsets(intake.settings, [CASE_EVENTS])
    answered = await intake.pipeline.process(items)
    ids = {str(a.outcome.event.id).encode() for a in answered}  # type: ignore[union-attr]
    records = await read_between(
        intake.settings, start, await end_offsets(intake.settings, [CASE_EVENTS])
    )
    return [
        KafkaRecord(r.key, r.value, tuple(r.headers))
        for r in records
        if dict(r.headers).get("ce_id") in ids
    ]


def raw(record: KafkaRecord) -> bytes:
    return (record.key or b"") + record.value + b"".join(n.encode() + v for n, v in record.headers)


def registry_of(settings: CoordinationSettings, pool: asyncpg.Pool) -> PersonRegistry:
    return PersonRegistry(
        pool,
        settings.person_db_schema,
        settings.person_keyring,
        settings.pseudonym_keyring,
        IdentitySeal.from_settings(settings),
    )


async def search(client: httpx.AsyncClient, settings: CoordinationSettings, ahv: AhvNumber) -> Any:
    token = mint_token(settings, "anna", "rav", "coordinator", dt.timedelta(hours=1))
    return await client.post(
        "/v1/cases/search",
        json={"ahv_number": ahv.formatted(), "purpose": "case-coordination"},
        headers={"Authorization": f"Bearer {token}"},
    )


async def processed(pool: asyncpg.Pool, event_id: bytes) -> bool:
    found = await pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE event_id = $1", uuid.UUID(event_id.decode())
    )
    return bool(found)


async def test_intake_seals_coordination_folds_search_finds_and_erasure_makes_records_unreadable(
    coordination_settings: CoordinationSettings,
    running_coordination: CoordinationSettings,
    db: asyncpg.Pool,
    intake: IntakeRuntime,
    client: httpx.AsyncClient,
    infra: Infra,
    new_topic: Callable[..., Any],
) -> None:
    settings = coordination_settings
    published = await publish_through_intake(intake, [submission(X, 1), submission(Y, 2)])

    # Sealed on the topic: nothing of the event readable, the subject a random registry id.
    assert len(published) == 2
    for record in published:
        headers = dict(record.headers)
        assert headers[SEALED_HEADER] == b"v1"
        assert headers["ce_subject"].startswith(b"prs:")
        assert MARKER.encode() not in raw(record)
        assert X.digits.encode() not in raw(record)
        assert b"Langzeitarbeitslosigkeit" not in raw(record)
    people = await registry_of(settings, db).resolve([X, Y])
    x_record = next(
        r for r in published if dict(r.headers)["ce_subject"] == people[X.digits].subject.encode()
    )

    # Folded, and found by AHV number through the registry.
    x_id = dict(x_record.headers)["ce_id"]
    await eventually(lambda: processed(db, x_id))
    timeline = await db.fetchval(
        "SELECT event->'data'->'person'->>'case_ref' FROM timeline WHERE pseudonym = $1",
        people[X.digits].subject,
    )
    assert timeline == f"{MARKER}-1"
    found = await search(client, settings, X)
    assert found.status_code == 200, found.text

    # Erased: the lookup is gone, the worker skips the person's records (a late one here).
    async with db.acquire() as conn, conn.transaction():
        await tombstone(conn, settings.person_db_schema, people[X.digits].subject)
    assert (await search(client, settings, X)).status_code == 404
    # On Y's partition, before Y's next event: once that is processed, the late one was read.
    for record in published:
        await eventually(lambda r=record: processed(db, dict(r.headers)["ce_id"]))
    y_partition = await db.fetchval(
        "SELECT bus_partition FROM timeline WHERE pseudonym = $1", people[Y.digits].subject
    )
    late = await late_record(settings, people[X.digits], y_partition)
    after = await publish_through_intake(intake, [submission(Y, 3)])
    await eventually(lambda: processed(db, dict(after[0].headers)["ce_id"]))
    assert not await processed(db, dict(late.headers)["ce_id"])

    # A rebuild from a log holding these records: the erased person's are counted and skipped.
    report, persons = await rebuild_from(infra, new_topic, [*published, late, *after])
    assert (report.records, report.applied, report.erased) == (4, 2, 2)
    assert persons == [people[Y.digits].subject]


async def late_record(
    settings: CoordinationSettings, person: PersonKey, partition: int
) -> KafkaRecord:
    """An event for the person sealed with their key before the erasure, published after it."""
    event = sample_event(
        NoteAdded,
        person={"case_ref": f"{MARKER}-late"},
        subject=person.subject,
        partitionkey=person.subject,
    )
    sealed = seal_record(to_kafka(event), person.key)
    producer: AIOKafkaProducer = create_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            CASE_EVENTS,
            sealed.value,
            key=sealed.key,
            headers=list(sealed.headers),
            partition=partition,
        )
    finally:
        await producer.stop()
    return sealed


async def rebuild_from(
    infra: Infra, new_topic: Callable[..., Any], records: list[KafkaRecord]
) -> tuple[Any, list[str]]:
    topic = await new_topic("iiz.case-events.sealed", partitions=1)
    settings = make_coordination_settings(infra, coordination_case_events_topic=topic)
    await migrate_coordination(settings)
    producer: AIOKafkaProducer = create_producer(settings)
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(topic, r.value, key=r.key, headers=list(r.headers))
    finally:
        await producer.stop()
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        report = await rebuild(runtime)
        assert runtime.pool is not None
        persons = [
            r["pseudonym"] for r in await runtime.pool.fetch("SELECT pseudonym FROM persons")
        ]
    finally:
        await runtime.stop()
        await drop_schema(settings)
    return report, persons


class RecordingProducer:
    """Stands in for the API's producer: what would have been published."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_and_wait(self, topic: str, **record: Any) -> None:
        self.sent.append({"topic": topic, **record})


async def test_the_api_publishes_a_registry_persons_note_only_sealed_and_fails_closed(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    settings = coordination_settings
    producer = RecordingProducer()
    api: Any = SimpleNamespace(
        settings=settings,
        pool=db,
        producer=producer,
        registry=load_institutions(),
        clock=lambda: dt.datetime(2026, 3, 10, 8, tzinfo=dt.UTC),
    )
    caller = Caller("anna", "rav", Role.COORDINATOR)
    person = (await registry_of(settings, db).resolve([X]))[X.digits]

    async def publish(subject: str) -> None:
        note = NoteAdded(person=PersonRef(case_ref="RAV-1"), note_id=uuid.uuid4(), text=MARKER)
        case = CaseRow(uuid.uuid4(), "IIZ-2026-000001", subject, True)
        await publish_case_event(api, caller, case, note, uuid.uuid4(), unavailable="again")

    # A registry subject the configured registry does not hold: refused, nothing published.
    with pytest.raises(UnavailableError):
        await publish(new_subject())
    assert producer.sent == []

    await publish(person.subject)
    sealed = producer.sent.pop()
    assert dict(sealed["headers"])[SEALED_HEADER] == b"v1"
    assert MARKER.encode() not in sealed["value"]

    await publish("psn:k1:" + "c" * 32)  # legacy: in clear, like their earlier events
    assert MARKER.encode() in producer.sent.pop()["value"]
