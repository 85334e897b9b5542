"""Session-wide fixtures: real infrastructure, unique names per test, markers by folder."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.common.kafka_clients import create_admin
from services.common.logging import RedactingFormatter
from services.common.settings import CommonSettings
from tests.infra import Infra, replication_factor, resolve_infra
from tests.oidc import take_provider_environment

# Many services run side by side in one test session: each worker's health endpoints take a free
# port instead of its service's fixed one.
os.environ.setdefault("IIZ_HEALTH_PORT", "0")
# `eval "$(infra/local env)"` also exports the identity provider's issuer, JWKS and clients: they
# are kept for the tests that use Keycloak (tests/oidc.py), not left for every settings object.
take_provider_environment()

_MARKER_BY_FOLDER = {"unit": "unit", "integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test by the folder it lives in, so `-m unit` and friends just work; run the
    leak audit last, when everything else has written its logs and topic records."""
    for item in items:
        for part in item.path.parts:
            if part in _MARKER_BY_FOLDER:
                item.add_marker(getattr(pytest.mark, _MARKER_BY_FOLDER[part]))
    items.sort(key=lambda item: item.get_closest_marker("leak_audit") is not None)


class LogCollector(logging.Handler):
    """Keeps every log line emitted in this process, formatted as the real handler would."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(RedactingFormatter("%(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def session_log_lines() -> Iterator[LogCollector]:
    collector = LogCollector()
    logging.getLogger().addHandler(collector)
    yield collector
    logging.getLogger().removeHandler(collector)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The real Kafka and PostgreSQL; their connection settings (servers, SASL_SSL as ``admin``,
    the CA file, the migration owner's URL) go into ``os.environ`` for the whole session, so
    every settings object built from here on, and every process a test starts, connects so."""
    with resolve_infra() as found:
        os.environ.update(found.environment())
        yield found


@pytest.fixture(scope="session")
def settings(infra: Infra) -> CommonSettings:
    return CommonSettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
    )


@pytest.fixture(scope="session")
async def kafka_admin(settings: CommonSettings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = create_admin(settings)
    await admin.start()
    yield admin
    await admin.close()


@pytest.fixture
async def new_topic(kafka_admin: AIOKafkaAdminClient) -> Callable[..., object]:
    """Create a topic with a unique name for this test; returns a coroutine factory."""

    async def create(prefix: str = "test", partitions: int = 1) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        replicas = await replication_factor(kafka_admin)  # min(3, brokers)
        await kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replicas)]
        )
        return name

    return create


@pytest.fixture
async def pg(infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a fresh schema that is dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(infra.migration_database_url)  # the service role may not create
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.execute(f'SET search_path TO "{schema}"')
    try:
        yield conn
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
