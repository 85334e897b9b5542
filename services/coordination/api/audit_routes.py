"""``GET /v1/audit``: the audit trail about a case's person, for auditors.

Who received or read the person's data, when, for which purpose and on which basis: the basis
of the person's access report. Auditors (data-protection officers) may read it for any case;
every other role is refused (403), and the refusal is recorded too.

An officer names only their own institution's users: another institution's human actor
(``<institution>/<role>/<sub>``) is shown as ``<institution>/<role>``, its user reference is for
that institution's officer. Machine actors (``coordination``, ``notifications``, ...) and
operators (``operator/<name>``) are shown as written.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, NOT_FOUND, Api, Purpose
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE, AuditPage, AuditRow
from services.coordination.api.problems import (
    CaseNotFoundError,
    RoleNotAllowedError,
)
from services.coordination.reading import queries
from services.coordination.reading.access import audit_entry, shown
from services.coordination.reading.caller import Role

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)


@router.get(
    "/audit",
    tags=["audit"],
    summary="The audit trail about a case's person (auditors only)",
    response_model=AuditPage,
    responses={**NOT_FOUND, 403: problem_response("Auditors only (role_not_allowed).")},
)
async def read_audit(
    caller: CurrentCaller,
    api: Api,
    subject_case: Annotated[str, Query(description="Case number of the person.")],
    after: Annotated[int, Query(ge=0, description="Cursor: rows after this seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    purpose: Purpose = DEFAULT_PURPOSE,
) -> AuditPage:
    """Rows in the order they were written, paged by their sequence number."""
    auditor = caller.role is Role.AUDITOR
    async with api.snapshot() as conn:
        case = await queries.case_by_number(conn, subject_case)
        rows = (
            await queries.audit_rows(conn, case.pseudonym, after, limit) if case and auditor else []
        )
    if case is None or not auditor:
        await api.record(
            audit_entry(
                caller,
                "read-audit",
                purpose,
                subject=case.pseudonym if case else None,
                case_number=case.case_number if case else shown(subject_case),
                outcome="denied" if not auditor else "not_found",
            )
        )
        if not auditor:
            raise RoleNotAllowedError("only auditors read the audit log")
        raise CaseNotFoundError()
    page = [_audit_row(r, caller.institution) for r in rows[:limit]]
    await api.record(
        audit_entry(
            caller,
            "read-audit",
            purpose,
            subject=case.pseudonym,
            case_number=case.case_number,
            basis="role: auditor",
            outcome="ok",
            rows=len(page),
        )
    )
    return AuditPage(
        case_number=case.case_number,
        rows=page,
        next_after=page[-1].seq if len(rows) > limit else None,
    )


def actor_shown(actor: str, institution: str) -> str:
    """The actor as an officer of ``institution`` may see it: another institution's user
    without the user reference (``<institution>/<role>``); everything else as written."""
    parts = actor.split("/", 2)
    if len(parts) == 3 and parts[0] != institution:
        return f"{parts[0]}/{parts[1]}"
    return actor


def _audit_row(row: Any, institution: str) -> AuditRow:
    return AuditRow(
        seq=row["seq"],
        at=row["at"],
        actor=actor_shown(row["actor"], institution),
        action=row["action"],
        purpose=row["purpose"],
        object=row["object"],
        basis=row["basis"],
        detail=json.loads(row["detail"]),
    )
