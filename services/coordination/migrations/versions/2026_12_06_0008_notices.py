"""``notices`` with stable ids and their sender, and ``notice_dispatch``: that a notice was sent.

A notice (AVG Art. 35a Abs. 1ter: the person is told afterwards of an exchange without consent)
is a projection: ``notices`` is derived from the decisions and rebuilt from the log, each notice
with the same ``notice_id`` (a UUIDv5 of event and recipient only: a corrected profile cites
other articles under the same id, so a sent mark stays), and now names its
``sender`` (the disclosing institution, which must inform the person), the case, the event's
type, the categories delivered and the matrix version. That it was sent is a record:
``notice_dispatch`` (one row per notice, written once by the sending institution; kept by
``rebuild``). The old table had no id to keep: it is replaced, and a ``rebuild`` derives the
notices of earlier events again (with the default, empty matrix there were none).
"""

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.execute("DROP TABLE notices")
    op.execute(
        "CREATE TABLE notices ("
        " notice_id uuid PRIMARY KEY,"
        " event_id uuid NOT NULL,"
        " recipient text NOT NULL,"
        " sender text NOT NULL,"
        " pseudonym text NOT NULL,"
        " case_key uuid,"
        " event_type text NOT NULL,"
        " categories text[] NOT NULL,"
        " articles text[] NOT NULL,"
        " legal_basis_version text,"
        " exchanged_at timestamptz NOT NULL,"
        " CONSTRAINT notices_event_id_recipient_key UNIQUE (event_id, recipient))"
    )
    op.execute("CREATE INDEX notices_of_sender ON notices (sender, exchanged_at)")
    op.execute(
        "CREATE TABLE notice_dispatch ("
        " notice_id uuid PRIMARY KEY,"
        " sent_at timestamptz NOT NULL,"
        " sent_by text NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE notice_dispatch")
    op.execute("DROP TABLE notices")
    op.execute(
        "CREATE TABLE notices ("
        " event_id uuid NOT NULL,"
        " recipient text NOT NULL,"
        " pseudonym text NOT NULL,"
        " articles text[] NOT NULL,"
        " due_since timestamptz NOT NULL,"
        " PRIMARY KEY (event_id, recipient))"
    )
