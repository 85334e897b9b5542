"""Coordination's tables, defined once: the read models, the records, the audit chain.

These SQLModel classes are the single definition of the tables' shape (columns, types,
nullability, server defaults, primary keys, unique constraints, indexes with their ``WHERE``,
check constraints). The migrations in ``services/coordination/migrations`` create them, and
``tests/integration/test_tables_match_migrations.py`` fails when the two disagree. A change of
shape is made here *and* in a new migration. There are no foreign keys (the migrations declare
none: a read model is rebuilt from the bus, not kept consistent by the database).

The tables carry no schema name: coordination's schema is chosen per connection
(``search_path``), and tests use throw-away schemas. ``METADATA`` holds coordination's tables
only (not intake's).

Kept in the migrations only, because no column or table definition can say them:

- the audit log is append-only: function ``audit_log_is_append_only()`` and trigger
  ``audit_log_append_only`` (``BEFORE UPDATE OR DELETE ON audit_log``) refuse any change;
- the chain's first link: the one ``audit_head`` row (``true, 0, '000…0'``) is inserted by the
  migration;
- the chain's guard (migration 0004): trigger ``audit_log_chain`` runs the ``SECURITY DEFINER``
  function ``audit_log_advance_head()`` after every INSERT on ``audit_log`` (the rows must
  continue the head; the head moves to the last), ``audit_lock_head()`` locks and returns the
  head for a writer, and trigger ``audit_log_no_truncate`` refuses TRUNCATE; the service role's
  privileges are granted by ``migrate`` (``services/coordination/ops/migrate.py``);
- the sequence ``case_number_seq`` behind case numbers is declared here (``CASE_NUMBER_SEQ``, so
  ``METADATA.create_all`` makes it too), but Alembic's comparison does not look at sequences;
  the drift test checks it exists;
- ``NOTIFY iiz_outbox`` (the relay's wake-up) is sent by the batch writer, not by a
  trigger: nothing in the database.

Which class is which table: the class name is the table name in CamelCase (``Timeline`` is
``timeline``, ``AuditLog`` is ``audit_log``), which keeps them apart from the domain's own
``Case``, ``Consent``, ``Decision``... Use them through the module: ``tables.Cases``.
"""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, Sequence, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import (
    ARRAY,
    BIGINT,
    BOOLEAN,
    BYTEA,
    DATE,
    INTEGER,
    JSONB,
    TEXT,
    TIMESTAMP,
    UUID,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.sql import service_metadata

NOW = text("now()")
EMPTY_ARRAY = text("'{}'")


def _timestamp() -> TIMESTAMP:
    return TIMESTAMP(timezone=True)


def _uuid() -> UUID[uuid.UUID]:
    return UUID(as_uuid=True)


class CoordinationTable(SQLModel, registry=registry(metadata=service_metadata())):
    """Base of coordination's tables: their own registry and ``MetaData``."""


METADATA = CoordinationTable.metadata
CASE_NUMBER_SEQ = Sequence("case_number_seq", metadata=METADATA)


# ---------------------------------------------------------------------------------------------
# Projections of iiz.case-events.v1 (``rebuild`` drops their rows and replays the topic)


class Persons(CoordinationTable, table=True):
    """One row per person: the case file (``state``) and the bus position it reflects."""

    __tablename__ = "persons"

    pseudonym: str = Field(sa_column=Column(TEXT, primary_key=True))
    sealed_ahv: str | None = Field(default=None, sa_column=Column(TEXT, nullable=True))
    state: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    bus_partition: int = Field(sa_column=Column(INTEGER, nullable=False))
    last_offset: int = Field(sa_column=Column(BIGINT, nullable=False))
    updated_at: dt.datetime = Field(
        sa_column=Column(_timestamp(), nullable=False, server_default=NOW)
    )


class Cases(CoordinationTable, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        # At most one open IIZ case per person.
        Index(
            "cases_one_open_per_person",
            "pseudonym",
            unique=True,
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("cases_of_person", "pseudonym"),  # 0006: the worklist
    )

    case_key: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    case_number: str = Field(sa_column=Column(TEXT, nullable=False, unique=True))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    opened_by: str = Field(sa_column=Column(TEXT, nullable=False))
    opened_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(_timestamp()))
    outcome: str | None = Field(default=None, sa_column=Column(TEXT))
    projects: list[str] = Field(
        sa_column=Column(ARRAY(TEXT), nullable=False, server_default=EMPTY_ARRAY)
    )


class Participants(CoordinationTable, table=True):
    """Periods of interest: who joined a person's file (or case) when, and left when."""

    __tablename__ = "participants"
    __table_args__ = (Index("participants_of_institution", "institution", "pseudonym"),)

    pseudonym: str = Field(sa_column=Column(TEXT, primary_key=True))
    case_key: uuid.UUID | None = Field(default=None, sa_column=Column(_uuid()))
    institution: str = Field(sa_column=Column(TEXT, primary_key=True))
    role: str = Field(sa_column=Column(TEXT, nullable=False))
    institution_case_ref: str | None = Field(default=None, sa_column=Column(TEXT))
    joined_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    joined_offset: int = Field(sa_column=Column(BIGINT, primary_key=True, autoincrement=False))
    via_referral: bool = Field(sa_column=Column(BOOLEAN, nullable=False))
    left_at: dt.datetime | None = Field(default=None, sa_column=Column(_timestamp()))


class Consents(CoordinationTable, table=True):
    __tablename__ = "consents"
    __table_args__ = (Index("consents_of_person", "pseudonym"),)

    consent_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    recorded_by: str = Field(sa_column=Column(TEXT, nullable=False))
    institutions: list[str] = Field(sa_column=Column(ARRAY(TEXT), nullable=False))
    categories: list[str] = Field(sa_column=Column(ARRAY(TEXT), nullable=False))
    valid_from: dt.date = Field(sa_column=Column(DATE, nullable=False))
    valid_until: dt.date | None = Field(default=None, sa_column=Column(DATE))
    document_ref: str = Field(sa_column=Column(TEXT, nullable=False))
    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), nullable=False))
    bus_offset: int = Field(sa_column=Column(BIGINT, nullable=False))


