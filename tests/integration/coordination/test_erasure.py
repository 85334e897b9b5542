"""Erasing one person among many, online, on the real broker and database (issue 17, deliverable
3; the plan of the research note's section 4).

About twenty persons go through intake (registry, person keys, sealed records, ledger) into a
coordination worker on a canonical log of the test's own. The target X gets every kind of data
(markers in free text and references, a document, deliveries with the identity category, a
deadline, a refused event, a delivery outcome, an inbox read, API reads). Then, while the worker
runs, X is erased through the real command line, with one more event of X and one of Y racing it.

Afterwards nothing of X is found in any table, in a ``pg_dump --data-only`` of the schemas, in any
readable record of the canonical log (X's records are sealed and no longer open) or in the log
lines; the only leftovers are X's random subject and case numbers in the audit log (a documented
limitation: partners can link case numbers, docs/retention.md). The scanners first prove on the
data before the erasure that they find X (negative control). A rebuild gives everyone else the
state they had; X's AHV number comes back as a new person with none of the old data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import sys
import uuid
from typing import Any

import asyncpg
import pytest
from faststream import TestApp

from schemas.ahv import AhvNumber, pseudonymise
from schemas.codec import KafkaRecord
from schemas.events import (
    AssessmentCompleted,
    BenefitExhaustionExpected,
    CaseOpened,
    ConsentGranted,
    DocumentShared,
    ParticipantJoined,
    ReferralAccepted,
    ReferralRequested,
)
from schemas.topics import planned_topics
from schemas.vocabulary import (
    BenefitKind,
    DataCategory,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from services.common.document_store import StoredDocument, store
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_admin
from services.common.person_lookup import subjects_of
from services.common.person_registry import PersonRegistry, keys_of
from services.common.record_seal import Erased, is_sealed, open_record, subject_of
from services.coordination import audit
from services.coordination.domain.case_file import CaseFile
from services.coordination.ops.erase import Requester, Stores, erase_subject
from services.coordination.ops.lifecycle_cli import erase_command as erase_cli
from services.coordination.ops.rebuild import PROJECTIONS, rebuild
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.coordination.worker.runtime import CoordinationRuntime
from services.intake.submission import canonical_id
from tests.conftest import LogCollector
from tests.factories import format_ahv, valid_ahv
from tests.integration.coordination.conftest import (
    api_client,
    eventually,
)
from tests.integration.coordination.erasure_bus import (
    START,
    Bus,
    Person,
    bus_fixture,  # noqa: F401 - the fixture ``bus``
    processed,
)
from tests.integration.coordination.erasure_scan import pg_dump, scan_dump, scan_tables
from tests.kafka_tools import bus_records, end_offsets, read_all
from tests.tokens import mint_token
from tests.topic_plan import create_topics

WRITE_TIMES = {"processed_at", "updated_at"}
PERSONS = 20
LONGEST_TRANSIENT_LIFE_MS = 91 * 24 * 3600 * 1000  # 90 days' retention + one day's segment


def ordinary(seed: int) -> Person:
    """Everyone else: a case at rav with a consent, the Assessmentcenter, a referral."""
    p = Person(seed)
    p.by("rav", CaseOpened, reason=f"Abklärung {p.marker}", project_code="IIZ-FALLKOORD")
    p.by(
        "rav",
        ConsentGranted,
        institutions=["rav", "assessmentcenter", "sozialhilfe-2769"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.BENEFITS],
        valid_from=dt.date(2026, 1, 1),
        document_ref=f"E-{p.marker}",
    )
    p.by("rav", ParticipantJoined, institution="assessmentcenter", role=ParticipantRole.PARTICIPANT)
    p.by(
        "rav",
        BenefitExhaustionExpected,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        expected_end=dt.date(2026, 5, 31),
    )
    referral = p.by(
        "rav",
        ReferralRequested,
        to_institution="sozialhilfe-2769",
        purpose=ReferralPurpose.POTENTIAL_ASSESSMENT,
        answer_due=dt.date(2026, 3, 20),
    )
    if seed % 2:
        p.by("sozialhilfe-2769", ReferralAccepted, referral_id=referral.data.referral_id)
    return p


def target(seed: int, document_id: uuid.UUID, document: bytes) -> Person:
    """X: every kind of data, markers in every free text and reference."""
    x = Person(seed)
    m = x.marker
    x.by("rav", CaseOpened, reason=f"Aussteuerung {m}", project_code="IIZ-FALLKOORD")
    x.by(
        "rav",
        ConsentGranted,
        institutions=["rav", "iv", "assessmentcenter"],
        categories=[
            DataCategory.CASE_ADMIN,
            DataCategory.IDENTITY,  # deliveries carry the sealed AHV number
            DataCategory.HEALTH,
            DataCategory.DOCUMENTS,
        ],
        valid_from=dt.date(2026, 1, 1),
        document_ref=f"VOLLMACHT-{m}",
    )
    x.by(
        "rav",
        ParticipantJoined,
        institution="iv",
        role=ParticipantRole.PARTICIPANT,
        institution_case_ref=f"IV-REF-{m}",
    )
    x.by(
        "rav",
        ReferralRequested,
        to_institution="assessmentcenter",
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        answer_due=dt.date(2026, 3, 9),  # a deadline
        note=f"Bitte rasch {m}",
    )
    x.by(
        "iv",
        AssessmentCompleted,
        datacategory=DataCategory.HEALTH,
        potential=Potential.MEDIUM,
        health_limitations=f"Rücken {m}",
        recommendation=f"Teilzeit {m}",
    )
    x.by(
        "rav",
        DocumentShared,
        document_id=document_id,
        title=f"Arztzeugnis {m}",
        media_type="application/pdf",
        size_bytes=len(document),
        sha256=hashlib.sha256(document).hexdigest(),
        held_by="rav",
    )
    # Refused: berufsbildung takes no part in X's case.
    x.by(
        "berufsbildung",
        ReferralRequested,
        to_institution="rav",
        purpose=ReferralPurpose.POTENTIAL_ASSESSMENT,
        note=f"Abgewiesen {m}",
    )
    return x


async def snapshot(
    pool: asyncpg.Pool, excluded: set[str], excluded_events: set[str]
) -> dict[str, list[str]]:
    """Every projection's rows but those of the ``excluded`` subjects and events (sorted JSON)."""
    tables: dict[str, list[str]] = {}
    for table in PROJECTIONS:
        rows = [dict(r) for r in await pool.fetch(f"SELECT * FROM {table}")]  # noqa: S608
        kept = [
            r
            for r in rows
            if r.get("pseudonym") not in excluded and str(r.get("event_id")) not in excluded_events
        ]
        tables[table] = sorted(
            json.dumps({k: v for k, v in r.items() if k not in WRITE_TIMES}, default=str)
            for r in kept
        )
    return tables


