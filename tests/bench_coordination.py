"""Coordination consumer throughput: realistic case stories on a log of their own.

Each person's story is 14 canonical events in the typical IIZ shape: RAV opens the case, the
person consents for four institutions (some with health), IV-Stelle and the social services join,
measures and benefits start and end, a referral is asked and answered, a forecast of benefit
exhaustion, an assessment and a case conference. The records are sealed as intake writes them
(each person resolved in a registry of the run's own, a key per person). The worker (consumer,
outbox relay and deadline scheduler, as deployed) starts on a fresh group and schema; the clock
stops when every event is marked processed in PostgreSQL. Then the projections are rebuilt from
that log (``rebuild``, as the operator runs it), timed on its own. ``IIZ_BENCH_SETTLE_GC=1``
settles the garbage collector once the worker started, as the service's command does (the
worker otherwise runs with the test process's defaults). Measures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import resource
import time
import uuid
from typing import Any

import asyncpg
from aiokafka.admin import NewTopic
from faststream import TestApp

from schemas.codec import to_kafka
from schemas.events import (
    AppointmentScheduled,
    AssessmentCompleted,
    BenefitExhaustionExpected,
    BenefitGranted,
    CaseOpened,
    ConsentGranted,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ReferralAccepted,
    ReferralRequested,
)
from schemas.topics import DELIVERY_OUTCOMES
from schemas.vocabulary import (
    AppointmentKind,
    BenefitKind,
    DataCategory,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from services.common.database import asyncpg_dsn, create_pool
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_admin, create_producer
from services.common.person_registry import PersonRegistry
from services.common.record_seal import seal_record
from services.coordination.ops.migrate import migrate
from services.coordination.ops.rebuild import rebuild
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.coordination.worker.runtime import CoordinationRuntime
from services.intake.migrate import migrate as migrate_intake
from services.intake.settings import IntakeSettings
from tests.case_story import CaseStory
from tests.infra import replication_factor
from tests.kafka_tools import prime_group_at_end

SOCIAL_SERVICES = ["sozialhilfe-2829", "sozialhilfe-2769", "sozialhilfe-2762", "sozialhilfe-2831"]


def story_of(seed: int, rng: random.Random) -> CaseStory:
    s = CaseStory(person_seed=100_000 + seed)
    sh = rng.choice(SOCIAL_SERVICES)
    categories = [DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT, DataCategory.BENEFITS]
    if rng.random() < 0.4:
        categories.append(DataCategory.HEALTH)
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    s.rav(
        ConsentGranted,
        institutions=["rav", "iv", sh, "assessmentcenter"],
        categories=categories,
        valid_from=dt.date(2026, 1, 1),
        document_ref=f"B-{seed}",
    )
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    s.rav(BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=dt.date(2026, 3, 1))
    coaching = s.rav(MeasureStarted, kind=MeasureKind.COACHING)
    s.rav(
        BenefitExhaustionExpected,
        kind=BenefitKind.ALV_DAILY_ALLOWANCE,
        expected_end=dt.date(2026, 5, 15),
    )
    referral = s.rav(
        ReferralRequested, to_institution=sh, purpose=ReferralPurpose.POTENTIAL_ASSESSMENT
    )
    s.by(sh, ReferralAccepted, referral_id=referral.data.referral_id)
    s.iv(
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        health_limitations="Keine schweren Lasten",
        datacategory=DataCategory.EMPLOYMENT,
    )
    s.iv(MeasureStarted, kind=MeasureKind.IV_EARLY_INTERVENTION)
    s.rav(
        MeasureEnded,
        measure_id=coaching.data.measure_id,
        kind=MeasureKind.COACHING,
        result=MeasureResult.COMPLETED,
        cost_chf="800.00",
    )
    s.by(sh, ParticipantJoined, institution=sh, role=ParticipantRole.PARTICIPANT)
    s.by(sh, MeasureStarted, kind=MeasureKind.BUDGET_DEBT_COUNSELLING)
    s.rav(
        AppointmentScheduled,
        kind=next(iter(AppointmentKind)),
        scheduled_for=dt.datetime(2026, 4, 20, 9, tzinfo=dt.UTC),
        institutions=["rav", "iv", sh],
    )
    return s


def registry_intake_schema(settings: CoordinationSettings) -> str:
    """Intake's own tables of the registry's migration run (only the registry is used)."""
    return f"{settings.person_db_schema}_intake"


async def sealed_records(settings: CoordinationSettings, stories: list[CaseStory]) -> list[Any]:
    """The stories' records as intake writes them: each person resolved in the registry (a
    random subject and a key of their own), each record sealed under the person's key."""
    await migrate_intake(
        IntakeSettings(
            database_url=settings.database_url,
            migration_database_url=settings.migration_database_url,
            intake_db_schema=registry_intake_schema(settings),
            person_db_schema=settings.person_db_schema,
        )
    )
    pool = await create_pool(settings.database_url, settings.person_db_schema)
    try:
        registry = PersonRegistry(
            pool,
            settings.person_db_schema,
            settings.person_keyring,
            settings.pseudonym_keyring,
            IdentitySeal.from_settings(settings),
        )
        persons = await registry.resolve(story.ahv for story in stories)
    finally:
        await pool.close()
    records = []
    for story in stories:
        person = persons[story.ahv.digits]
        for event in story.events:
            own = event.model_copy(
                update={"subject": person.subject, "partitionkey": person.subject}
            )
            records.append(seal_record(to_kafka(own), person.key))
    return records


