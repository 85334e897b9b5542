"""Who may see which case, and the audit row every case route leaves, granted or refused.

- The caller's institution must be involved with the person: a participant (also one invited
  by a referral), the origin of one of the person's entries, or the recipient of an allowed
  decision. The committee never sees a case. Otherwise the answer is the same 404 as for an
  unknown case number: no existence oracle.
- Every read appends exactly one audit row in its own transaction, after the request's read
  snapshot is closed (a request holds at most one connection) and before the answer leaves:
  actor, action, purpose, subject pseudonym, case number, basis and counts, never values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, Query, Request

from schemas.registry.institutions import InstitutionRegistry
from services.common.logging import redact_ahv_numbers
from services.coordination import api_reads as reads
from services.coordination import audit
from services.coordination.api_problems import (
    CaseNotFoundError,
    UnavailableError,
    problem_response,
)
from services.coordination.auth import Caller, Role
from services.coordination.domain.case_file import RuleSettings
from services.coordination.domain.policy import World
from services.coordination.settings import CoordinationSettings


@dataclass(frozen=True)
class ApiContext:
    """What the routes need; built in the app's lifespan."""

    settings: CoordinationSettings
    registry: InstitutionRegistry
    world: World
    rules: RuleSettings
    pool: asyncpg.Pool
    producer: AIOKafkaProducer

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        """One consistent, read-only view for all of a request's reads."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield conn

    async def record(self, entry: audit.AuditEntry) -> None:
        """Append one audit row in its own transaction (never inside a read snapshot: a request
        holds at most one connection at a time)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await audit.append(conn, [entry], at=dt.datetime.now(dt.UTC))


def api_context(request: Request) -> ApiContext:
    found: ApiContext | None = getattr(request.app.state, "api", None)
    if found is None:
        raise UnavailableError("the service is starting or stopping")
    return found


Api = Annotated[ApiContext, Depends(api_context)]
Purpose = Annotated[
    str,
    Query(min_length=3, max_length=200, description="Why the data is needed (audit log)."),
]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {
    404: problem_response("No such case, or none visible to you (case_not_found).")
}
AUTH: Responses = {401: problem_response("token_missing, token_invalid or token_expired.")}


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
    case: reads.CaseRow | None
    involved: reads.Involvement | None
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


async def check_access(conn: asyncpg.Connection, caller: Caller, case_number: str) -> Access:
    case = await reads.case_by_number(conn, case_number)
    return await _involvement(conn, caller, case_number, case)


async def check_person_access(conn: asyncpg.Connection, caller: Caller, pseudonym: str) -> Access:
    """Access to the person's open case, else the latest one."""
    return await _involvement(conn, caller, None, await reads.case_of_person(conn, pseudonym))


async def _involvement(
    conn: asyncpg.Connection, caller: Caller, asked: str | None, case: reads.CaseRow | None
) -> Access:
    involved = await reads.involvement(conn, case.pseudonym, caller.institution) if case else None
    return Access(asked, case, involved, caller.role is Role.COMMITTEE)


async def granted(
    api: ApiContext,
    caller: Caller,
    action: str,
    purpose: str,
    access: Access,
    *,
    subject: str | None = None,
) -> tuple[reads.CaseRow, reads.Involvement]:
    """The case and involvement if access is granted; else one audit row and the uniform 404.

    ``subject`` names the person when no case was found (a search by AHV number).
    """
    if access.granted:
        assert access.case is not None
        assert access.involved is not None
        return access.case, access.involved
    case = access.case
    await api.record(
        audit_entry(
            caller,
            action,
            purpose,
            subject=case.pseudonym if case else subject,
            case_number=case.case_number if case else shown(access.asked),
            outcome="not_found" if case is None else "denied",
        )
    )
    raise CaseNotFoundError()


def shown(case_number: str | None) -> str | None:
    """A case number as the audit log may keep it (it came from a URL: mask what looks wrong)."""
    return None if case_number is None else redact_ahv_numbers(case_number[:40])
