"""Delivery outcomes reported by notifications: one row per outcome event (a record, kept by
``rebuild``); the newest per delivery says where it stands."""

from alembic import op

revision = "0002"
down_revision = "0001"

STATEMENTS = [
    """
    CREATE TABLE delivery_outcomes (
        outcome_id uuid PRIMARY KEY,
        delivery_id uuid NOT NULL,
        recipient text NOT NULL,
        channel text NOT NULL,
        status text NOT NULL,
        attempt integer NOT NULL,
        error text,
        reported_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX delivery_outcomes_of_delivery ON delivery_outcomes (delivery_id, reported_at)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE delivery_outcomes")
