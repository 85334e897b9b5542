"""The data-protection officer's pages: "Signale" (``/datenschutz/signale``) and the audit rows
behind a signal (``/datenschutz/protokoll?seq=…``).

They read exactly what ``GET /v1/signals`` and ``GET /v1/audit/rows`` read
(``reading.signals``: auditors only, own institution only, audited as ``read-signals`` and
``read-audit-rows``); every other role gets the "verboten" page (the refusal is audited too).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.coordination.api.context import api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.domain.misuse_signals import SignalKind
from services.coordination.pages.rendering import render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.reading import signals, signals_text
from services.coordination.reading.signals import Period

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
PURPOSE = "Datenschutzaufsicht"
ONLY_FOR_PRIVACY = (
    "Die Missbrauchssignale und die Protokollzeilen dahinter sind nur für die"
    " Datenschutzverantwortlichen der Institution (Rolle „auditor“)."
)


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/datenschutz/signale", response_class=HTMLResponse)
async def signals_view(request: Request, von: str = "", bis: str = "") -> Response:
    """The institution's misuse signals of a period (default: the last seven days)."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    settings, today = api.settings, api.today()
    period = Period.chosen(
        _date(von), _date(bis), today, settings.coordination_signals_max_days
    ) or Period.days_up_to(today)
    rules = settings.signal_rules
    report = await signals.read_signals(api, caller, period, rules, PURPOSE)
    if report is None:
        return render(request, "verboten.html", 403, message=ONLY_FOR_PRIVACY)
    return render(
        request,
        "signale.html",
        report=report,
        kinds=list(SignalKind),
        meanings=signals_text.rules_text(rules),
        t=signals_text,
    )


@router.get("/datenschutz/protokoll", response_class=HTMLResponse)
async def audit_rows_view(request: Request, seq: list[int] = Query(default=[])) -> Response:  # noqa: B008
    """The audit rows behind a signal, of the caller's institution's users."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    rows = await signals.read_audit_rows(api, caller, seq, PURPOSE)
    if rows is None:
        return render(request, "verboten.html", 403, message=ONLY_FOR_PRIVACY)
    return render(request, "protokoll.html", rows=rows, asked=len(set(seq)), t=signals_text)
