"""Indexes for the misuse signals (``reading/signals.py``) and their weekly summary.

The signals read one institution's human rows of a period: a partial index on ``at`` over the
human rows only (actors ``<institution>/<role>/<sub>``; the machine rows, most of the log, stay
out of it). The weekly summary finds the week's earlier summary rows by their object. An index
changes no row: the append-only triggers do not mind.
"""

from alembic import op

revision = "0009"
down_revision = "0008"

INDEXES = {
    "audit_human_at": "audit_log (at) WHERE strpos(actor, '/') > 0",
    "audit_signals_summaries": "audit_log (object) WHERE action = 'signals-summary'",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
