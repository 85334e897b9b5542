"""The person registry for tests of services that read it but do not create it (coordination):
its schema migrated once per session, as intake's migrations make it, and granted."""

from __future__ import annotations

import uuid

import asyncpg

from services.common.database import asyncpg_dsn
from services.common.settings import CommonSettings
from services.intake.migrate import migrate
from services.intake.settings import IntakeSettings

# One registry per test session: persons that earlier sessions, the demo or the fault suite
# registered under the same AHV numbers are none of this session's tests' business.
SESSION_PERSON_SCHEMA = f"persons_t{uuid.uuid4().hex[:8]}"
_ready: set[tuple[str, str]] = set()


def intake_schema_of(person_schema: str) -> str:
    """Intake's own tables of the registry's migration run (only the registry is used); one per
    registry, so that each registry's migration really runs."""
    return f"{person_schema}_intake"


async def ensure_person_registry(settings: CommonSettings) -> None:
    """Migrate the registry in ``settings.person_db_schema`` (once per process and schema)."""
    key = (settings.owner_database_url, settings.person_db_schema)
    if key in _ready:
        return
    await migrate(
        IntakeSettings(
            environment="test",
            kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
            database_url=settings.database_url,
            migration_database_url=settings.migration_database_url,
            intake_db_schema=intake_schema_of(settings.person_db_schema),
            person_db_schema=settings.person_db_schema,
            document_db_schema=settings.document_db_schema,
        )
    )
    _ready.add(key)


async def drop_person_registry(settings: CommonSettings) -> None:
    """Remove a registry made by ``ensure_person_registry`` (as the schemas' owner)."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        for schema in (settings.person_db_schema, intake_schema_of(settings.person_db_schema)):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
    _ready.discard((settings.owner_database_url, settings.person_db_schema))
