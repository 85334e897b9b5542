"""The German pages: the coordinator's case page (``/fall/{nummer}``) and the committee
dashboard (``/ausschuss``); signing in and out is ``sign_in`` (``/anmelden``, ``/abmelden``).

They read a case exactly as the API does (``reading.case_reading``: the same access check,
summary and minimised timeline entries) and leave one audit row per view, granted or not.
Every page finds its caller with ``page_caller`` (the signed-in session, or a bearer header
verified exactly as the API verifies it); never from a URL.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from schemas.registry.projects import load_projects
from services.coordination.api.context import Purpose, api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.metrics.api_data import published_figures
from services.coordination.pages import (
    access_report_page,
    case_page,
    committee,
    committee_report_routes,
    document_routes,
    inbox_routes,
    notice_routes,
    sign_in,
    signals_routes,
    swimlanes,
    worklist_routes,
)
from services.coordination.pages.answerable import answerable
from services.coordination.pages.rendering import (  # re-exported: the page modules use them
    HERE,
    SECURITY_HEADERS,
    cookie_secure,
    render,
    templates,
    to_sign_in,
)
from services.coordination.pages.sign_in import (  # re-exported: every page finds its caller
    CSRF_COOKIE,
    TOKEN_COOKIE,
    page_caller,
    verify_in_thread,
)
from services.coordination.pages.wording import InstitutionNames
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.case_reading import MAX_ENTRIES, read_overview

__all__ = [
    "CSRF_COOKIE",
    "HERE",
    "SECURITY_HEADERS",
    "TOKEN_COOKIE",
    "cookie_secure",
    "page_caller",
    "register_pages",
    "render",
    "templates",
    "to_sign_in",
    "verify_in_thread",
]

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)


def register_pages(app: FastAPI) -> None:
    """Serve the German pages from the coordination API."""
    app.include_router(router)
    app.include_router(sign_in.router, dependencies=STORABLE_PARAMETERS)
    app.include_router(inbox_routes.router)  # /posteingang, /fall/.../antwort (inbox)
    app.include_router(worklist_routes.router)  # /faelle, /fristen (work)
    app.include_router(document_routes.router)  # /dokumente/…, /v1/documents/… (doc)
    app.include_router(access_report_page.router)  # /auskunft (access report letter)
    app.include_router(notice_routes.router)  # /mitteilungen (AVG 35a Abs. 1ter notices)
    app.include_router(signals_routes.router)  # /datenschutz/… (misuse signals)
    app.include_router(committee_report_routes.router)  # /ausschuss/bericht/{year}.pdf


@router.get("/seiten/stil.css")
async def stylesheet() -> Response:
    css = (HERE / "static" / "stil.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/fall")
async def open_case(nummer: str = "") -> Response:
    """The sign-in page's "open a case" form: on to the case page (the number stays in the
    path, like the API's; it is no personal data)."""
    if not nummer.strip():
        return to_sign_in()
    return RedirectResponse(f"/fall/{quote(nummer.strip()[:40], safe='')}", status_code=303)


@router.get("/fall/{case_number}", response_class=HTMLResponse)
async def case_view(
    request: Request, case_number: str, purpose: Purpose = DEFAULT_PURPOSE
) -> Response:
    """One case on a time axis, as the caller's institution may see it; else the 404 page."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    overview = await read_overview(api, caller, case_number, "read-case-page", purpose)
    if overview is None:
        return render(request, "nicht_gefunden.html", 404)
    summary, entries = overview.summary, overview.entries
    names = InstitutionNames.of(api.registry.institutions)
    return render(
        request,
        "fall.html",
        summary=summary,
        chart=swimlanes.layout(summary, entries, names),
        deadlines=case_page.deadlines(summary, entries, names),
        events=case_page.event_rows(entries, names),
        names=names,
        truncated=len(entries) >= MAX_ENTRIES,
        answerable=answerable(entries, caller.institution),  # inbox: the answer form's links
    )


COMMITTEE_PURPOSE = "Steuerung der IIZ (IIZ-Ausschuss)"  # as the metrics API records it


@router.get("/ausschuss", response_class=HTMLResponse)
async def committee_view(request: Request, zeitraum: str = "quartal") -> Response:
    """The committee's figures over time, per project and for the canton (committee only)."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    period: Literal["quarter", "year"] = "year" if zeitraum == "jahr" else "quarter"
    if caller.role is not Role.COMMITTEE:
        await api.record(_metrics_audit(caller, period, "denied"))
        return render(request, "verboten.html", 403)
    publication = await published_figures(api.pool, api.settings, period)
    rows = [row.to_dict() for row in publication.rows]
    await api.record(_metrics_audit(caller, period, "ok", rows=len(rows)))
    projects = {p.code: p.name for p in load_projects().projects}
    return render(
        request,
        "ausschuss.html",
        dashboard=committee.build(rows, projects, publication) if rows else None,
        period=period,
        outcome_keys=committee.OUTCOME_KEYS,
    )


def _metrics_audit(caller: Caller, period: str, outcome: str, **detail: Any) -> Any:
    return audit_entry(
        caller,
        "read-metrics-page",
        COMMITTEE_PURPOSE,
        subject=None,
        case_number=None,
        basis="role: committee" if outcome != "denied" else None,
        outcome=outcome,
        period=period,
        **detail,
    )
