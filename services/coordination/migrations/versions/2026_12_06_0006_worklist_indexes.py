"""Indexes for the worklist and the deadlines list (``reading/worklist_queries.py``).

An institution's lists start from its own rows: its participations, the open referrals to it or
from it; then the persons' cases and their pending scheduled checks. Without these, every list
read scans those tables whole (a few thousand cases: every row of every person).
"""

from alembic import op

revision = "0006"
down_revision = "0005"

INDEXES = {
    "participants_of_institution": "participants (institution, pseudonym)",
    "cases_of_person": "cases (pseudonym)",
    "referrals_open_to": "referrals (to_institution, answer_due) WHERE status = 'open'",
    "referrals_open_from": "referrals (from_institution, answer_due) WHERE status = 'open'",
    "deadlines_pending_of_person": "deadlines (pseudonym, due_on) WHERE status = 'pending'",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
