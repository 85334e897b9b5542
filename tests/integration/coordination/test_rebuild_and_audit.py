"""The projections can be rebuilt from the log to the same state, and the audit log's hash chain
shows any tampering — with the row where it starts."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from faststream import TestApp

from schemas.codec import to_kafka
from schemas.events import (
    BenefitExhaustionExpected,
    CaseOpened,
    ConsentGranted,
    ParticipantJoined,
    ReferralAccepted,
    ReferralRequested,
)
from schemas.vocabulary import BenefitKind, DataCategory, ParticipantRole, ReferralPurpose
from services.common.database import create_pool
from services.common.kafka_clients import create_producer
from services.coordination import audit
from services.coordination.ops.migrate import migrate
from services.coordination.ops.rebuild import PROJECTIONS, rebuild
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    drop_schema,
    eventually,
    make_coordination_settings,
    prime_outcomes_at_end,
    processed_count,
)
from tests.integration.coordination.test_consent_routing import consent_story

# Columns that say when a row was written, not what it holds.
WRITE_TIMES = {"processed_at", "updated_at"}


@pytest.fixture
async def private_log(
    infra: Infra, new_topic: Callable[..., Any]
) -> AsyncIterator[CoordinationSettings]:
    """Coordination on a log of its own, so a replay from the start sees only this test."""
    topic = await new_topic("iiz.case-events.test", partitions=6)
    settings = make_coordination_settings(
        infra,
        coordination_case_events_topic=topic,
        coordination_audit_checkpoints_topic=await new_topic("iiz.audit-checkpoints.test"),
    )
    await migrate(settings)
    await prime_outcomes_at_end(settings)
    yield settings
    await drop_schema(settings)


def many_people(count: int) -> list[Any]:
    events: list[Any] = []
    for seed in range(count):
        s = CaseStory(person_seed=500 + seed)
        s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
        s.rav(
            ConsentGranted,
            institutions=["rav", "assessmentcenter", "sozialhilfe-2769"],
            categories=[DataCategory.CASE_ADMIN, DataCategory.BENEFITS],
            valid_from=dt.date(2026, 1, 1),
            document_ref=f"E-{seed}",
        )
        s.rav(ParticipantJoined, institution="assessmentcenter", role=ParticipantRole.PARTICIPANT)
        s.rav(
            BenefitExhaustionExpected,
            kind=BenefitKind.ALV_DAILY_ALLOWANCE,
            expected_end=dt.date(2026, 5, 31),
        )
        referral = s.rav(
            ReferralRequested,
            to_institution="sozialhilfe-2769",
            purpose=ReferralPurpose.POTENTIAL_ASSESSMENT,
        )
        if seed % 2:
            s.sozialhilfe_2769(ReferralAccepted, referral_id=referral.data.referral_id)
        events.extend(s.events)
    story, _ = consent_story()
    return events + story.events


async def _publish(settings: CoordinationSettings, events: list[Any]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for event in events:
            r = to_kafka(event)
            await producer.send_and_wait(
                settings.coordination_case_events_topic,
                value=r.value,
                key=r.key,
                headers=list(r.headers),
            )
    finally:
        await producer.stop()


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every projection's rows as sorted canonical JSON, without write timestamps."""
    tables: dict[str, list[str]] = {}
    for table in PROJECTIONS:
        rows = await pool.fetch(f"SELECT * FROM {table}")  # noqa: S608
        tables[table] = sorted(
            json.dumps(
                {k: v for k, v in dict(row).items() if k not in WRITE_TIMES},
                sort_keys=True,
                default=str,
            )
            for row in rows
        )
    return tables


async def test_rebuild_replays_the_log_to_a_state_equal_to_the_live_one(
    private_log: CoordinationSettings,
) -> None:
    events = many_people(40)
    pool = await processed_live(private_log, events)
    try:
        live = await snapshot(pool)
        outbox_before = await pool.fetchval("SELECT count(*) FROM outbox")

        runtime = CoordinationRuntime(private_log)
        await runtime.start()
        try:
            report = await rebuild(runtime)
        finally:
            await runtime.stop()

        assert report.applied == len(events)
        assert await snapshot(pool) == live
        assert len(live["timeline"]) == len(events)
        assert await pool.fetchval("SELECT count(*) FROM outbox") == outbox_before
        assert (await audit.verify(pool)).intact
    finally:
        await pool.close()


