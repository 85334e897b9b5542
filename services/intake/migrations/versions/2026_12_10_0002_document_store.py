"""The document store: sealed documents in a schema of their own, read by coordination.

The schema's name comes from the migrator (``IIZ_DOCUMENT_DB_SCHEMA``; ``documents`` when none is
handed over). It may already exist (several intake schemas of tests share one document store),
so schema and table are created only if missing, under an advisory lock named after it.
"""

from alembic import context, op
from sqlalchemy import text

from services.common.database import checked_schema
from services.common.migrations import MIGRATION_LOCK_CLASS

revision = "0002"
down_revision = "0001"


def _schema() -> str:
    return checked_schema(context.config.attributes.get("document_schema", "documents"))


def upgrade() -> None:
    schema = _schema()
    op.get_bind().execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:schema || :lock_class), 0)"),
        {"schema": schema, "lock_class": MIGRATION_LOCK_CLASS},
    )
    op.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    # Only sealed bytes (AES-256-GCM, the key id in front) and what the announcement says of
    # them; the pseudonym finds the announcement in the person's timeline.
    op.execute(
        f"""
        CREATE TABLE IF NOT EXISTS "{schema}".documents (
            document_id uuid PRIMARY KEY,
            pseudonym text NOT NULL,
            held_by text NOT NULL,
            media_type text NOT NULL,
            size_bytes bigint NOT NULL,
            sha256 text NOT NULL,
            sealed bytea NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute(f'DROP TABLE IF EXISTS "{_schema()}".documents')