async def bench_coordination(persons: int) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    base = CoordinationSettings(log_level="WARNING")
    topic = f"bench.case-events.{suffix}"
    admin = create_admin(base)
    await admin.start()
    replicas = await replication_factor(admin)
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=replicas)])
    await admin.close()
    settings = CoordinationSettings(
        log_level="WARNING",
        coordination_db_schema=f"bench_coord_{suffix}",
        coordination_group_id=f"bench-coord-{suffix}",
        coordination_case_events_topic=topic,
        person_db_schema=f"bench_persons_{suffix}",
        coordination_run_signals_summary=False,
        coordination_run_retention=False,
    )
    await migrate(settings)
    await prime_group_at_end(settings, f"bench-coord-{suffix}-outcomes", [DELIVERY_OUTCOMES])
    rng = random.Random(7)
    records = await sealed_records(settings, [story_of(seed, rng) for seed in range(persons)])
    await send_all(settings, topic, records)

    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    began = time.perf_counter()
    async with TestApp(create_app(settings)):
        if os.environ.get("IIZ_BENCH_SETTLE_GC"):  # as `python -m services.coordination worker`
            from services.common.worker import settle_garbage_collector

            await settle_garbage_collector()
        await until_true(pool, "SELECT count(*) >= $1 FROM processed_events", len(records))
        elapsed = time.perf_counter() - began
        outbox = await pool.fetchval("SELECT count(*) FROM outbox")
        await until_true(pool, "SELECT count(*) = $1 FROM outbox WHERE published_at IS NULL", 0)
        relayed = time.perf_counter() - began
    decisions = await pool.fetchval("SELECT count(*) FROM decisions")
    await pool.close()
    rebuilt, rebuild_seconds = await timed_rebuild(settings)
    owner = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        await owner.execute(f'DROP SCHEMA "{settings.coordination_db_schema}" CASCADE')
        await owner.execute(f'DROP SCHEMA "{settings.person_db_schema}" CASCADE')
        await owner.execute(f'DROP SCHEMA "{registry_intake_schema(settings)}" CASCADE')
    finally:
        await owner.close()
    return {
        "persons": persons,
        "events": len(records),
        "seconds": elapsed,
        "per_second": len(records) / elapsed,
        "decisions": decisions,
        "deliveries": outbox,
        "relayed_seconds": relayed,
        "rebuilt": rebuilt,
        "rebuild_seconds": rebuild_seconds,
        "rebuild_per_second": rebuilt / rebuild_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def timed_rebuild(settings: CoordinationSettings) -> tuple[int, float]:
    """``python -m services.coordination rebuild`` on the log just folded: records, seconds."""
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        began = time.perf_counter()
        report = await rebuild(runtime)
        return report.records, time.perf_counter() - began
    finally:
        await runtime.stop()


async def send_all(settings: CoordinationSettings, topic: str, records: list[Any]) -> None:
    """The records onto the topic, as the canonical log holds them (acks=all)."""
    producer = create_producer(settings)
    await producer.start()
    try:
        for record in records:
            await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
        await producer.flush()
    finally:
        await producer.stop()


async def until_true(pool: Any, query: str, value: int) -> None:
    """Poll the database until the query says true (a benchmark waits; it asserts nothing)."""
    while True:
        if await pool.fetchval(query, value):
            return
        await asyncio.sleep(0.2)
