"""The person registry (crypto-shredding): each person's random subject, their own AES-256 key
(wrapped under ``IIZ_PERSON_KEY``) and sealed AHV number, and the keyed lookups that find them.

The schema's name comes from the migrator (``IIZ_PERSON_DB_SCHEMA``; ``persons`` when none is
handed over). Like the document store it may already exist (several intake schemas of tests share
one), so everything is created only if missing, under an advisory lock named after it.

Erasing a person deletes their lookups and turns their row into a tombstone: key, key id and
sealed AHV number NULL, ``erased_at`` set. A trigger keeps a tombstone a tombstone (no key can be
put back) and keeps tombstones from being deleted, so "erased" stays distinguishable from
"never registered" (legacy subjects).
"""

from alembic import context, op

from services.common.database import checked_schema
from services.common.migrations import shared_schema_under_lock

revision = "0003"
down_revision = "0002"


def _schema() -> str:
    return checked_schema(context.config.attributes.get("person_schema", "persons"))


def upgrade() -> None:
    schema = shared_schema_under_lock("person_schema", "persons")
    s = f'"{schema}"'
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    op.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {s}.persons (
            subject text PRIMARY KEY CHECK (subject ~ '^prs:[0-9a-f]{{32}}$'),
            wrapped_key bytea,
            wrap_key_id text,
            sealed_ahv text,
            created_at timestamptz NOT NULL DEFAULT now(),
            erased_at timestamptz,
            CONSTRAINT persons_key_or_tombstone CHECK (
                (erased_at IS NULL AND wrapped_key IS NOT NULL AND wrap_key_id IS NOT NULL
                 AND sealed_ahv IS NOT NULL)
                OR (erased_at IS NOT NULL AND wrapped_key IS NULL AND wrap_key_id IS NULL
                    AND sealed_ahv IS NULL)
            )
        )
        """
    )
    # Deferred: a new person's lookup is claimed first (INSERT … ON CONFLICT DO NOTHING decides
    # a race between two intake instances), their row follows in the same transaction.
    op.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {s}.lookups (
            lookup text PRIMARY KEY CHECK (lookup ~ '^psn:[a-z0-9]{{1,8}}:[0-9a-f]{{32}}$'),
            subject text NOT NULL REFERENCES {s}.persons (subject) DEFERRABLE INITIALLY DEFERRED
        )
        """
    )
    op.execute(f"CREATE INDEX IF NOT EXISTS lookups_of_subject ON {s}.lookups (subject)")
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.persons_keep_tombstones() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'an erased person stays erased (tombstone of %)', OLD.subject
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute(f"DROP TRIGGER IF EXISTS persons_keep_tombstones ON {s}.persons")
    op.execute(
        f"""
        CREATE TRIGGER persons_keep_tombstones
        BEFORE UPDATE OR DELETE ON {s}.persons
        FOR EACH ROW WHEN (OLD.erased_at IS NOT NULL)
        EXECUTE FUNCTION {s}.persons_keep_tombstones()
        """
    )


def downgrade() -> None:
    s = f'"{_schema()}"'
    op.execute(f"DROP TABLE IF EXISTS {s}.lookups")
    op.execute(f"DROP TABLE IF EXISTS {s}.persons")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.persons_keep_tombstones()")
