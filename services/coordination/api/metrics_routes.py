"""The committee's figures (IIZ-Ausschuss): aggregates only, protected against disclosure.

Only the ``committee`` role reads them. Counts are perturbed by the cell-key method and never
show a value from 1 below the threshold (``metrics/disclosure.py``); the JSON says how many
cells are blank, never which or how many were perturbed. Rows name a project or the canton and
a period, never a case or a person. Every request appends one audit row.
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
from services.coordination.metrics.api_data import published_figures
from services.coordination.metrics.disclosure import Publication
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
    and answer time; re-entries within 12 months; measure costs by financing institution.

    Disclosure control (the cell-key method): every count differs from the true count by at
    most `disclosure.max_deviation` and is never from 1 to `threshold` - 1, so the cells of a
    table need not add up to its total; shares are computed from the perturbed counts; medians,
    means and cost sums with fewer than `threshold` cases behind them are null (and listed in
    the row's `suppressed`). `disclosure` counts the cells of this answer and the null ones;
    neither which cell was perturbed nor how many is told."""
    if caller.role is not Role.COMMITTEE:
        await api.record(
            audit_entry(
                caller, "read-metrics", purpose, subject=None, case_number=None, outcome="denied"
            )
        )
        raise RoleNotAllowedError("the figures are for the IIZ steering committee")
    publication = await published_figures(api.pool, api.settings, period)
    rows = publication.rows
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
        "threshold": publication.threshold,
        "note": note(publication),
        "disclosure": disclosure(publication),
        "rows": [row.to_dict() for row in rows],
    }


def note(publication: Publication) -> str:
    """What the disclosure control did, in one paragraph."""
    p = publication
    return (
        f"Counts are perturbed by the cell-key method: each differs from the true count by at "
        f"most {p.max_deviation}, and no count from 1 to {p.threshold - 1} is published (such "
        f"counts appear as 0 or {p.threshold}), so the cells of a table need not add up to its "
        f"total. Shares are computed from the perturbed counts; medians, means and cost sums "
        f"with fewer than {p.threshold} cases behind them are null. {p.blank} of {p.cells} cells "
        f"are null. How many counts were perturbed is not told: with few cases that number "
        f"alone would tell what happened behind the zeros."
    )


def disclosure(publication: Publication) -> dict[str, Any]:
    """The method and its numbers, without saying which cell was perturbed."""
    p = publication
    return {
        "method": "cell-key",
        "threshold": p.threshold,
        "max_deviation": p.max_deviation,
        "cells": p.cells,
        "blank": p.blank,
    }
