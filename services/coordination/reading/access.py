"""Who may see which case, and the audit row every read of a case leaves, granted or refused.

- The caller's institution must be involved with the person: a participant (also one invited
  by a referral), the origin of one of the person's entries, or the recipient of an allowed
  decision. The committee never sees a case. Otherwise the answer is the same as for an
  unknown case number (the doors answer 404): no existence oracle.
- Every read appends exactly one audit row in its own transaction, after the request's read
  snapshot is closed (a request holds at most one connection) and before the answer leaves:
  actor, action, purpose, subject pseudonym, case number, basis and counts, never values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from services.common.logging import redact_ahv_numbers
from services.coordination import audit
from services.coordination.reading import queries
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.queries import CaseRow, Involvement
from services.coordination.reading.read_store import ReadStore


def audit_entry(
    caller: Caller,
    action: str,
    purpose: str,
    *,
    subject: str | None,
    case_number: str | None,
    basis: str | None = None,
    **detail: Any,
) -> audit.AuditEntry:
    """One audit row about a read; ``detail`` holds counts and outcomes, never values."""
    return audit.AuditEntry(
        actor=caller.actor,
        action=action,
        subject=subject,
        object=case_number,
        purpose=redact_ahv_numbers(purpose),
        basis=basis,
        detail=detail,
    )


@dataclass(frozen=True)
class Access:
    """What the access check found for a case asked for (by number, or by person)."""

    asked: str | None  # the case number from the URL; None for a search by AHV number
    case: CaseRow | None
    involved: Involvement | None
    committee: bool

    @property
    def pseudonym(self) -> str:
        return self.case.pseudonym if self.case else ""

    @property
    def granted(self) -> bool:
        return (
            self.case is not None
            and self.involved is not None
            and self.involved.any
            and not self.committee
        )


@dataclass(frozen=True)
class Granted:
    """A case the caller may read, and how its institution is involved."""

    case: CaseRow
    involved: Involvement


async def check_access(conn: asyncpg.Connection, caller: Caller, case_number: str) -> Access:
    case = await queries.case_by_number(conn, case_number)
    return await _involvement(conn, caller, case_number, case)


async def check_person_access(conn: asyncpg.Connection, caller: Caller, *pseudonyms: str) -> Access:
    """Access to the person's open case, else the latest one (under any of their subjects)."""
    return await _involvement(conn, caller, None, await queries.case_of_person(conn, *pseudonyms))


async def _involvement(
    conn: asyncpg.Connection, caller: Caller, asked: str | None, case: CaseRow | None
) -> Access:
    involved = await queries.involvement(conn, case.pseudonym, caller.institution) if case else None
    return Access(asked, case, involved, caller.role is Role.COMMITTEE)


async def admit(
    store: ReadStore,
    caller: Caller,
    action: str,
    purpose: str,
    access: Access,
    *,
    subject: str | None = None,
) -> Granted | None:
    """The case and involvement if access is granted; else one audit row and None.

    ``subject`` names the person when no case was found (a search by AHV number).
    """
    if access.granted:
        assert access.case is not None
        assert access.involved is not None
        return Granted(access.case, access.involved)
    case = access.case
    await store.record(
        audit_entry(
            caller,
            action,
            purpose,
            subject=case.pseudonym if case else subject,
            case_number=case.case_number if case else shown(access.asked),
            outcome="not_found" if case is None else "denied",
        )
    )
    return None


def shown(case_number: str | None) -> str | None:
    """A case number as the audit log may keep it (it came from a URL: mask what looks wrong)."""
    return None if case_number is None else redact_ahv_numbers(case_number[:40])
