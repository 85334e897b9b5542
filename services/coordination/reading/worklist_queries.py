"""The read-model queries behind the worklist and the deadlines list: which cases and persons
concern an institution, with the stored file of each (no refold), and the scheduled checks still
pending. One query each, whatever the number of cases (indexes: migration 0006)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.consequences import Deadline
from services.coordination.domain.working_days import business_date

SCHEDULED_KINDS = ("referral-escalation", "exhaustion-planning")


@dataclass(frozen=True)
class StoredFile:
    """A person's stored file, the case asked about (if any) and its newest event's date."""

    case_key: uuid.UUID | None
    case_number: str | None
    file: CaseFile
    newest: dt.date | None


async def cases_taken_part_in(
    conn: asyncpg.Connection, institution: str, open_only: bool | None, project: str | None
) -> list[StoredFile]:
    """Every case whose period overlaps one of the institution's participations (also as an
    invited recipient of a referral, also one it left), with the person's stored file."""
    rows = await conn.fetch(
        "SELECT c.case_key, c.case_number, p.state, newest.occurred_at AS newest"
        " FROM cases c JOIN persons p ON p.pseudonym = c.pseudonym"
        " LEFT JOIN LATERAL (SELECT t.occurred_at FROM timeline t WHERE t.pseudonym = c.pseudonym"
        "   ORDER BY t.bus_offset DESC LIMIT 1) newest ON true"
        " WHERE EXISTS (SELECT 1 FROM participants pa WHERE pa.pseudonym = c.pseudonym"
        "   AND pa.institution = $1 AND pa.joined_at <= coalesce(c.closed_at, 'infinity')"
        "   AND (pa.left_at IS NULL OR pa.left_at >= c.opened_at))"
        " AND ($2::boolean IS NULL OR (c.closed_at IS NULL) = $2)"
        " AND ($3::text IS NULL OR $3 = ANY(c.projects))",
        institution,
        open_only,
        project,
    )
    return [_stored(row) for row in rows]


async def persons_with_due_items(
    conn: asyncpg.Connection, institution: str, until: dt.date
) -> list[StoredFile]:
    """Persons with an open referral to or from the institution due by ``until``, or with an
    open case it takes part in now; each with its open case (if any) and stored file."""
    rows = await conn.fetch(
        "WITH concerned AS ("
        "   SELECT pseudonym FROM referrals WHERE status = 'open' AND to_institution = $1"
        "     AND answer_due <= $2"
        "   UNION SELECT pseudonym FROM referrals WHERE status = 'open' AND from_institution = $1"
        "     AND answer_due <= $2"
        "   UNION SELECT c.pseudonym FROM participants pa"
        "     JOIN cases c ON c.pseudonym = pa.pseudonym AND c.closed_at IS NULL"
        "     WHERE pa.institution = $1 AND pa.left_at IS NULL)"
        " SELECT c.case_key, c.case_number, p.state, newest.occurred_at AS newest"
        " FROM concerned JOIN persons p ON p.pseudonym = concerned.pseudonym"
        " LEFT JOIN cases c ON c.pseudonym = p.pseudonym AND c.closed_at IS NULL"
        " LEFT JOIN LATERAL (SELECT t.occurred_at FROM timeline t WHERE t.pseudonym = p.pseudonym"
        "   ORDER BY t.bus_offset DESC LIMIT 1) newest ON true",
        institution,
        until,
    )
    return [_stored(row) for row in rows]


async def pending_checks(
    conn: asyncpg.Connection, pseudonyms: Sequence[str], until: dt.date
) -> dict[str, list[Deadline]]:
    """The persons' escalations and planning windows not yet run, due by ``until``."""
    rows = await conn.fetch(
        "SELECT pseudonym, kind, ref_id, due_on FROM deadlines"
        " WHERE status = 'pending' AND pseudonym = ANY($1::text[]) AND kind = ANY($2::text[])"
        " AND due_on <= $3",
        list(pseudonyms),
        list(SCHEDULED_KINDS),
        until,
    )
    found: dict[str, list[Deadline]] = {}
    for row in rows:
        deadline = Deadline(row["kind"], row["ref_id"], row["due_on"])
        found.setdefault(row["pseudonym"], []).append(deadline)
    return found


def _stored(row: asyncpg.Record) -> StoredFile:
    newest = row["newest"]
    return StoredFile(
        case_key=row["case_key"],
        case_number=row["case_number"],
        file=CaseFile.model_validate_json(row["state"]),
        newest=business_date(newest) if newest else None,
    )