class ConsentRevocations(CoordinationTable, table=True):
    """A revocation is its own record; the consent row is never changed."""

    __tablename__ = "consent_revocations"

    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    consent_id: uuid.UUID = Field(sa_column=Column(_uuid(), nullable=False))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    recorded_by: str = Field(sa_column=Column(TEXT, nullable=False))
    bus_offset: int = Field(sa_column=Column(BIGINT, nullable=False))
    revoked_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))


class Timeline(CoordinationTable, table=True):
    """Every accepted event of a person, as canonical JSON, with its bus position."""

    __tablename__ = "timeline"
    __table_args__ = (
        Index("timeline_of_person", "pseudonym", "bus_offset"),
        Index("timeline_of_case", "case_key", "bus_offset"),
    )

    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    case_key: uuid.UUID | None = Field(default=None, sa_column=Column(_uuid()))
    bus_partition: int = Field(sa_column=Column(INTEGER, nullable=False))
    bus_offset: int = Field(sa_column=Column(BIGINT, nullable=False))
    occurred_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    type: str = Field(sa_column=Column(TEXT, nullable=False))
    origin: str = Field(sa_column=Column(TEXT, nullable=False))
    datacategory: str = Field(sa_column=Column(TEXT, nullable=False))
    event: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))


class Engagements(CoordinationTable, table=True):
    __tablename__ = "engagements"
    __table_args__ = (Index("engagements_of_person", "pseudonym"),)

    institution: str = Field(sa_column=Column(TEXT, primary_key=True))
    kind: str = Field(sa_column=Column(TEXT, primary_key=True))
    ref_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    case_key: uuid.UUID | None = Field(default=None, sa_column=Column(_uuid()))
    started_on: dt.date = Field(sa_column=Column(DATE, nullable=False))
    ended_on: dt.date | None = Field(default=None, sa_column=Column(DATE))


