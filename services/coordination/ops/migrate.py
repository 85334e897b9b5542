"""``migrate``: create or upgrade coordination's schema, under an advisory lock named after it.

The only command that changes the schema: the worker, the API and ``rebuild`` never migrate.
"""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import upgrade
from services.coordination.settings import CoordinationSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


async def migrate(settings: CoordinationSettings) -> None:
    await upgrade(MIGRATIONS, settings.database_url, settings.coordination_db_schema)
