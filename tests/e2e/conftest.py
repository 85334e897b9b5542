"""End-to-end fixtures: the services running in this process against the real broker and
database — intake (Kafka door and HTTP door) and coordination (consumer, outbox relay, deadline
scheduler) — each with a private schema and consumer group, primed at the topics' end.

``running_bus`` is the one to extend when more services join the run (notifications).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from faststream import TestApp

from schemas.registry import load_institutions
from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import CASE_EVENTS
from services.common.database import asyncpg_dsn, create_pool
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app as create_coordination_app
from services.intake.kafka_door import create_app as create_intake_app
from services.intake.migrate import migrate as migrate_intake
from services.intake.settings import IntakeSettings
from tests.infra import Infra
from tests.integration.coordination.conftest import (  # noqa: F401 - person_registry: a fixture
    drop_schema,
    make_coordination_settings,
    person_registry,
    prime_outcomes_at_end,
)
from tests.integration.intake.conftest import HttpApp, http_intake
from tests.kafka_tools import prime_group_at_end
from tests.person_registry import SESSION_PERSON_SCHEMA


@dataclass
class RunningBus:
    """Handles on the running services of one end-to-end test."""

    intake: IntakeSettings
    coordination: CoordinationSettings
    http_door: HttpApp  # its ``client`` talks to the HTTP door in this process
    coordination_db: asyncpg.Pool  # the test's private coordination schema
    registry: InstitutionRegistry

    @property
    def http(self) -> httpx.AsyncClient:
        return self.http_door.client

    async def issue_tokens(self, institutions: Iterable[str]) -> dict[str, str]:
        """An HTTP access token for each institution."""
        return {i: await self.http_door.issue_token(i, "e2e") for i in sorted(set(institutions))}


@pytest.fixture
async def e2e_intake_settings(infra: Infra) -> AsyncIterator[IntakeSettings]:
    """Intake with a fresh schema and a consumer group that starts at the intake topics' end."""
    suffix = uuid.uuid4().hex[:10]
    settings = IntakeSettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
        intake_db_schema=f"intake_{suffix}",
        intake_group_id=f"iiz-intake-e2e-{suffix}",
        intake_instance_id=f"e2e-{suffix}",
        intake_rate_per_minute=6000,
        person_db_schema=SESSION_PERSON_SCHEMA,  # the one coordination reads keys from
        log_json=True,
    )
    await migrate_intake(settings)
    topics = [i.intake_topic for i in load_institutions().institutions]
    await prime_group_at_end(settings, settings.intake_group_id, topics)
    yield settings
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.intake_db_schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def e2e_coordination_settings(infra: Infra) -> AsyncIterator[CoordinationSettings]:
    """Coordination with a fresh schema and a group that starts at the case events' end."""
    settings = make_coordination_settings(infra)
    await migrate(settings)
    await prime_group_at_end(settings, settings.coordination_group_id, [CASE_EVENTS])
    await prime_outcomes_at_end(settings)
    yield settings
    await drop_schema(settings)


@pytest.fixture
async def running_bus(
    e2e_intake_settings: IntakeSettings, e2e_coordination_settings: CoordinationSettings
) -> AsyncIterator[RunningBus]:
    """Intake's two doors and coordination, running until the test ends."""
    pool = await create_pool(
        e2e_coordination_settings.database_url, e2e_coordination_settings.coordination_db_schema
    )
    try:
        async with (
            TestApp(create_coordination_app(e2e_coordination_settings)),
            TestApp(create_intake_app(e2e_intake_settings)),
            http_intake(e2e_intake_settings) as http_door,
        ):
            yield RunningBus(
                intake=e2e_intake_settings,
                coordination=e2e_coordination_settings,
                http_door=http_door,
                coordination_db=pool,
                registry=load_institutions(),
            )
    finally:
        await pool.close()
