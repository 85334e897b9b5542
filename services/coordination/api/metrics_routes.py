"""The committee's figures (IIZ-Ausschuss): aggregates only, protected against disclosure.

Only the ``committee`` role reads them. Every count from 1 below the threshold is suppressed,
with complementary suppression across outcomes, totals and periods (``metrics/disclosure.py``);
rows name a project or the canton and a period, never a case or a person. Every request
appends one audit row.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, Purpose
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.problems import RoleNotAllowedError
from services.coordination.metrics.api_data import protected_rows
from services.coordination.metrics.rows import rows_to_csv
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Role

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


@router.get(
    "/metrics",
    tags=["metrics"],
    summary="Figures per IIZ project and period, for the steering committee",
    responses={
        403: problem_response("Only the committee role reads the figures (role_not_allowed)."),
        200: {"content": {CSV_MEDIA_TYPE: {}}},
    },
    response_model=None,
)
async def read_metrics(
    caller: CurrentCaller,
    api: Api,
    period: Annotated[Literal["quarter", "year"], Query()] = "quarter",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    purpose: Purpose = "Steuerung der IIZ (IIZ-Ausschuss)",
) -> dict[str, Any] | PlainTextResponse:
    """Cases opened, active and closed by outcome; days to the first measure; the share of
    cases with parallel engagement; hand-off gaps; institutions per case; referral acceptance
    and answer time; re-entries within 12 months; measure costs by financing institution."""
    if caller.role is not Role.COMMITTEE:
        await api.record(
            audit_entry(
                caller, "read-metrics", purpose, subject=None, case_number=None, outcome="denied"
            )
        )
        raise RoleNotAllowedError("the figures are for the IIZ steering committee")
    rows = await protected_rows(api.pool, api.settings, period)
    threshold = api.settings.coordination_disclosure_threshold
    await api.record(
        audit_entry(
            caller,
            "read-metrics",
            purpose,
            subject=None,
            case_number=None,
            outcome="ok",
            period=period,
            rows=len(rows),
            format=format,
        )
    )
    if format == "csv":
        return PlainTextResponse(
            rows_to_csv(rows),
            media_type=CSV_MEDIA_TYPE,
            headers={"content-disposition": f'attachment; filename="iiz-kennzahlen-{period}.csv"'},
        )
    return {
        "period": period,
        "threshold": threshold,
        "note": f"Counts from 1 to {threshold - 1}, and figures based on them, are null.",
        "rows": [row.to_dict() for row in rows],
    }
