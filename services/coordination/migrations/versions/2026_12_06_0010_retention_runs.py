"""An index for the daily retention run (``ops/retention.py``): it finds whether today's run
happened by its audit row (``retention-run``, object ``retention:<day>``). An index changes no
row: the append-only triggers do not mind.
"""

from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.execute(
        "CREATE INDEX audit_retention_runs ON audit_log (object) WHERE action = 'retention-run'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX audit_retention_runs")
