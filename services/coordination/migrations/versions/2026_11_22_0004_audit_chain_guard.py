"""An audit log its writer cannot rewrite: the head advances only through the chain's check.

The services connect as a role that may SELECT and INSERT audit rows and nothing else (the
grants are applied by every ``migrate``, see ``services/coordination/ops/migrate.py``). This
migration adds what grants cannot say:

- ``audit_log_advance_head()``: after every INSERT statement on ``audit_log`` (a statement
  trigger over the inserted rows), checks that the rows continue the chain — the first row's
  ``seq`` is the head's + 1 and its ``prev_hash`` is the head's hash, each further row follows
  the one before, every hash is 64 hex digits — and moves ``audit_head`` to the last row.
  ``SECURITY DEFINER`` (it runs as the schema owner, who alone may write the head) with a fixed
  ``search_path``; a row that does not follow the head is refused, and nothing is inserted.
- ``audit_lock_head()``: locks the head row for the caller's transaction and returns it (the
  service role cannot ``SELECT … FOR UPDATE`` a table it may not update), so a writer computes
  its hashes on a head nobody else moves meanwhile.
- ``audit_log_no_truncate``: TRUNCATE is refused like UPDATE and DELETE (also for the owner,
  who must drop the trigger first: a deliberate act that the signed checkpoints reveal).
- ``audit_checkpoints``: the signed checkpoints the worker made, until (and after) they are
  published to ``iiz.audit-checkpoints.v1``. Only a record of what was published: the topic is
  the evidence.
"""

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"

CHECKPOINTS = """
CREATE TABLE audit_checkpoints (
    row_count bigint PRIMARY KEY,
    head_hash text NOT NULL,
    taken_at timestamptz NOT NULL,
    key_id text NOT NULL,
    value bytea NOT NULL,
    published_at timestamptz
)
"""
CHECKPOINTS_INDEX = (
    "CREATE INDEX audit_checkpoints_unpublished ON audit_checkpoints (row_count)"
    " WHERE published_at IS NULL"
)

ADVANCE_HEAD = """
CREATE FUNCTION audit_log_advance_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    head_seq bigint;
    head_hash text;
    broken bigint;
    last_seq bigint;
    last_hash text;
BEGIN
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_head h FOR UPDATE;
    SELECT a.seq INTO broken FROM (
        SELECT n.seq, n.prev_hash, n.hash,
               lag(n.seq) OVER (ORDER BY n.seq) AS before_seq,
               lag(n.hash) OVER (ORDER BY n.seq) AS before_hash
        FROM appended n
    ) a
    WHERE a.seq <> coalesce(a.before_seq, head_seq) + 1
       OR a.prev_hash IS DISTINCT FROM coalesce(a.before_hash, head_hash)
       OR a.hash !~ '^[0-9a-f]{64}$'
    ORDER BY a.seq
    LIMIT 1;
    IF broken IS NOT NULL THEN
        RAISE EXCEPTION 'audit row % does not continue the chain (head: row %)', broken, head_seq
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT n.seq, n.hash INTO last_seq, last_hash FROM appended n ORDER BY n.seq DESC LIMIT 1;
    IF last_seq IS NOT NULL THEN
        UPDATE audit_head SET seq = last_seq, hash = last_hash;
    END IF;
    RETURN NULL;
END;
$$
"""
ADVANCE_TRIGGER = (
    "CREATE TRIGGER audit_log_chain AFTER INSERT ON audit_log REFERENCING NEW TABLE AS appended"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_advance_head()"
)
LOCK_HEAD = """
CREATE FUNCTION audit_lock_head(OUT seq bigint, OUT hash text)
LANGUAGE sql SECURITY DEFINER AS $$
    SELECT h.seq, h.hash FROM audit_head h FOR UPDATE
$$
"""
NO_TRUNCATE = (
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()"
)


def upgrade() -> None:
    schema = op.get_bind().execute(text("SELECT current_schema()")).scalar_one()
    op.execute(CHECKPOINTS)
    op.execute(CHECKPOINTS_INDEX)
    op.execute(ADVANCE_HEAD)
    op.execute(LOCK_HEAD)
    for function in ("audit_log_advance_head()", "audit_lock_head()"):
        # A definer's function resolves names in its own schema only (pg_temp last), and is
        # not executable by PUBLIC (the default for new functions); the grants name who may.
        op.execute(f'ALTER FUNCTION {function} SET search_path = "{schema}", pg_temp')
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")
    op.execute("REVOKE ALL ON FUNCTION audit_log_is_append_only() FROM PUBLIC")
    op.execute(ADVANCE_TRIGGER)
    op.execute(NO_TRUNCATE)


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION audit_lock_head()")
    op.execute("DROP FUNCTION audit_log_advance_head()")
    op.execute("DROP TABLE audit_checkpoints")
