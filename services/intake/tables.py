"""Intake's tables, defined once: the submission ledger and the access tokens.

These SQLModel classes are the single definition of the tables' shape (columns, types,
nullability, server defaults, keys). The migrations in ``services/intake/migrations`` create
them, and ``tests/integration/test_tables_match_migrations.py`` fails when the two disagree. A
change of shape is made here *and* in a new migration.

The tables carry no schema name: intake's schema is chosen per connection (``search_path``), and
tests use throw-away schemas. ``METADATA`` holds intake's tables only (not coordination's).

Kept in the migrations only, because no column definition can say them: nothing at present.
"""

import datetime as dt
import uuid

from sqlalchemy import Column, text
from sqlalchemy.dialects.postgresql import TEXT, TIMESTAMP, UUID
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.common.sql import service_metadata

NOW = text("now()")


class IntakeTable(SQLModel, registry=registry(metadata=service_metadata())):
    """Base of intake's tables: their own registry and ``MetaData``."""


METADATA = IntakeTable.metadata


class SubmissionLedger(IntakeTable, table=True):
    """One row per accepted submission: ids only, no personal data."""

    __tablename__ = "submission_ledger"

    canonical_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    source: str = Field(sa_column=Column(TEXT, nullable=False))
    original_id: str = Field(sa_column=Column(TEXT, nullable=False))
    channel: str = Field(sa_column=Column(TEXT, nullable=False))
    accepted_at: dt.datetime = Field(
        sa_column=Column(TIMESTAMP(timezone=True), nullable=False, server_default=NOW)
    )


class AccessTokens(IntakeTable, table=True):
    """HTTP door and web form tokens, by SHA-256 hash (the token itself is never stored)."""

    __tablename__ = "access_tokens"

    token_hash: str = Field(sa_column=Column(TEXT, primary_key=True))
    institution: str = Field(sa_column=Column(TEXT, nullable=False))
    label: str = Field(sa_column=Column(TEXT, nullable=False))
    created_at: dt.datetime = Field(
        sa_column=Column(TIMESTAMP(timezone=True), nullable=False, server_default=NOW)
    )
    revoked_at: dt.datetime | None = Field(
        default=None, sa_column=Column(TIMESTAMP(timezone=True), nullable=True)
    )
