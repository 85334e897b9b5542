"""Fixtures for coordination on the real broker and database: a private schema and consumer
group, the consumer running in this process, a publisher of canonical events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from asgi_lifespan import LifespanManager
from faststream import TestApp

from schemas.codec import to_kafka
from schemas.envelope import CloudEvent
from schemas.topics import CASE_EVENTS, DELIVERIES
from services.common.database import asyncpg_dsn, create_pool
from services.common.kafka_clients import create_producer
from services.common.settings import CommonSettings
from services.coordination.api.app import create_api
from services.coordination.clock import Clock, utc_now
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from tests.infra import Infra
from tests.kafka_tools import prime_group_at_end
from tests.person_registry import (
    SESSION_PERSON_SCHEMA,
    drop_person_registry,
    ensure_person_registry,
)
from tests.tokens import jwks_url

Publish = Callable[[list[CloudEvent[Any]]], Awaitable[None]]


def make_coordination_settings(infra: Infra, **overrides: Any) -> CoordinationSettings:
    suffix = uuid.uuid4().hex[:10]
    options: dict[str, Any] = {
        "environment": "test",
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "database_url": infra.database_url,
        "coordination_db_schema": f"coordination_{suffix}",
        "coordination_group_id": f"iiz-coordination-test-{suffix}",
        "coordination_instance_id": f"test-{suffix}",
        "log_json": True,
        "coordination_jwks_url": jwks_url(),  # the API accepts tests.tokens.mint_token
        "person_db_schema": SESSION_PERSON_SCHEMA,
        # The daily retention run erases persons whose cases closed years before the real today:
        # off, so a test's fixed dates never age into it (tests/integration/.../test_retention.py).
        "coordination_run_retention": False,
        # The weekly misuse-signals summary e-mails the data-protection officers; the tests that
        # are about it switch it on (tests/integration/coordination/test_signals_summary*.py).
        "coordination_run_signals_summary": False,
    }
    return CoordinationSettings(**{**options, **overrides})


async def drop_schema(settings: CoordinationSettings) -> None:
    """As the schema's owner (the migrations made it; the service role owns nothing)."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.coordination_db_schema}" CASCADE')
    finally:
        await conn.close()


async def prime_outcomes_at_end(settings: CoordinationSettings) -> None:
    """Only this test's delivery outcomes reach its audit log, not earlier runs'."""
    group = f"{settings.coordination_group_id}-outcomes"
    await prime_group_at_end(settings, group, [settings.coordination_outcomes_topic])


@pytest.fixture(scope="session", autouse=True)
async def person_registry(settings: CommonSettings) -> AsyncIterator[None]:
    """The session's person registry coordination reads keys and lookups from (intake creates
    it; tests that run intake point it at the same schema)."""
    registry = settings.model_copy(update={"person_db_schema": SESSION_PERSON_SCHEMA})
    await ensure_person_registry(registry)
    yield
    await drop_person_registry(registry)


@pytest.fixture
async def coordination_settings(infra: Infra) -> AsyncIterator[CoordinationSettings]:
    """A fresh schema (migrated) and a consumer group primed at the end of the case events."""
    settings = make_coordination_settings(infra)
    await migrate(settings)
    await prime_group_at_end(settings, settings.coordination_group_id, [CASE_EVENTS])
    await prime_outcomes_at_end(settings)
    yield settings
    await drop_schema(settings)


@pytest.fixture
async def db(coordination_settings: CoordinationSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        coordination_settings.database_url, coordination_settings.coordination_db_schema
    )
    yield pool
    await pool.close()


@pytest.fixture
async def running_coordination(
    coordination_settings: CoordinationSettings,
) -> AsyncIterator[CoordinationSettings]:
    """The case-event consumer running in this process against the real broker."""
    async with TestApp(create_app(coordination_settings)):
        yield coordination_settings


@pytest.fixture
async def publish(coordination_settings: CoordinationSettings) -> AsyncIterator[Publish]:
    """Publish canonical events to iiz.case-events.v1 as intake would (key = pseudonym)."""
    producer: AIOKafkaProducer = create_producer(coordination_settings)
    await producer.start()

    async def send(events: list[CloudEvent[Any]]) -> None:
        for event in events:
            record = to_kafka(event)
            await producer.send_and_wait(
                CASE_EVENTS, value=record.value, key=record.key, headers=list(record.headers)
            )

    yield send
    await producer.stop()


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, within: float = 30.0, every: float = 0.1
) -> Any:
    """Await ``probe()`` until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {value!r})")
        await asyncio.sleep(every)


async def processed_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM processed_events"))


__all__ = ["DELIVERIES", "Publish", "eventually", "processed_count"]


@asynccontextmanager
async def api_client(
    settings: CoordinationSettings, clock: Clock = utc_now
) -> AsyncIterator[httpx.AsyncClient]:
    """The coordination API with its lifespan really run (pool, producer), and a client for it."""
    app = create_api(settings, clock=clock)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://coordination.test"
        ) as http,
    ):
        yield http


@pytest.fixture
async def client(coordination_settings: CoordinationSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(coordination_settings) as http:
        yield http
