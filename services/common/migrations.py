"""Runs a service's Alembic migrations into that service's own PostgreSQL schema.

Each service owns one schema (``intake``, ``coordination``) and keeps its Alembic version table
there, so services migrate independently. Tests pass a throw-away schema name.

Migrations run only as an explicit command (``python -m services.<service> migrate``), never in a
worker's start-up. Each run holds a transaction-scoped advisory lock named after its schema, so
two migrators started together take turns: the second finds the schema at head and does nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.database import checked_schema, sqlalchemy_url

MIGRATION_LOCK_CLASS = ":migrations"  # advisory-lock namespace: hashtext(schema || this), 0


def _config(script_location: Path, schema: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["schema"] = schema
    return config


async def upgrade(script_location: Path, database_url: str, schema: str) -> None:
    """Create the schema if needed and upgrade it to the newest revision."""
    schema = checked_schema(schema)
    engine = create_async_engine(sqlalchemy_url(database_url))
    try:
        async with engine.begin() as conn:
            # Held until this transaction ends, i.e. across the whole upgrade, even on a crash.
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:schema || :lock_class), 0)"),
                {"schema": schema, "lock_class": MIGRATION_LOCK_CLASS},
            )
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.execute(text(f'SET search_path TO "{schema}"'))
            await conn.run_sync(_run_upgrade, script_location, schema)
    finally:
        await engine.dispose()


def _run_upgrade(connection: Connection, script_location: Path, schema: str) -> None:
    config = _config(script_location, schema)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def upgrade_blocking(script_location: Path, database_url: str, schema: str) -> None:
    asyncio.run(upgrade(script_location, database_url, schema))