async def verify_audit_command(settings: CoordinationSettings) -> tuple[int, str]:
    """Run ``python -m services.coordination verify-audit`` as an operator would; its exit code
    and its verdict up to the first colon."""
    code, verdict = await verify_audit_verdict(settings)
    return code, verdict.split(":")[0]


VERDICTS = (
    "audit log intact",
    "audit log BROKEN",
    "audit checkpoint MISMATCH",
    "audit checkpoints MISSING",
)


async def verify_audit_verdict(settings: CoordinationSettings, **extra: str) -> tuple[int, str]:
    """The exit code and the whole verdict line of ``verify-audit`` (as the service role);
    ``extra``: further ``IIZ_*`` variables."""
    env = {
        **os.environ,
        **extra,
        "IIZ_DATABASE_URL": settings.database_url,
        "IIZ_COORDINATION_DB_SCHEMA": settings.coordination_db_schema,
        "IIZ_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "IIZ_COORDINATION_AUDIT_CHECKPOINTS_TOPIC": settings.coordination_audit_checkpoints_topic,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.coordination",
        "verify-audit",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    verdicts = [line for line in (out + err).decode().splitlines() if line.startswith(VERDICTS)]
    assert len(verdicts) == 1, (out + err).decode()
    return process.returncode or 0, verdicts[0]


async def test_verify_audit_finds_a_changed_row_and_names_it(
    private_log: CoordinationSettings,
) -> None:
    story, _ = consent_story()
    pool = await processed_live(private_log, story.events)
    try:
        assert (await audit.verify(pool)).intact
        assert await verify_audit_command(private_log) == (0, "audit log intact")

        # The owner disables the append-only trigger and rewrites one decision's basis.
        async with owner_pool(private_log) as owner, owner.acquire() as conn:
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            await conn.execute("UPDATE audit_log SET basis = 'iv: origin' WHERE seq = 4")
        result = await audit.verify(pool)
        assert (result.intact, result.first_broken) == (False, 4)
        assert await verify_audit_command(private_log) == (1, "audit log BROKEN at row 4")
    finally:
        await pool.close()


@pytest.mark.parametrize(
    ("tamper", "broken_at"),
    [
        ("DELETE FROM audit_log WHERE seq = 3", 3),
        ("UPDATE audit_log SET detail = '{}'::jsonb WHERE seq = 2", 2),
        ("UPDATE audit_log SET at = at + interval '1 hour' WHERE seq = 5", 5),
        (
            "UPDATE audit_log SET hash = repeat('a', 64) WHERE seq = 2",
            2,
        ),
        ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)", None),
    ],
    ids=["row removed", "detail changed", "time changed", "hash rewritten", "last row removed"],
)
async def test_every_kind_of_tampering_breaks_the_chain(
    private_log: CoordinationSettings, tamper: str, broken_at: int | None
) -> None:
    story, _ = consent_story()
    pool = await processed_live(private_log, story.events)
    try:
        rows = await pool.fetchval("SELECT count(*) FROM audit_log")
        async with owner_pool(private_log) as owner, owner.acquire() as conn:
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            await conn.execute(tamper)
        result = await audit.verify(pool)
        assert not result.intact
        assert result.first_broken == (broken_at if broken_at is not None else rows)
    finally:
        await pool.close()


async def test_the_database_refuses_to_change_or_delete_audit_rows(
    private_log: CoordinationSettings,
) -> None:
    story, _ = consent_story()
    pool = await processed_live(private_log, story.events)
    try:
        for statement in (
            "UPDATE audit_log SET actor = 'someone' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 1",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the service role
                await pool.execute(statement)
            async with owner_pool(private_log) as owner:  # the owner, by the trigger
                with pytest.raises(asyncpg.RaiseError, match="append-only"):
                    await owner.execute(statement)
    finally:
        await pool.close()


@asynccontextmanager
async def owner_pool(settings: CoordinationSettings) -> AsyncIterator[asyncpg.Pool]:
    """The schema owner's pool: the only role that can tamper (by disabling triggers)."""
    pool = await create_pool(settings.owner_database_url, settings.coordination_db_schema)
    try:
        yield pool
    finally:
        await pool.close()


async def _processed(pool: asyncpg.Pool, count: int) -> bool:
    return await processed_count(pool) >= count


async def processed_live(settings: CoordinationSettings, events: list[Any]) -> asyncpg.Pool:
    """Publish the events to the private log, let the live worker process them, and return a
    pool on the schema (the caller closes it)."""
    await _publish(settings, events)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    async with TestApp(create_app(settings)):
        await eventually(lambda: _processed(pool, len(events)), within=60)
    return pool
