"""A lookup may only name a person who is not erased (issue 17, review finding F3).

``resolve`` adds the current pseudonym version's lookup to a person found under an older one. An
erasure committing in between would miss that lookup (not yet visible to it) and leave it
pointing at the tombstone: the AHV number would find the erased subject again. ``resolve`` now
holds the person's row (``FOR SHARE``) while it adds lookups, and this trigger refuses a lookup
row (inserted or moved) whose person is a tombstone. It reads the person ``FOR SHARE`` too, so it
waits for an erasure in progress and then sees its outcome. A person not inserted yet (the
foreign key is deferred: a new person's lookup is claimed first) passes.
"""

from alembic import context, op

from services.common.database import checked_schema
from services.common.migrations import shared_schema_under_lock

revision = "0004"
down_revision = "0003"


def _schema() -> str:
    return checked_schema(context.config.attributes.get("person_schema", "persons"))


def upgrade() -> None:
    schema = shared_schema_under_lock("person_schema", "persons")
    s = f'"{schema}"'
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.lookups_of_live_persons() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            erased timestamptz;
        BEGIN
            SELECT erased_at INTO erased FROM {s}.persons WHERE subject = NEW.subject FOR SHARE;
            IF erased IS NOT NULL THEN
                RAISE EXCEPTION 'no lookup for an erased person (tombstone of %)', NEW.subject
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NEW;
        END
        $$
        """  # noqa: S608 - the schema name is checked (``checked_schema``)
    )
    op.execute(f"DROP TRIGGER IF EXISTS lookups_of_live_persons ON {s}.lookups")
    op.execute(
        f"""
        CREATE TRIGGER lookups_of_live_persons
        BEFORE INSERT OR UPDATE ON {s}.lookups
        FOR EACH ROW EXECUTE FUNCTION {s}.lookups_of_live_persons()
        """
    )


def downgrade() -> None:
    s = f'"{_schema()}"'
    op.execute(f"DROP TRIGGER IF EXISTS lookups_of_live_persons ON {s}.lookups")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.lookups_of_live_persons()")