class Referrals(CoordinationTable, table=True):
    __tablename__ = "referrals"
    __table_args__ = (
        Index("referrals_of_person", "pseudonym"),
        # 0006: the deadlines list, from the open referrals to or from an institution
        Index(
            "referrals_open_to",
            "to_institution",
            "answer_due",
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "referrals_open_from",
            "from_institution",
            "answer_due",
            postgresql_where=text("status = 'open'"),
        ),
    )

    referral_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    case_key: uuid.UUID | None = Field(default=None, sa_column=Column(_uuid()))
    from_institution: str = Field(sa_column=Column(TEXT, nullable=False))
    to_institution: str = Field(sa_column=Column(TEXT, nullable=False))
    purpose: str = Field(sa_column=Column(TEXT, nullable=False))
    requested_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    answer_due: dt.date = Field(sa_column=Column(DATE, nullable=False))
    status: str = Field(sa_column=Column(TEXT, nullable=False))
    answered_at: dt.datetime | None = Field(default=None, sa_column=Column(_timestamp()))


class Decisions(CoordinationTable, table=True):
    """The policy's answer for each (event, recipient): allowed or not, and on which basis."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index(
            "decisions_of_recipient",
            "recipient",
            "event_id",
            postgresql_where=text("allowed"),
        ),
    )

    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    recipient: str = Field(sa_column=Column(TEXT, primary_key=True))
    allowed: bool = Field(sa_column=Column(BOOLEAN, nullable=False))
    basis_kind: str | None = Field(default=None, sa_column=Column(TEXT))
    consent_ids: list[uuid.UUID] = Field(
        sa_column=Column(ARRAY(_uuid()), nullable=False, server_default=EMPTY_ARRAY)
    )
    articles: list[str] = Field(
        sa_column=Column(ARRAY(TEXT), nullable=False, server_default=EMPTY_ARRAY)
    )
    legal_basis_version: str | None = Field(default=None, sa_column=Column(TEXT))
    categories: list[str] = Field(
        sa_column=Column(ARRAY(TEXT), nullable=False, server_default=EMPTY_ARRAY)
    )
    withheld: list[str] = Field(
        sa_column=Column(ARRAY(TEXT), nullable=False, server_default=EMPTY_ARRAY)
    )
    reason: str | None = Field(default=None, sa_column=Column(TEXT))
    notice_required: bool = Field(
        sa_column=Column(BOOLEAN, nullable=False, server_default=text("false"))
    )


class Notices(CoordinationTable, table=True):
    """Duties to inform the person afterwards (e.g. AVG Art. 35a Abs. 1ter): one per delivery
    made by law with that duty. ``notice_id`` is derived from event and recipient only
    (``domain.notices.notice_id``), so a rebuild gives each notice its old id, also under a
    corrected profile; ``sender`` (the disclosing origin) must send it."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", name="notices_event_id_recipient_key"),
        Index("notices_of_sender", "sender", "exchanged_at"),  # 0008: /mitteilungen
    )

    notice_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), nullable=False))
    recipient: str = Field(sa_column=Column(TEXT, nullable=False))
    sender: str = Field(sa_column=Column(TEXT, nullable=False))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    case_key: uuid.UUID | None = Field(default=None, sa_column=Column(_uuid()))
    event_type: str = Field(sa_column=Column(TEXT, nullable=False))
    categories: list[str] = Field(sa_column=Column(ARRAY(TEXT), nullable=False))
    articles: list[str] = Field(sa_column=Column(ARRAY(TEXT), nullable=False))
    legal_basis_version: str | None = Field(default=None, sa_column=Column(TEXT))
    exchanged_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))


class ProcessedEvents(CoordinationTable, table=True):
    """Event ids already folded (or dead-lettered): a redelivery changes nothing."""

    __tablename__ = "processed_events"

    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    bus_partition: int = Field(sa_column=Column(INTEGER, nullable=False))
    bus_offset: int = Field(sa_column=Column(BIGINT, nullable=False))
    outcome: str = Field(sa_column=Column(TEXT, nullable=False))
    processed_at: dt.datetime = Field(
        sa_column=Column(_timestamp(), nullable=False, server_default=NOW)
    )