async def erase_command(settings: CoordinationSettings, ahv: str, ticket: str) -> str:
    """``python -m services.coordination erase --ahv-stdin --ticket T``, the AHV number on stdin."""
    env = {
        **os.environ,
        "IIZ_DATABASE_URL": settings.database_url,
        "IIZ_COORDINATION_DB_SCHEMA": settings.coordination_db_schema,
        "IIZ_COORDINATION_INTAKE_DB_SCHEMA": settings.coordination_intake_db_schema,
        "IIZ_DOCUMENT_DB_SCHEMA": settings.document_db_schema,
        "IIZ_PERSON_DB_SCHEMA": settings.person_db_schema,
        "IIZ_ENVIRONMENT": "test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.coordination",
        "erase",
        "--ahv-stdin",
        "--ticket",
        ticket,
        "--actor",
        "dsb-test",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(f"{ahv}\n".encode()), timeout=120)
    assert process.returncode == 0, (out + err).decode()
    return (out + err).decode()


async def canonical_records(settings: CoordinationSettings) -> list[KafkaRecord]:
    records: list[Any] = await read_all(settings, [settings.coordination_case_events_topic])
    return [KafkaRecord(r.key, r.value or b"", tuple(r.headers)) for r in records]


async def consumer_caught_up(settings: CoordinationSettings) -> bool:
    """The worker's group has committed the end of every partition of the log."""
    ends = await end_offsets(settings, [settings.coordination_case_events_topic])
    admin = create_admin(settings)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.coordination_group_id)
    finally:
        await admin.close()
    return all(tp in committed and committed[tp].offset >= end for tp, end in ends.items())


