"""``inbox_reads``: which deliveries an institution marked read in its Posteingang.

One row per (institution, event id), written once by the first reader (``INSERT ... ON CONFLICT
DO NOTHING``); a record, kept by ``rebuild``. The service role may add and read rows only.
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.execute(
        "CREATE TABLE inbox_reads ("
        " institution text NOT NULL,"
        " event_id uuid NOT NULL,"
        " read_by text NOT NULL,"
        " read_at timestamptz NOT NULL,"
        " PRIMARY KEY (institution, event_id))"
    )


def downgrade() -> None:
    op.execute("DROP TABLE inbox_reads")
