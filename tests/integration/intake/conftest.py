"""Fixtures for intake on the real broker and database: a private schema and consumer group,
the Kafka door, and the HTTP door (API and web form) run with its lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from faststream import TestApp

from schemas.registry import load_institutions
from services.common.database import asyncpg_dsn
from services.common.kafka_clients import create_producer
from services.common.settings import CommonSettings
from services.intake.http_door.app import create_http_app
from services.intake.kafka_door import create_app
from services.intake.migrate import migrate
from services.intake.settings import IntakeSettings
from services.intake.tokens import TokenStore
from tests.infra import Infra
from tests.kafka_tools import prime_group_at_end

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "intake" / "migrations"


@pytest.fixture
async def intake_settings(infra: Infra) -> AsyncIterator[IntakeSettings]:
    """Settings with a fresh schema and consumer group, primed to start at the topics' end."""
    suffix = uuid.uuid4().hex[:10]
    settings = IntakeSettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
        intake_db_schema=f"intake_{suffix}",
        intake_group_id=f"iiz-intake-test-{suffix}",
        intake_instance_id=f"test-{suffix}",
        document_db_schema=f"documents_{suffix}",
        person_db_schema=f"persons_{suffix}",
        log_json=True,
    )
    await migrate(settings)  # as the owner; the service role is granted its privileges
    topics = [i.intake_topic for i in load_institutions().institutions]
    await prime_group_at_end(settings, settings.intake_group_id, topics)
    yield settings
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    await conn.execute(f'DROP SCHEMA "{settings.intake_db_schema}" CASCADE')
    await conn.execute(f'DROP SCHEMA "{settings.document_db_schema}" CASCADE')
    await conn.execute(f'DROP SCHEMA "{settings.person_db_schema}" CASCADE')
    await conn.close()


@pytest.fixture
async def running_intake(intake_settings: IntakeSettings) -> AsyncIterator[IntakeSettings]:
    """The intake Kafka door running in this process against the real broker."""
    app = create_app(intake_settings)
    async with TestApp(app):
        yield intake_settings


@pytest.fixture
async def partner_producer(settings: CommonSettings) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer like a partner system would use (not transactional; as the session's
    principal, which may write every intake topic)."""
    producer = create_producer(settings)
    await producer.start()
    yield producer
    await producer.stop()


@dataclass
class HttpApp:
    app: FastAPI
    client: httpx.AsyncClient
    settings: IntakeSettings

    async def issue_token(self, institution: str, label: str = "Test") -> str:
        tokens: TokenStore = self.app.state.intake.tokens
        return await tokens.create(institution, label)

    async def revoke_token(self, token: str) -> None:
        tokens: TokenStore = self.app.state.intake.tokens
        await tokens.revoke(token)


@asynccontextmanager
async def http_intake(settings: IntakeSettings) -> AsyncIterator[HttpApp]:
    """The HTTP door (API and web form) with its lifespan really run, and a client for it."""
    app = create_http_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield HttpApp(app, client, settings)


@pytest.fixture
async def http_door(intake_settings: IntakeSettings) -> AsyncIterator[HttpApp]:
    async with http_intake(intake_settings) as running:
        yield running