# ---------------------------------------------------------------------------------------------
# Records: effects that already left the system, identifiers handed out (kept by ``rebuild``)


class CaseNumbers(CoordinationTable, table=True):
    """Case numbers once handed out stay with their case, also across a rebuild."""

    __tablename__ = "case_numbers"

    case_key: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    case_number: str = Field(sa_column=Column(TEXT, nullable=False, unique=True))
    issued_at: dt.datetime = Field(
        sa_column=Column(_timestamp(), nullable=False, server_default=NOW)
    )


class Outbox(CoordinationTable, table=True):
    """Records to publish, per lane in ``id`` order; ``published_at`` once the broker has them."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "outbox_unpublished",
            "lane",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BIGINT, primary_key=True))  # bigserial
    delivery_id: uuid.UUID = Field(sa_column=Column(_uuid(), nullable=False, unique=True))
    lane: int = Field(sa_column=Column(INTEGER, nullable=False))
    topic: str = Field(sa_column=Column(TEXT, nullable=False))
    key: bytes | None = Field(default=None, sa_column=Column(BYTEA))
    value: bytes = Field(sa_column=Column(BYTEA, nullable=False))
    headers: list[Any] = Field(sa_column=Column(JSONB, nullable=False))  # [[name, text], ...]
    created_at: dt.datetime = Field(
        sa_column=Column(_timestamp(), nullable=False, server_default=NOW)
    )
    published_at: dt.datetime | None = Field(default=None, sa_column=Column(_timestamp()))


class Deadlines(CoordinationTable, table=True):
    __tablename__ = "deadlines"
    __table_args__ = (
        Index("deadlines_due", "due_on", postgresql_where=text("status = 'pending'")),
        Index(  # 0006: the deadlines list, per person
            "deadlines_pending_of_person",
            "pseudonym",
            "due_on",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BIGINT, primary_key=True))  # bigserial
    deadline_key: str = Field(sa_column=Column(TEXT, nullable=False, unique=True))
    kind: str = Field(sa_column=Column(TEXT, nullable=False))
    pseudonym: str = Field(sa_column=Column(TEXT, nullable=False))
    ref_id: uuid.UUID = Field(sa_column=Column(_uuid(), nullable=False))
    due_on: dt.date = Field(sa_column=Column(DATE, nullable=False))
    status: str = Field(sa_column=Column(TEXT, nullable=False, server_default=text("'pending'")))
    done_at: dt.datetime | None = Field(default=None, sa_column=Column(_timestamp()))


class AuditLog(CoordinationTable, table=True):
    """The hash-chained audit log. Append-only: triggers refuse UPDATE and DELETE (migration
    0001) and TRUNCATE, and let an INSERT through only if it continues the head (0004)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("audit_of_subject", "subject", "seq"),
        # 0009: the misuse signals read the human rows of a period (reading/signals.py)
        Index("audit_human_at", "at", postgresql_where=text("strpos(actor, '/') > 0")),
        Index(
            "audit_signals_summaries",
            "object",
            postgresql_where=text("action = 'signals-summary'"),
        ),
        # 0010: whether today's retention run happened (ops/retention.py)
        Index(
            "audit_retention_runs",
            "object",
            postgresql_where=text("action = 'retention-run'"),
        ),
    )

    seq: int = Field(sa_column=Column(BIGINT, primary_key=True, autoincrement=False))
    at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    actor: str = Field(sa_column=Column(TEXT, nullable=False))
    action: str = Field(sa_column=Column(TEXT, nullable=False))
    purpose: str | None = Field(default=None, sa_column=Column(TEXT))
    subject: str | None = Field(default=None, sa_column=Column(TEXT))
    object: str | None = Field(default=None, sa_column=Column(TEXT))
    basis: str | None = Field(default=None, sa_column=Column(TEXT))
    detail: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    prev_hash: str = Field(sa_column=Column(TEXT, nullable=False))
    hash: str = Field(sa_column=Column(TEXT, nullable=False))


