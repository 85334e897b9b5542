"""``GET /v1/signals`` and ``GET /v1/audit/rows``: misuse signals for an institution's
data-protection officer, and the audit rows behind them (auditors only, own institution only;
both reads audited). How they are computed: ``reading.signals``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, Purpose, Responses
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import AuditRow
from services.coordination.api.problems import InvalidRequestError, RoleNotAllowedError
from services.coordination.reading import signals
from services.coordination.reading.signals import MAX_ROWS_BY_SEQ, Period

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)
AUDITORS_ONLY: Responses = {
    403: problem_response("Data-protection officers only (role_not_allowed).")
}
PRIVACY_PURPOSE = "Datenschutzaufsicht"


class SignalOut(BaseModel):
    kind: str = Field(description="off-hours, many-persons, repeated-looks or refused-run.")
    institution: str
    role: str
    user: str = Field(description="The token's sub as the audit log keeps it (not a name).")
    first: dt.datetime
    last: dt.datetime
    count: int = Field(description="Reads, persons, looks or refusals, by kind.")
    seqs: list[int] = Field(description="The audit rows behind the signal.")


class SignalsOut(BaseModel):
    institution: str
    period_from: dt.date
    period_to: dt.date
    counts: dict[str, int]
    signals: list[SignalOut]


class AuditRowsOut(BaseModel):
    rows: list[AuditRow]


@router.get(
    "/signals",
    tags=["audit"],
    summary="Misuse signals of the caller's institution (data-protection officers only)",
    response_model=SignalsOut,
    responses=AUDITORS_ONLY,
    description=(
        "Reads outside office hours, one user reading many persons in a day, repeated looks at "
        "one person without a new event, runs of refused look-ups; over the institution's "
        "human audit rows of the period (Europe/Zurich days, default the last seven). Each "
        "signal names its audit rows (`GET /v1/audit/rows`). Audited as `read-signals`."
    ),
)
async def read_signals(
    caller: CurrentCaller,
    api: Api,
    period_from: Annotated[dt.date | None, Query(alias="from")] = None,
    period_to: Annotated[dt.date | None, Query(alias="to")] = None,
    purpose: Purpose = PRIVACY_PURPOSE,
) -> SignalsOut:
    settings = api.settings
    period = Period.chosen(
        period_from, period_to, api.today(), settings.coordination_signals_max_days
    )
    if period is None:
        raise InvalidRequestError(
            f"from must not follow to; at most {settings.coordination_signals_max_days} days"
        )
    report = await signals.read_signals(api, caller, period, settings.signal_rules, purpose)
    if report is None:
        raise RoleNotAllowedError("only data-protection officers (auditors) read the signals")
    return SignalsOut(
        institution=report.institution,
        period_from=period.first,
        period_to=period.last,
        counts=report.counts(),
        signals=[
            SignalOut(
                kind=s.kind.value, institution=s.institution, role=s.role, user=s.user,
                first=s.first, last=s.last, count=s.count, seqs=list(s.seqs),
            )
            for s in report.signals
        ],
    )  # fmt: skip


@router.get(
    "/audit/rows",
    tags=["audit"],
    summary="Audit rows by seq, of the caller's institution's users (auditors only)",
    response_model=AuditRowsOut,
    responses=AUDITORS_ONLY,
    description=(
        f"At most {MAX_ROWS_BY_SEQ} seqs; rows of other institutions' users or of the machine "
        "are left out. Audited as `read-audit-rows`."
    ),
)
async def read_audit_rows(
    caller: CurrentCaller,
    api: Api,
    seq: Annotated[list[int], Query(description="Audit seqs, repeated.")],
    purpose: Purpose = PRIVACY_PURPOSE,
) -> AuditRowsOut:
    rows = await signals.read_audit_rows(api, caller, seq, purpose)
    if rows is None:
        raise RoleNotAllowedError("only data-protection officers (auditors) read audit rows")
    return AuditRowsOut(rows=[_row(r) for r in rows])


def _row(row: Any) -> AuditRow:
    return AuditRow(
        seq=row.seq, at=row.at, actor=row.actor, action=row.action, purpose=row.purpose,
        object=row.object, basis=row.basis, detail=row.detail,
    )  # fmt: skip
