"""``migrate``: create or upgrade intake's schema (submission ledger, HTTP access tokens) and
the document store's (``IIZ_DOCUMENT_DB_SCHEMA``).

Serialised with other migrators by an advisory lock; connects as the schema owner
(``IIZ_MIGRATION_DATABASE_URL``) and ends by granting the service role (the user of
``IIZ_DATABASE_URL``) exactly ``PRIVILEGES``.
"""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import Privileges, ServiceGrants, upgrade
from services.intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The ledger is only added to; a token is revoked by setting revoked_at (claimed FOR UPDATE).
PRIVILEGES = Privileges(
    tables={"submission_ledger": "SELECT, INSERT", "access_tokens": "SELECT, INSERT, UPDATE"}
)
# The document store (its own schema, IIZ_DOCUMENT_DB_SCHEMA): sealed documents are only added.
# Coordination reads it; with one service role today, that role's SELECT here is coordination's
# too (a separate coordination role would be granted SELECT beside it).
DOCUMENT_PRIVILEGES = Privileges(tables={"documents": "SELECT, INSERT"})


def grants(settings: IntakeSettings) -> ServiceGrants:
    return ServiceGrants.for_urls(settings.database_url, settings.owner_database_url, PRIVILEGES)


async def migrate(settings: IntakeSettings) -> None:
    await upgrade(
        MIGRATIONS,
        settings.owner_database_url,
        settings.intake_db_schema,
        grants(settings),
        attributes={"document_schema": settings.document_db_schema},
        other_schemas={settings.document_db_schema: DOCUMENT_PRIVILEGES},
    )