class AuditHead(CoordinationTable, table=True):
    """One row: the newest link of the chain. Writers lock it, so the chain has one order."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id", name="audit_head_id_check"),)

    id: bool = Field(sa_column=Column(BOOLEAN, primary_key=True, server_default=text("true")))
    seq: int = Field(sa_column=Column(BIGINT, nullable=False))
    hash: str = Field(sa_column=Column(TEXT, nullable=False))


class AuditCheckpoints(CoordinationTable, table=True):
    """Signed checkpoints of the chain (row count, head hash, time) as the worker took them: a
    record only (the services' role may add rows, so the worker trusts a row only if its own key
    signed it); the topic ``iiz.audit-checkpoints.v1`` is the evidence."""

    __tablename__ = "audit_checkpoints"

    row_count: int = Field(sa_column=Column(BIGINT, primary_key=True, autoincrement=False))
    head_hash: str = Field(sa_column=Column(TEXT, nullable=False))
    taken_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    key_id: str = Field(sa_column=Column(TEXT, nullable=False))
    value: bytes = Field(sa_column=Column(BYTEA, nullable=False))


class DeliveryOutcomes(CoordinationTable, table=True):
    """Delivery outcomes reported by notifications; the newest per delivery says where it is."""

    __tablename__ = "delivery_outcomes"
    __table_args__ = (Index("delivery_outcomes_of_delivery", "delivery_id", "reported_at"),)

    outcome_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    delivery_id: uuid.UUID = Field(sa_column=Column(_uuid(), nullable=False))
    recipient: str = Field(sa_column=Column(TEXT, nullable=False))
    channel: str = Field(sa_column=Column(TEXT, nullable=False))
    status: str = Field(sa_column=Column(TEXT, nullable=False))
    attempt: int = Field(sa_column=Column(INTEGER, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(TEXT))
    reported_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    recorded_at: dt.datetime = Field(
        sa_column=Column(_timestamp(), nullable=False, server_default=NOW)
    )


class PublishedFigures(CoordinationTable, table=True):
    """Every figure cell ever downloaded by the committee, with its value (disclosure control
    treats them as known)."""

    __tablename__ = "published_figures"

    scope: str = Field(sa_column=Column(TEXT, primary_key=True))
    period: str = Field(sa_column=Column(TEXT, primary_key=True))
    cell: str = Field(sa_column=Column(TEXT, primary_key=True))
    value: str = Field(sa_column=Column(TEXT, primary_key=True))
    first_published_at: dt.datetime = Field(
        sa_column=Column(_timestamp(), nullable=False, server_default=NOW)
    )


class InboxReads(CoordinationTable, table=True):
    """Which deliveries an institution marked read in its Posteingang (event id per recipient;
    the first reader counts). A record: ``rebuild`` keeps it, nothing changes a row."""

    __tablename__ = "inbox_reads"

    institution: str = Field(sa_column=Column(TEXT, primary_key=True))
    event_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    read_by: str = Field(sa_column=Column(TEXT, nullable=False))
    read_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))


class NoticeDispatch(CoordinationTable, table=True):
    """That a notice was sent to the person, by whom and when (the sending institution marks
    it). A record: ``rebuild`` keeps it, and the notice derived again has the same id."""

    __tablename__ = "notice_dispatch"

    notice_id: uuid.UUID = Field(sa_column=Column(_uuid(), primary_key=True))
    sent_at: dt.datetime = Field(sa_column=Column(_timestamp(), nullable=False))
    sent_by: str = Field(sa_column=Column(TEXT, nullable=False))


# What ``rebuild`` empties and replays from the bus, and what it keeps.
PROJECTIONS: tuple[type[CoordinationTable], ...] = (
    Persons,
    Cases,
    Participants,
    Consents,
    ConsentRevocations,
    Timeline,
    Engagements,
    Referrals,
    Decisions,
    Notices,
    ProcessedEvents,
)
RECORDS: tuple[type[CoordinationTable], ...] = (
    CaseNumbers,
    Outbox,
    Deadlines,
    AuditLog,
    AuditHead,
    AuditCheckpoints,
    DeliveryOutcomes,
    PublishedFigures,
    InboxReads,
    NoticeDispatch,
)
