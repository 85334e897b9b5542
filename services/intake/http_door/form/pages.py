"""The web form's pages and session: rendering with safe headers, the CSRF token, and who is
logged in (signed in at the identity provider, or with an access key checked against the token
store on every request)."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from schemas.registry.institutions import Institution
from schemas.vocabulary import InstitutionKind
from services.intake.http_door.form.provider_session import signed_in_institution
from services.intake.http_door.state import intake_of

PREFIX = "/formular"
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def logged_in(request: Request) -> Institution | None:
    """The municipality of this session, if its sign-in or token is still valid; clears stale
    sessions."""
    if (signed_in := signed_in_institution(request)) is not None:
        return signed_in
    hashed, institution_id = request.session.get("token_hash"), request.session.get("institution")
    if not isinstance(hashed, str) or not isinstance(institution_id, str):
        return None
    institution = await intake_of(request).tokens.institution_for_hash(hashed)
    if (
        institution is None
        or institution.id != institution_id
        or institution.kind is not InstitutionKind.SOCIAL_SERVICES
    ):
        request.session.clear()
        return None
    return institution


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of the form: never cached, never framed, no scripts."""
    context.setdefault("csrf_token", csrf_token(request))
    context.setdefault("institution", None)
    context.setdefault("provider_login", getattr(request.app.state, "form_relying_party", None))
    response: HTMLResponse = TEMPLATES.TemplateResponse(
        request, template, context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    # The sign-out form leads on to the identity provider (Chromium applies form-action to a
    # form's redirects too).
    party = getattr(request.app.state, "form_relying_party", None)
    provider = f" {party.provider_origin}" if party is not None else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'{provider}; "
        "frame-ancestors 'none'"
    )
    return response


def error_page(
    request: Request, status_code: int, title: str, message: str, **context: Any
) -> HTMLResponse:
    return page(request, "fehler.html", status_code, title=title, message=message, **context)


def csrf_refused(request: Request, institution: Institution | None = None) -> HTMLResponse:
    return error_page(
        request,
        403,
        "Sicherheitsprüfung fehlgeschlagen",
        "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden Sie "
        "die Seite neu und füllen Sie das Formular erneut aus.",
        institution=institution,
    )


def to_login() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/anmelden", status_code=303)
