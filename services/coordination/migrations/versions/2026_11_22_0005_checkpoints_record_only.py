"""``audit_checkpoints`` becomes a record the services add to and nothing else.

Whether a checkpoint was published was a column the services' role could set (``published_at``),
so a role that may not sign could still keep a signed checkpoint off the topic. The worker now
keeps what it has still to publish in memory and takes "the newest checkpoint" only from rows
whose signature it verifies (see ``worker/checkpointer.py``); the services' role may only INSERT
rows (without any publication state) and read them. The column and its index go.
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute("DROP INDEX audit_checkpoints_unpublished")
    op.execute("ALTER TABLE audit_checkpoints DROP COLUMN published_at")


def downgrade() -> None:
    op.execute("ALTER TABLE audit_checkpoints ADD COLUMN published_at timestamptz")
    op.execute(
        "CREATE INDEX audit_checkpoints_unpublished ON audit_checkpoints (row_count)"
        " WHERE published_at IS NULL"
    )
