"""Migrations run as their own command, serialised by an advisory lock per schema."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from services.common.database import asyncpg_dsn
from services.common.migrations import upgrade
from tests.infra import REPO, Infra
from tests.unit.common.test_banner import own_lines

INTAKE = REPO / "services" / "intake" / "migrations"
COORDINATION = REPO / "services" / "coordination" / "migrations"


@pytest.fixture
async def fresh_schema(infra: Infra) -> AsyncIterator[str]:
    """A schema name nobody has created yet; dropped after the test."""
    schema = f"migrate_{uuid.uuid4().hex[:10]}"
    yield schema
    conn = await asyncpg.connect(asyncpg_dsn(infra.migration_database_url))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def _version(database_url: str, schema: str) -> str | None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        version: str | None = await conn.fetchval(
            f'SELECT version_num FROM "{schema}".alembic_version'  # noqa: S608 - a test's schema
        )
        return version
    finally:
        await conn.close()


@pytest.mark.parametrize("migrations", [INTAKE, COORDINATION], ids=["intake", "coordination"])
async def test_two_migrators_started_together_on_a_fresh_schema_both_succeed(
    infra: Infra, fresh_schema: str, migrations: Path
) -> None:
    await asyncio.gather(
        upgrade(migrations, infra.migration_database_url, fresh_schema),
        upgrade(migrations, infra.migration_database_url, fresh_schema),
    )

    assert await _version(infra.migration_database_url, fresh_schema) is not None


async def _run_cli(module: str, env: dict[str, str]) -> tuple[int | None, str]:
    """Exit code and what the command wrote, standard output and error in the order written."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "migrate",
        cwd=REPO,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode()


@pytest.mark.parametrize(
    ("module", "schema_variable"),
    [
        ("services.intake", "IIZ_INTAKE_DB_SCHEMA"),
        ("services.coordination", "IIZ_COORDINATION_DB_SCHEMA"),
    ],
)
async def test_the_migrate_command_names_its_database_without_the_password_and_migrates(
    infra: Infra, fresh_schema: str, module: str, schema_variable: str
) -> None:
    url = urlsplit(infra.migration_database_url)  # migrate connects as the schema owner
    returncode, output = await _run_cli(
        module,
        {
            "IIZ_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
            "IIZ_DATABASE_URL": infra.database_url,
            "IIZ_MIGRATION_DATABASE_URL": infra.migration_database_url,
            "IIZ_ENVIRONMENT": "test",
            schema_variable: fresh_schema,
        },
    )

    assert returncode == 0, output
    # The first line, before alembic says anything: where it migrates, as whom.
    first = own_lines(output)[0]
    assert first.startswith(f"{module.split('.')[1]} migrate: PostgreSQL "), output
    assert f"{url.hostname}:{url.port}{url.path} as {url.username} (schema owner)" in first
    assert fresh_schema in first
    assert "not set" not in first
    assert url.password is not None
    assert url.password not in output
    assert await _version(infra.migration_database_url, fresh_schema) is not None
