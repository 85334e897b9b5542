"""Coordination's store: the person files, their read models, decisions, outbox and audit log.

Three kinds of tables:
- projections of ``iiz.case-events.v1`` (dropped and replayed by ``rebuild``): persons, cases,
  participants, consents, consent_revocations, timeline, engagements, referrals, decisions,
  notices, processed_events;
- records of effects that already left the system or identifiers already handed out (kept by
  ``rebuild``): case_numbers, outbox, deadlines, audit_log, audit_head;
AHV numbers exist here only sealed (``persons.sealed_ahv``), never in clear.
"""

from alembic import op

revision = "0001"
down_revision = None

PROJECTIONS = """
CREATE TABLE persons (
    pseudonym text PRIMARY KEY,
    sealed_ahv text,
    state jsonb NOT NULL,
    bus_partition integer NOT NULL,
    last_offset bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cases (
    case_key uuid PRIMARY KEY,
    case_number text NOT NULL UNIQUE,
    pseudonym text NOT NULL,
    opened_by text NOT NULL,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    outcome text,
    projects text[] NOT NULL DEFAULT '{}'
);
-- At most one open IIZ case per person.
CREATE UNIQUE INDEX cases_one_open_per_person ON cases (pseudonym) WHERE closed_at IS NULL;

CREATE TABLE participants (
    pseudonym text NOT NULL,
    case_key uuid,
    institution text NOT NULL,
    role text NOT NULL,
    institution_case_ref text,
    joined_at timestamptz NOT NULL,
    joined_offset bigint NOT NULL,
    via_referral boolean NOT NULL,
    left_at timestamptz,
    PRIMARY KEY (pseudonym, institution, joined_offset)
);

CREATE TABLE consents (
    consent_id uuid PRIMARY KEY,
    pseudonym text NOT NULL,
    recorded_by text NOT NULL,
    institutions text[] NOT NULL,
    categories text[] NOT NULL,
    valid_from date NOT NULL,
    valid_until date,
    document_ref text NOT NULL,
    event_id uuid NOT NULL,
    bus_offset bigint NOT NULL
);
CREATE INDEX consents_of_person ON consents (pseudonym);

-- A revocation is its own record; the consent row is never changed.
CREATE TABLE consent_revocations (
    event_id uuid PRIMARY KEY,
    consent_id uuid NOT NULL,
    pseudonym text NOT NULL,
    recorded_by text NOT NULL,
    bus_offset bigint NOT NULL,
    revoked_at timestamptz NOT NULL
);

CREATE TABLE timeline (
    event_id uuid PRIMARY KEY,
    pseudonym text NOT NULL,
    case_key uuid,
    bus_partition integer NOT NULL,
    bus_offset bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    type text NOT NULL,
    origin text NOT NULL,
    datacategory text NOT NULL,
    event jsonb NOT NULL
);
CREATE INDEX timeline_of_person ON timeline (pseudonym, bus_offset);
CREATE INDEX timeline_of_case ON timeline (case_key, bus_offset);

CREATE TABLE engagements (
    institution text NOT NULL,
    kind text NOT NULL,
    ref_id uuid NOT NULL,
    pseudonym text NOT NULL,
    case_key uuid,
    started_on date NOT NULL,
    ended_on date,
    PRIMARY KEY (institution, kind, ref_id)
);
CREATE INDEX engagements_of_person ON engagements (pseudonym);

CREATE TABLE referrals (
    referral_id uuid PRIMARY KEY,
    pseudonym text NOT NULL,
    case_key uuid,
    from_institution text NOT NULL,
    to_institution text NOT NULL,
    purpose text NOT NULL,
    requested_at timestamptz NOT NULL,
    answer_due date NOT NULL,
    status text NOT NULL,
    answered_at timestamptz
);
CREATE INDEX referrals_of_person ON referrals (pseudonym);

CREATE TABLE decisions (
    event_id uuid NOT NULL,
    recipient text NOT NULL,
    allowed boolean NOT NULL,
    basis_kind text,
    consent_ids uuid[] NOT NULL DEFAULT '{}',
    articles text[] NOT NULL DEFAULT '{}',
    legal_basis_version text,
    categories text[] NOT NULL DEFAULT '{}',
    withheld text[] NOT NULL DEFAULT '{}',
    reason text,
    notice_required boolean NOT NULL DEFAULT false,
    PRIMARY KEY (event_id, recipient)
);
CREATE INDEX decisions_of_recipient ON decisions (recipient, event_id) WHERE allowed;

-- Duties to inform the person afterwards (e.g. AVG Art. 35a Abs. 1ter).
CREATE TABLE notices (
    event_id uuid NOT NULL,
    recipient text NOT NULL,
    pseudonym text NOT NULL,
    articles text[] NOT NULL,
    due_since timestamptz NOT NULL,
    PRIMARY KEY (event_id, recipient)
);

CREATE TABLE processed_events (
    event_id uuid PRIMARY KEY,
    bus_partition integer NOT NULL,
    bus_offset bigint NOT NULL,
    outcome text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
"""

RECORDS = """
-- Case numbers once handed out stay with their case, also across a rebuild.
CREATE TABLE case_numbers (
    case_key uuid PRIMARY KEY,
    case_number text NOT NULL UNIQUE,
    issued_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE case_number_seq;

CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL UNIQUE,
    lane integer NOT NULL,
    topic text NOT NULL,
    key bytea,
    value bytea NOT NULL,
    headers jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (lane, id) WHERE published_at IS NULL;

CREATE TABLE deadlines (
    id bigserial PRIMARY KEY,
    deadline_key text NOT NULL UNIQUE,
    kind text NOT NULL,
    pseudonym text NOT NULL,
    ref_id uuid NOT NULL,
    due_on date NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    done_at timestamptz
);
CREATE INDEX deadlines_due ON deadlines (due_on) WHERE status = 'pending';

CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    purpose text,
    subject text,
    object text,
    basis text,
    detail jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX audit_of_subject ON audit_log (subject, seq);

-- One row: the newest link of the chain. Writers lock it, so the chain has one order.
CREATE TABLE audit_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (true, 0, repeat('0', 64));

-- The audit log is append-only: UPDATE and DELETE are refused by the database itself.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
"""


def statements(script: str) -> list[str]:
    """One statement at a time (the asyncpg driver prepares each); ``$$`` bodies stay whole."""
    found, current, in_body = [], [], False
    for line in script.splitlines():
        if line.strip().startswith("--") and not in_body:
            continue
        current.append(line)
        if line.count("$$") % 2:
            in_body = not in_body
        if line.rstrip().endswith(";") and not in_body:
            found.append("\n".join(current).strip())
            current = []
    return [s for s in found if s]


def upgrade() -> None:
    for statement in statements(PROJECTIONS) + statements(RECORDS):
        op.execute(statement)
