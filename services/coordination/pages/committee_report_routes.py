"""The yearly IIZ report as a PDF download from the committee page
(``/ausschuss/bericht/{year}.pdf``): committee only, like ``/ausschuss``; every request, granted,
refused or without a report, leaves one audit row (``annual-report``)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.coordination.api.context import api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.notice_api import PDF, PDF_HEADERS
from services.coordination.pages.rendering import render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller, Role
from services.coordination.reports.annual import (
    ACTION,
    PURPOSE,
    AnnualReport,
    audit_detail,
    make_annual_report,
)

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
YEAR = re.compile(r"^(19|20)\d\d$")


@router.get("/ausschuss/bericht/{year}.pdf")
async def annual_report(request: Request, year: str) -> Response:
    """The IIZ-Tätigkeitsbericht of ``year`` (published figures only); the 404 page for a year
    whose figures are not published."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    wanted = int(year) if YEAR.match(year) else 0
    if caller.role is not Role.COMMITTEE:
        await api.record(_audit(caller, wanted, "denied", None))
        return render(request, "verboten.html", 403)
    report = None
    if wanted:
        report = await make_annual_report(api.pool, api.settings, wanted, made_on=api.today())
    await api.record(_audit(caller, wanted, "ok" if report else "not_found", report))
    if report is None:
        return render(request, "bericht_nicht_gefunden.html", 404, year=year[:8])
    disposition = f'attachment; filename="{report.filename}"'
    return Response(
        report.pdf, media_type=PDF, headers={**PDF_HEADERS, "Content-Disposition": disposition}
    )


def _audit(caller: Caller, year: int, outcome: str, report: AnnualReport | None) -> Any:
    return audit_entry(
        caller,
        ACTION,
        PURPOSE,
        subject=None,
        case_number=None,
        basis="role: committee" if outcome != "denied" else None,
        **audit_detail(year, outcome, report),
    )
