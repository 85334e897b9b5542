"""Reads of a case from coordination's read models, and the refold of a past state.

Every function takes a connection; a request runs its reads in one read-only snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import asyncpg

from schemas.envelope import ANY_EVENT_ADAPTER
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.folding import fold
from services.coordination.domain.rules import RuleSettings
from services.coordination.domain.working_days import business_date

CASE_NUMBER_PATTERN = r"^IIZ-[0-9]{4}-[0-9]{6}$"


@dataclass(frozen=True)
class CaseRow:
    case_key: uuid.UUID
    case_number: str
    pseudonym: str
    open: bool


@dataclass(frozen=True)
class Involvement:
    """How an institution is involved with a person (any one suffices)."""

    participant: bool
    origin: bool
    recipient: bool

    @property
    def any(self) -> bool:
        return self.participant or self.origin or self.recipient

    def basis(self) -> str:
        kinds = [k for k in ("participant", "origin", "recipient") if getattr(self, k)]
        return "involved: " + ", ".join(kinds)


@dataclass(frozen=True)
class TimelineFilter:
    after: int | None
    limit: int
    from_day: dt.date | None
    to_day: dt.date | None
    category: str | None
    origin: str | None


async def case_by_number(conn: asyncpg.Connection, case_number: str) -> CaseRow | None:
    row = await conn.fetchrow(
        "SELECT case_key, case_number, pseudonym, closed_at IS NULL AS open FROM cases"
        " WHERE case_number = $1",
        case_number,
    )
    return None if row is None else CaseRow(**dict(row))


async def case_of_person(conn: asyncpg.Connection, *pseudonyms: str) -> CaseRow | None:
    """The person's open case, else the one opened last (under any of their subjects)."""
    row = await conn.fetchrow(
        "SELECT case_key, case_number, pseudonym, closed_at IS NULL AS open FROM cases"
        " WHERE pseudonym = ANY($1::text[])"
        " ORDER BY closed_at IS NULL DESC, opened_at DESC LIMIT 1",
        list(pseudonyms),
    )
    return None if row is None else CaseRow(**dict(row))


async def involvement(conn: asyncpg.Connection, pseudonym: str, institution: str) -> Involvement:
    row = await conn.fetchrow(
        "SELECT"
        " EXISTS (SELECT 1 FROM participants WHERE pseudonym = $1 AND institution = $2)"
        "   AS participant,"
        " EXISTS (SELECT 1 FROM timeline WHERE pseudonym = $1 AND origin = $2) AS origin,"
        " EXISTS (SELECT 1 FROM decisions d JOIN timeline t ON t.event_id = d.event_id"
        "   WHERE t.pseudonym = $1 AND d.recipient = $2 AND d.allowed) AS recipient",
        pseudonym,
        institution,
    )
    assert row is not None
    return Involvement(row["participant"], row["origin"], row["recipient"])


async def current_file(conn: asyncpg.Connection, pseudonym: str) -> tuple[CaseFile, dt.date | None]:
    """The person's file as coordination holds it now, and the date of the newest event."""
    state = await conn.fetchval("SELECT state FROM persons WHERE pseudonym = $1", pseudonym)
    file = CaseFile.model_validate_json(state) if state else CaseFile(pseudonym=pseudonym)
    newest = await conn.fetchval(
        "SELECT occurred_at FROM timeline WHERE pseudonym = $1 ORDER BY bus_offset DESC LIMIT 1",
        pseudonym,
    )
    return file, business_date(newest) if newest else None


async def refolded_file(
    conn: asyncpg.Connection, pseudonym: str, position: int, rules: RuleSettings
) -> tuple[CaseFile, dt.date | None]:
    """The person's file as it was after the event at bus ``position`` (folded afresh)."""
    rows = await conn.fetch(
        "SELECT bus_offset, occurred_at, event FROM timeline"
        " WHERE pseudonym = $1 AND bus_offset <= $2 ORDER BY bus_offset",
        pseudonym,
        position,
    )
    file = CaseFile(pseudonym=pseudonym)
    for row in rows:
        event = ANY_EVENT_ADAPTER.validate_python(json.loads(row["event"]))
        fold(file, event, int(row["bus_offset"]), rules)
    return file, business_date(rows[-1]["occurred_at"]) if rows else None


async def timeline_page(
    conn: asyncpg.Connection, pseudonym: str, reader: str, page: TimelineFilter
) -> list[asyncpg.Record]:
    """The person's entries the reader may see (own or allowed), with its decision; one more
    than ``page.limit`` so the caller knows whether a next page exists."""
    return list(
        await conn.fetch(
            "SELECT t.event_id, t.bus_offset, t.occurred_at, t.type, t.origin, t.datacategory,"
            " t.event, c.case_number, d.basis_kind, d.consent_ids, d.articles, d.withheld"
            " FROM timeline t"
            " LEFT JOIN decisions d ON d.event_id = t.event_id AND d.recipient = $2"
            " LEFT JOIN cases c ON c.case_key = t.case_key"
            " WHERE t.pseudonym = $1 AND (t.origin = $2 OR d.allowed)"
            " AND ($3::bigint IS NULL OR t.bus_offset > $3)"
            " AND ($4::date IS NULL OR (t.occurred_at AT TIME ZONE 'Europe/Zurich')::date >= $4)"
            " AND ($5::date IS NULL OR (t.occurred_at AT TIME ZONE 'Europe/Zurich')::date <= $5)"
            " AND ($6::text IS NULL OR t.datacategory = $6)"
            " AND ($7::text IS NULL OR t.origin = $7)"
            " ORDER BY t.bus_offset LIMIT $8",
            pseudonym,
            reader,
            page.after,
            page.from_day,
            page.to_day,
            page.category,
            page.origin,
            page.limit + 1,
        )
    )


async def case_ref_of(conn: asyncpg.Connection, pseudonym: str, institution: str) -> str | None:
    """The institution's own case reference for the person, if it ever gave one."""
    ref = await conn.fetchval(
        "SELECT institution_case_ref FROM participants WHERE pseudonym = $1 AND institution = $2"
        " AND institution_case_ref IS NOT NULL ORDER BY joined_offset DESC LIMIT 1",
        pseudonym,
        institution,
    )
    return str(ref) if ref else None


async def audit_rows(
    conn: asyncpg.Connection, pseudonym: str, after: int, limit: int
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT seq, at, actor, action, purpose, object, basis, detail FROM audit_log"
            " WHERE subject = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            pseudonym,
            after,
            limit + 1,
        )
    )
