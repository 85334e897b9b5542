"""The person registry for tests of services that read it but do not create it (coordination):
its schema migrated once per session, as intake's migrations make it, and granted."""

from __future__ import annotations

from services.common.settings import CommonSettings
from services.intake.migrate import migrate
from services.intake.settings import IntakeSettings

# Intake's own tables of this migration run live here; only the registry's schema is used.
REGISTRY_INTAKE_SCHEMA = "intake_for_person_registry"
_ready: set[tuple[str, str]] = set()


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
            intake_db_schema=REGISTRY_INTAKE_SCHEMA,
            person_db_schema=settings.person_db_schema,
            document_db_schema=settings.document_db_schema,
        )
    )
    _ready.add(key)
