"""``migrate``: create or upgrade intake's schema (submission ledger, HTTP access tokens), the
document store's (``IIZ_DOCUMENT_DB_SCHEMA``) and the person registry's (``IIZ_PERSON_DB_SCHEMA``).

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
    # erasure (coordination's, as the one service role) deletes a person's ledger rows
    tables={
        "submission_ledger": "SELECT, INSERT, DELETE",
        "access_tokens": "SELECT, INSERT, UPDATE",
    }
)
# The document store (its own schema, IIZ_DOCUMENT_DB_SCHEMA): sealed documents are only added.
# Coordination reads it; with one service role today, that role's SELECT here is coordination's
# too (a separate coordination role would be granted SELECT beside it).
DOCUMENT_PRIVILEGES = Privileges(tables={"documents": "SELECT, INSERT, DELETE"})  # erasure deletes
# The person registry (its own schema, IIZ_PERSON_DB_SCHEMA), one service role for all services:
# intake adds persons and lookups; coordination reads keys; erasure (coordination's ops command,
# as the service role, inside its one transaction) deletes lookups and nulls a person's key and
# sealed AHV number; re-keying rewraps keys, reseals AHV numbers and adds/removes lookups. No
# DELETE on persons (a tombstone stays; a trigger refuses changing one) and no UPDATE of
# subject or created_at.
PERSON_PRIVILEGES = Privileges(
    tables={
        "persons": "SELECT, INSERT, UPDATE (wrapped_key, wrap_key_id, sealed_ahv, erased_at)",
        "lookups": "SELECT, INSERT, DELETE",
    }
)


def grants(settings: IntakeSettings) -> ServiceGrants:
    return ServiceGrants.for_urls(settings.database_url, settings.owner_database_url, PRIVILEGES)


async def migrate(settings: IntakeSettings) -> None:
    await upgrade(
        MIGRATIONS,
        settings.owner_database_url,
        settings.intake_db_schema,
        grants(settings),
        attributes={
            "document_schema": settings.document_db_schema,
            "person_schema": settings.person_db_schema,
        },
        other_schemas={
            settings.document_db_schema: DOCUMENT_PRIVILEGES,
            settings.person_db_schema: PERSON_PRIVILEGES,
        },
    )
