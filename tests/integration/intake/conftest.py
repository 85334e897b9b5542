"""Fixtures for intake on the real broker and database: a private schema and consumer group."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream import TestApp

from schemas.registry import load_institutions
from services.common.database import asyncpg_dsn
from services.common.migrations import upgrade
from services.intake.kafka_door import create_app
from services.intake.settings import IntakeSettings
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
        log_json=True,
    )
    await upgrade(MIGRATIONS, settings.database_url, settings.intake_db_schema)
    topics = [i.intake_topic for i in load_institutions().institutions]
    await prime_group_at_end(settings, settings.intake_group_id, topics)
    yield settings
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    await conn.execute(f'DROP SCHEMA "{settings.intake_db_schema}" CASCADE')
    await conn.close()


@pytest.fixture
async def running_intake(intake_settings: IntakeSettings) -> AsyncIterator[IntakeSettings]:
    """The intake Kafka door running in this process against the real broker."""
    app = create_app(intake_settings)
    async with TestApp(app):
        yield intake_settings


@pytest.fixture
async def partner_producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer like a partner system would use (not transactional)."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, acks="all")
    await producer.start()
    yield producer
    await producer.stop()
