"""The ledger of the committee's downloads: every figure cell ever published, with its value.

Disclosure control treats these as known to anyone who downloaded them, so a later download can
never combine with an earlier one into a suppressed value. A record, not a projection: ``rebuild``
leaves it alone.
"""

from alembic import op

revision = "0003"
down_revision = "0002"

STATEMENTS = [
    """
    CREATE TABLE published_figures (
        scope text NOT NULL,
        period text NOT NULL,
        cell text NOT NULL,
        value text NOT NULL,
        first_published_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, period, cell, value)
    )
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE published_figures")
