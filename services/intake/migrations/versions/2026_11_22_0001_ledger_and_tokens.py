"""Submission ledger (tells resubmissions apart) and hashed HTTP access tokens."""

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    # Ids only: the ledger holds no personal data, just which submissions were accepted.
    op.execute(
        """
        CREATE TABLE submission_ledger (
            canonical_id uuid PRIMARY KEY,
            source text NOT NULL,
            original_id text NOT NULL,
            channel text NOT NULL,
            accepted_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE access_tokens (
            token_hash text PRIMARY KEY,
            institution text NOT NULL,
            label text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )
        """
    )