async def test_one_person_is_erased_among_many_and_nothing_of_them_remains(
    bus: Bus, session_log_lines: LogCollector
) -> None:
    logged_from = len(session_log_lines.lines)
    pool, settings = bus.pool, bus.coordination
    document, document_id = f"%PDF-1.4 Befund {uuid.uuid4().hex}".encode(), uuid.uuid4()
    x = target(7000 + int(uuid.uuid4().int % 1000), document_id, document)
    others = [ordinary(8000 + i * 7 + int(uuid.uuid4().int % 5)) for i in range(PERSONS - 1)]
    y = others[0]
    everyone = [x, *others]

    # 1. The population, through intake, into the running worker.
    async with TestApp(create_app(settings)):
        for person in everyone:
            await bus.submit(person.events)
        total = sum(len(p.events) for p in everyone)
        await eventually(lambda: _at_least(pool, total), within=120)
        x_subject = (await subjects_of(pool, AhvNumber(x.ahv), settings))[0]
        assert x_subject.startswith("prs:")

        # What else X has: a document, a delivery outcome, an inbox read, reads through the API.
        await store(
            pool,
            settings.document_db_schema,
            StoredDocument(
                document_id,
                x_subject,
                "rav",
                "application/pdf",
                len(document),
                hashlib.sha256(document).hexdigest(),
                b"sealed:" + document,
            ),
        )
        x_events = {
            str(r["event_id"])
            for r in await pool.fetch(
                "SELECT event_id FROM timeline WHERE pseudonym = $1", x_subject
            )
        }
        x_ids = ids_of(x) | x_events
        deliveries = await pool.fetch(
            "SELECT delivery_id, value FROM outbox WHERE position($1::bytea IN key) > 0",
            f"/{x_subject}".encode(),
        )
        assert deliveries, "X's events were delivered"
        await pool.execute(
            "INSERT INTO delivery_outcomes (outcome_id, delivery_id, recipient, channel, status,"
            " attempt, error, reported_at) VALUES ($1, $2, 'iv', 'kafka', 'failed', 1, $3, now())",
            uuid.uuid4(),
            deliveries[0]["delivery_id"],
            f"timeout {x.marker}",
        )
        await pool.execute(
            "INSERT INTO inbox_reads (institution, event_id, read_by, read_at)"
            " VALUES ('iv', $1, 'iv-user', now())",
            uuid.UUID(sorted(x_events)[0]),
        )
        case_numbers = [
            r["case_number"]
            for r in await pool.fetch(
                "SELECT case_number FROM cases WHERE pseudonym = $1", x_subject
            )
        ]
        async with api_client(settings) as api:
            token = mint_token(settings, "rav-user", "rav", "caseworker", dt.timedelta(hours=1))
            read = await api.get(
                f"/v1/cases/{case_numbers[0]}/timeline",
                headers={"authorization": f"Bearer {token}"},
            )
            assert read.status_code == 200, read.text
        # The sealed AHV number: the registry's, and any a delivery with identity carries.
        registered = await pool.fetchval(
            f'SELECT sealed_ahv FROM "{settings.person_db_schema}".persons'  # noqa: S608
            " WHERE subject = $1",
            x_subject,
        )
        sealed_tokens = [registered, *_sealed_ahv_in(deliveries)]
        refused = await pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE subject = $1 AND action = 'refused'", x_subject
        )
        assert refused == 1

        needles = {
            "ahv dotted": format_ahv(x.ahv),
            "ahv digits": x.ahv,
            "marker": x.marker,
            "document sha256": hashlib.sha256(document).hexdigest(),
            "document id": str(document_id),
            **{f"case number {n}": n for n in case_numbers},
            **{f"event {e}": e for e in x_events},
            **{f"delivery {d['delivery_id']}": str(d["delivery_id"]) for d in deliveries},
            **{f"sealed ahv {i}": t for i, t in enumerate(sealed_tokens)},
            "subject": x_subject,
        }
        schemas = bus.schemas

        # 2. Negative control: before the erasure the scanners find X everywhere they look.
        async with pool.acquire() as conn:
            before_tables = await scan_tables(conn, schemas, needles, x_subject)
        before_dump = scan_dump(
            await pg_dump(settings.owner_database_url, schemas), needles, x_subject
        )
        for hits in (before_tables, before_dump):
            found = set().union(*hits.values())
            assert {"marker", "subject", "document sha256", "sealed ahv 0"} <= found
            assert any(n.startswith("case number") for n in found)
            assert any(n.endswith("(hex)") for n in found)  # inside bytea (the outbox value)
        x_records = [
            r for r in await canonical_records(settings) if subject_of(r.headers) == x_subject
        ]
        assert len(x_records) == len(x.events)
        assert all(is_sealed(r) for r in x_records)
        keys = await keys_of(pool, settings.person_db_schema, settings.person_keyring, {x_subject})
        assert all(not isinstance(open_record(r, keys), Erased) for r in x_records)

        y_subject = (await subjects_of(pool, AhvNumber(y.ahv), settings))[0]
        others_before = await snapshot(pool, {x_subject, y_subject}, x_ids | ids_of(y))

        # 3. Erase X through the command line while the worker runs; X and Y race it.
        race_x = x.by(
            "rav",
            ParticipantJoined,
            institution="assessmentcenter",
            role=ParticipantRole.PARTICIPANT,
            institution_case_ref=f"AC-{x.marker}",
        )
        race_y = y.by("rav", ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
        output, _ = await asyncio.gather(
            erase_command(settings, format_ahv(x.ahv), "DSB-2026-A17"),
            bus.submit([race_x, race_y]),
        )
        await eventually(lambda: consumer_caught_up(settings), within=60)
        assert x.marker not in output
        assert x.ahv not in output
        again = await erase_command(settings, format_ahv(x.ahv), "DSB-2026-A17")
        assert "nothing to erase" in again
        others_live = await snapshot(pool, {x_subject}, ids_of(x) | x_ids)

    # Everyone but X and Y is untouched; Y has exactly its one new event more.
    assert await snapshot(pool, {x_subject, y_subject}, x_ids | ids_of(y)) == others_before
    assert await pool.fetchval(
        "SELECT count(*) FROM timeline WHERE pseudonym = $1", y_subject
    ) == len(y.events)

    # 4. The audit log keeps the fact: one row, counts and ticket only.
    erased = await pool.fetch("SELECT * FROM audit_log WHERE action = 'erased'")
    assert len(erased) == 1
    row = erased[0]
    assert (row["subject"], row["object"]) == (x_subject, None)
    detail = json.loads(row["detail"]) if isinstance(row["detail"], str) else row["detail"]
    assert detail["ticket"] == "DSB-2026-A17"
    assert detail["key_destroyed"] is True
    assert detail["rows"]["timeline"] >= len(x.events) - 1
    assert {
        "documents",
        "submission_ledger",
        "outbox",
        "delivery_outcomes",
        "inbox_reads",
        "case_numbers",
        "deadlines",
    } <= set(detail["rows"])

    # 5. A rebuild (worker stopped) gives everyone else the same state; X's records are skipped.
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        report = await rebuild(runtime)
    finally:
        await runtime.stop()
    assert report.erased >= len(x.events)
    assert await snapshot(pool, {x_subject}, ids_of(x) | x_ids) == others_live
    assert (await audit.verify(pool)).intact

    # 6. Nothing of X anywhere but the allowed leftovers (scanners as in the negative control).
    async with pool.acquire() as conn:
        assert await scan_tables(conn, schemas, needles, x_subject) == {}
    assert scan_dump(await pg_dump(settings.owner_database_url, schemas), needles, x_subject) == {}
    tombstone = await pool.fetchrow(
        f'SELECT * FROM "{settings.person_db_schema}".persons WHERE subject = $1',  # noqa: S608
        x_subject,
    )
    assert tombstone is not None
    assert tombstone["erased_at"] is not None
    assert tombstone["wrapped_key"] is None
    assert tombstone["sealed_ahv"] is None

    records = await canonical_records(settings)
    x_records = [r for r in records if subject_of(r.headers) == x_subject]
    assert len(x_records) >= len(x.events)  # the race event may have gone out under X too
    subjects = {s for r in records if (s := subject_of(r.headers)) is not None}
    keys = await keys_of(pool, settings.person_db_schema, settings.person_keyring, subjects)
    for r in records:
        opened = open_record(r, keys)
        if subject_of(r.headers) == x_subject:
            assert is_sealed(r)
            assert isinstance(opened, Erased)
            raw = b"".join([r.key or b"", r.value, *(v for _, v in r.headers)])
            assert x.marker.encode() not in raw
            assert x.ahv.encode() not in raw
        else:
            assert not isinstance(opened, Erased)

    lines = "\n".join(session_log_lines.lines[logged_from:])
    # The log saw X's case: the API read's URL, with its case number masked.
    assert "/v1/cases/IIZ-****-******/timeline" in lines
    text_needles = {k: v for k, v in needles.items() if k != "subject"}
    assert [k for k, v in text_needles.items() if v in lines] == []

    # 7. Transient topics: X's deliveries may still be there, on topics of bounded life only.
    script = create_topics()
    transient = [p for p in planned_topics() if p.retention_ms > 0]
    async with _Admin(settings) as admin:
        dynamic = await script.dynamic_configs(admin, [p.name for p in transient])
    for plan in transient:
        assert 0 < int(dynamic[plan.name]["retention.ms"]) <= plan.retention_ms
        assert int(dynamic[plan.name]["segment.ms"]) <= 24 * 3600 * 1000
        assert plan.longest_life_ms is not None
        assert plan.longest_life_ms <= LONGEST_TRANSIENT_LIFE_MS

    # 8. Re-appearance: the same AHV number later is a new person with none of the old data.
    async with TestApp(create_app(settings)):
        again_x = Person(x.seed)
        again_x.by("rav", CaseOpened, reason="Neuanmeldung", project_code="IIZ-FALLKOORD")
        count = await processed(pool)
        await bus.submit(again_x.events)
        await eventually(lambda: _at_least(pool, count + 1), within=60)
    now_known = await subjects_of(pool, AhvNumber(x.ahv), settings)
    assert now_known[0].startswith("prs:")
    assert now_known[0] != x_subject
    assert x_subject not in now_known
    timeline = await pool.fetch(
        "SELECT event::text AS e FROM timeline WHERE pseudonym = $1", now_known[0]
    )
    assert len(timeline) == 1
    assert x.marker not in timeline[0]["e"]


async def _at_least(pool: asyncpg.Pool, count: int) -> bool:
    return await processed(pool) >= count


def ids_of(person: Person) -> set[str]:
    """The canonical ids intake gives the person's events (also the refused and racing ones)."""
    return {str(canonical_id(e.source, str(e.id))) for e in person.events}


def _sealed_ahv_in(deliveries: list[asyncpg.Record]) -> list[str]:
    found = []
    for d in deliveries:
        person = json.loads(bytes(d["value"])).get("person", {})
        if person.get("sealed_ahv"):
            found.append(person["sealed_ahv"])
    return found


class _Admin:
    def __init__(self, settings: CoordinationSettings) -> None:
        self._admin = create_admin(settings)

    async def __aenter__(self) -> Any:
        await self._admin.start()
        return self._admin

    async def __aexit__(self, *exc: object) -> None:
        await self._admin.close()


async def test_a_batch_that_read_the_key_before_the_erasure_writes_nothing_of_the_person(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the worker's lock closes: a batch opened X's records with the key read just
    before the erasure committed; under the persons' locks it finds the tombstone and skips X."""
    pool, settings = bus.pool, bus.coordination
    x = Person(9000 + int(uuid.uuid4().int % 900))
    x.by("rav", CaseOpened, reason=f"Abklärung {x.marker}", project_code="IIZ-FALLKOORD")
    await bus.submit(x.events)
    records = await bus_records(settings, settings.coordination_case_events_topic)
    subject = (await subjects_of(pool, AhvNumber(x.ahv), settings))[0]
    stale = await keys_of(pool, settings.person_db_schema, settings.person_keyring, {subject})
    assert stale[subject] is not None

    erasure = await erase_subject(
        pool, Stores.of(settings), subject, Requester("operator/test", "DSB-RACE"), at=START
    )
    assert erasure.tombstoned

    async def keys_read_before_the_erasure(*_: Any) -> dict[str, bytes | None]:
        return stale

    monkeypatch.setattr(
        "services.coordination.worker.processor.keys_of", keys_read_before_the_erasure
    )
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        report = await runtime.processor().process(records)
    finally:
        await runtime.stop()

    assert report.applied == 0
    for table in ("persons", "timeline", "cases"):
        rows = await pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE pseudonym = $1",  # noqa: S608
            subject,
        )
        assert rows == 0, table


async def test_erase_refuses_a_person_with_legacy_cleartext_events_and_erases_nothing(
    coordination_settings: CoordinationSettings,
    db: asyncpg.Pool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A legacy (psn:) person's records are in clear on the log: a rebuild would bring them
    # back and send their deliveries again. Until the log is resealed, erase says so and stops.
    settings = coordination_settings.model_copy(update={"coordination_intake_db_schema": ""})
    ahv = AhvNumber(valid_ahv(8201))
    ring = settings.pseudonym_keyring
    legacy = pseudonymise(ahv, ring.current, ring.current_id)
    registry = PersonRegistry(
        db,
        settings.person_db_schema,
        settings.person_keyring,
        ring,
        IdentitySeal.from_settings(settings),
    )
    subject = (await registry.resolve([ahv]))[ahv.digits].subject
    await db.execute(
        "INSERT INTO persons (pseudonym, state, bus_partition, last_offset)"
        " VALUES ($1, $2::jsonb, 0, 7)",
        legacy,
        CaseFile(pseudonym=legacy).model_dump_json(),
    )

    code = await erase_cli(settings, "DSB-2026-L1", "dsb-test", io.StringIO(f"{ahv.formatted()}\n"))

    assert code != 0
    said = capsys.readouterr()
    assert "reseal the log first" in said.err
    assert "Nothing was erased" in said.err
    assert legacy not in said.out + said.err
    assert ahv.digits not in said.out + said.err
    assert await db.fetchval("SELECT count(*) FROM persons WHERE pseudonym = $1", legacy) == 1
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'erased'") == 0
    assert (await registry.keys_of([subject]))[subject] is not None

    # Without the legacy data the same request erases the registry person.
    await db.execute("DELETE FROM persons WHERE pseudonym = $1", legacy)
    assert (
        await erase_cli(settings, "DSB-2026-L1", "dsb-test", io.StringIO(f"{ahv.formatted()}\n"))
        == 0
    )
    assert (await registry.keys_of([subject]))[subject] is None
