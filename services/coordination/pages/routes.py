"""The German pages: sign-in (``/anmelden``), the coordinator's case page (``/fall/{nummer}``)
and the committee dashboard (``/ausschuss``).

They read a case exactly as the API does (``reading.case_reading``: the same access check,
summary and minimised timeline entries) and leave one audit row per view, granted or not.
The token comes from the ``Authorization`` header or an HttpOnly, SameSite=Strict cookie set by
the sign-in form; never from a URL. It is verified exactly as the API verifies it (the app's one
``TokenVerifier``), in a worker thread: fetching the identity provider's keys must not block the
event loop.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from schemas.registry.projects import load_projects
from services.coordination.api.auth import AuthError, TokenVerifier
from services.coordination.api.context import Purpose, api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.metrics.api_data import metrics_rows
from services.coordination.pages import case_page, committee, swimlanes, wording
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.case_reading import MAX_ENTRIES, read_overview

HERE = Path(__file__).resolve().parent
TOKEN_COOKIE = "iiz_sitzung"  # noqa: S105 (a cookie name, not a secret)
CSRF_COOKIE = "iiz_formular"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals.update(w=wording, german=wording.german, day=wording.day)


def register_pages(app: FastAPI) -> None:
    """Serve the German pages from the coordination API."""
    app.include_router(router)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page, naming the caller that ``page_caller`` found for this request (if any)."""
    caller = getattr(request.state, "caller", None)
    html = templates.get_template(name).render(caller=caller, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


async def page_caller(request: Request) -> Caller | None:
    """The caller named by a bearer header or the session cookie; None when neither is valid.
    Kept on the request for ``render``."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    token = credential.strip() if scheme.lower() == "bearer" else ""
    token = token or request.cookies.get(TOKEN_COOKIE, "")
    caller: Caller | None = None
    if token:
        try:
            caller = await verify_in_thread(request, token)
        except AuthError:
            caller = None
    request.state.caller = caller
    return caller


async def verify_in_thread(request: Request, token: str) -> Caller:
    verifier: TokenVerifier = request.app.state.token_verifier
    return await run_in_threadpool(verifier.verify, token)


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/anmelden", status_code=303, headers=SECURITY_HEADERS)


@router.get("/seiten/stil.css")
async def stylesheet() -> Response:
    css = (HERE / "static" / "stil.css").read_text(encoding="utf-8")
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/anmelden", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    await page_caller(request)
    nonce = secrets.token_urlsafe(24)
    response = render(request, "anmelden.html", nonce=nonce, error=None)
    _set_cookie(request, response, CSRF_COOKIE, nonce, path="/anmelden")
    return response


@router.post("/anmelden", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check the pasted token and keep it in an HttpOnly, SameSite=Strict cookie."""
    await page_caller(request)
    expected = request.cookies.get(CSRF_COOKIE, "")
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 400).
    if not expected or not secrets.compare_digest(expected.encode(), nonce.encode()):
        return render(request, "anmelden.html", 400, nonce=expected, error="formular")
    try:
        caller = await verify_in_thread(request, token.strip())
    except AuthError:
        return render(request, "anmelden.html", 401, nonce=expected, error="token")
    target = "/ausschuss" if caller.role is Role.COMMITTEE else "/anmelden"
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    _set_cookie(request, response, TOKEN_COOKIE, token.strip(), path="/")
    return response


@router.post("/abmelden")
async def sign_out() -> Response:
    response = to_sign_in()
    response.delete_cookie(TOKEN_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/fall")
async def open_case(nummer: str = "") -> Response:
    """The sign-in page's "open a case" form: on to the case page (the number stays in the
    path, like the API's; it is no personal data)."""
    if not nummer.strip():
        return to_sign_in()
    return RedirectResponse(f"/fall/{quote(nummer.strip()[:40], safe='')}", status_code=303)


def _set_cookie(request: Request, response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


def cookie_secure(request: Request) -> bool:
    """``coordination_cookie_secure`` when set (behind a proxy that terminates TLS the app sees
    http); otherwise whether the request came over https."""
    api = getattr(request.app.state, "api", None)
    forced: bool | None = api.settings.coordination_cookie_secure if api is not None else None
    return request.url.scheme == "https" if forced is None else forced


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
    names = {i.id: i.name for i in api.registry.institutions}
    return render(
        request,
        "fall.html",
        summary=summary,
        chart=swimlanes.layout(summary, entries, names),
        deadlines=case_page.deadlines(summary, entries),
        events=case_page.event_rows(entries),
        names=names,
        truncated=len(entries) >= MAX_ENTRIES,
    )


PERIODS = {"quartal": "quarter", "jahr": "year"}
COMMITTEE_PURPOSE = "Steuerung der IIZ (IIZ-Ausschuss)"  # as the metrics API records it


@router.get("/ausschuss", response_class=HTMLResponse)
async def committee_view(request: Request, zeitraum: str = "quartal") -> Response:
    """The committee's figures over time, per project and for the canton (committee only)."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    period = PERIODS.get(zeitraum, "quarter")
    if caller.role is not Role.COMMITTEE:
        await api.record(_metrics_audit(caller, period, "denied"))
        return render(request, "verboten.html", 403)
    rows = await metrics_rows(api.pool, api.settings, period)
    await api.record(_metrics_audit(caller, period, "ok", rows=len(rows)))
    projects = {p.code: p.name for p in load_projects().projects}
    return render(
        request,
        "ausschuss.html",
        dashboard=committee.build(rows, projects) if rows else None,
        period=period,
        columns=committee.COLUMNS,
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
