"""Signing in and out of the German pages, and ``page_caller``: who is asking.

- ``GET /anmelden``: the German sign-in page with the button "Anmelden über das kantonale
  Login" (``GET /anmelden/kantonal``, on to the identity provider: authorization code + PKCE,
  ``services.common.oidc_sign_in``). Only with ``IIZ_ENVIRONMENT=development`` it also offers
  the form for pasting a token (``POST /anmelden``).
- ``GET /anmelden/rueckruf``: the provider's answer. The ID token is checked by the relying
  party; the access token by the API's one ``TokenVerifier`` (issuer, audience, JWKS), which
  names the ``Caller`` (institution and role from the claims). Committee members go on to
  ``/ausschuss``, everyone else to ``/faelle``.
- ``POST /abmelden`` (CSRF token): ends the session here and at the provider.

The session is a signed cookie (``iiz_sitzung``, HttpOnly, SameSite=Lax, Secure as
``cookie_secure`` says) holding the caller, the ID token (for the sign-out) and its times;
it ends after ``IIZ_SESSION_IDLE_MINUTES`` unused or ``IIZ_SESSION_MAX_HOURS`` after signing in.
A bearer header still works for API-style access to the pages.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from services.common import oidc_sign_in as oidc
from services.coordination.api.auth import AuthError, TokenVerifier
from services.coordination.api.problems import UnavailableError
from services.coordination.pages.rendering import (
    SECURITY_HEADERS,
    cookie_secure,
    render,
    to_sign_in,
)
from services.coordination.reading.caller import Caller, Role
from services.coordination.settings import DEVELOPMENT_SESSION_SECRET, CoordinationSettings

log = structlog.get_logger("coordination.sign_in")

SESSION_COOKIE = "iiz_sitzung"
TOKEN_COOKIE = SESSION_COOKIE  # the name tests and older docs use
CSRF_COOKIE = "iiz_formular"  # the paste form's double-submit cookie (development only)
CALLBACK_PATH = "/anmelden/rueckruf"
SIGNED_OUT_PATH = "/anmelden?abgemeldet=1"

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------------------------------------
# Set-up


def install_sign_in(app: FastAPI, settings: CoordinationSettings) -> None:
    """The session cookie and the identity provider's client; refuses to start in production
    without them (like the token settings: a clear message at start, not a 500 later)."""
    issuer, secret = settings.oidc_issuer, settings.coordination_oidc_client_secret
    if settings.environment == "production":
        if not issuer or secret is None or not secret.get_secret_value():
            raise ValueError(
                "IIZ_OIDC_ISSUER and IIZ_COORDINATION_OIDC_CLIENT_SECRET must be set in"
                " production: staff sign in to the pages through the identity provider"
            )
        session_secret = settings.coordination_session_secret.get_secret_value()
        if session_secret == DEVELOPMENT_SESSION_SECRET or len(session_secret) < 32:
            raise ValueError(
                "IIZ_COORDINATION_SESSION_SECRET must be a real secret (>= 32 characters) in"
                " production: it signs the pages' sessions"
            )
    party = None
    if issuer and secret is not None and secret.get_secret_value():
        party = oidc.RelyingParty(
            oidc.ProviderSettings(
                issuer=issuer,
                client_id=settings.coordination_oidc_client_id,
                client_secret=secret.get_secret_value(),
                callback_path=CALLBACK_PATH,
                post_logout_path=SIGNED_OUT_PATH,
            )
        )
        app.state.sign_in_provider_origin = party.provider_origin
    app.state.relying_party = party
    app.state.session_times = oidc.SessionTimes(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        absolute=dt.timedelta(hours=settings.session_max_hours),
    )
    app.state.paste_sign_in = settings.environment == "development"
    forced = settings.coordination_cookie_secure

    production = settings.environment == "production"

    def secure(scope: Scope) -> bool:
        # Production always (behind a proxy that ends TLS the app sees http).
        return production or (oidc.over_https(scope) if forced is None else forced)

    app.add_middleware(
        oidc.SessionCookies,
        secret_key=oidc.session_signing_secret(
            settings.coordination_session_secret.get_secret_value(),
            DEVELOPMENT_SESSION_SECRET,
            settings.environment,
        ),
        cookie=SESSION_COOKIE,
        path="/",
        max_age=int(settings.session_max_hours * 3600),
        secure=secure,
    )


# ---------------------------------------------------------------------------------------------
# Who is asking


async def page_caller(request: Request) -> Caller | None:
    """The caller named by a bearer header or the signed-in session; None when neither is
    valid. Kept on the request for ``render`` (with the session's CSRF token)."""
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    token = credential.strip() if scheme.lower() == "bearer" else ""
    caller: Caller | None = None
    if token:
        try:
            caller = await verify_in_thread(request, token)
        except AuthError:
            caller = None
    elif "session" in request.scope:
        caller = _session_caller(request)
    request.state.caller = caller
    return caller


def _session_caller(request: Request) -> Caller | None:
    times: oidc.SessionTimes = request.app.state.session_times
    who = oidc.current(request.session, times)
    if who is None:
        return None
    try:
        name = who.get("name")
        caller = Caller(
            user=who["user"],
            institution=who["institution"],
            role=Role(who["role"]),
            display_name=name if isinstance(name, str) else None,
        )
    except (KeyError, ValueError, TypeError):
        request.session.clear()
        return None
    csrf = request.session.get("csrf")
    request.state.csrf_token = csrf if isinstance(csrf, str) else ""
    return caller


async def verify_in_thread(request: Request, token: str) -> Caller:
    verifier: TokenVerifier = request.app.state.token_verifier
    return await run_in_threadpool(verifier.verify, token)


def _start_session(request: Request, caller: Caller, id_token: str | None) -> None:
    who = {"user": caller.user, "institution": caller.institution, "role": caller.role.value}
    if caller.display_name:
        who["name"] = caller.display_name  # shown in the header only; the audit names ``user``
    oidc.begin(request.session, who, id_token)
    request.session["csrf"] = secrets.token_urlsafe(32)


def _landing(caller: Caller) -> str:
    return "/ausschuss" if caller.role is Role.COMMITTEE else "/faelle"


# ---------------------------------------------------------------------------------------------
# Pages


def _sign_in_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("nonce", "")
    return render(
        request,
        "anmelden.html",
        status,
        provider=getattr(request.app.state, "relying_party", None) is not None,
        paste=getattr(request.app.state, "paste_sign_in", False),
        **context,
    )


def _problem_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "anmeldung_fehler.html", status, title=title, message=message)


def _unavailable(request: Request) -> HTMLResponse:
    return _problem_page(
        request,
        503,
        "Anmeldung im Moment nicht möglich",
        "Das kantonale Login ist im Moment nicht erreichbar. Bitte versuchen Sie es in"
        " einigen Minuten erneut.",
    )


@router.get("/anmelden", response_class=HTMLResponse)
async def sign_in_page(request: Request, abgemeldet: str = "") -> HTMLResponse:
    await page_caller(request)
    nonce = secrets.token_urlsafe(24) if getattr(request.app.state, "paste_sign_in", False) else ""
    response = _sign_in_page(request, nonce=nonce, signed_out=bool(abgemeldet))
    if nonce:
        _set_csrf_cookie(request, response, nonce)
    return response


@router.get("/anmelden/kantonal")
async def to_provider(request: Request) -> Response:
    """On to the identity provider's login (German), with state, nonce and PKCE."""
    party: oidc.RelyingParty | None = getattr(request.app.state, "relying_party", None)
    if party is None or "session" not in request.scope:
        return to_sign_in()
    try:
        return await party.authorize_redirect(request)
    except oidc.SignInUnavailableError as error:
        log.warning("identity provider unavailable", error=str(error))
        return _unavailable(request)


@router.get(CALLBACK_PATH)
async def provider_callback(request: Request) -> Response:
    party: oidc.RelyingParty | None = getattr(request.app.state, "relying_party", None)
    if party is None or "session" not in request.scope:
        return to_sign_in()
    try:
        signed_in = await party.complete(request)
        caller = await verify_in_thread(request, signed_in.access_token)
    except oidc.SignInRefusedError as error:
        log.info("sign-in callback refused", error=str(error))
        return _problem_page(
            request,
            400,
            "Anmeldung nicht abgeschlossen",
            "Diese Anmeldung wurde nicht auf dieser Seite begonnen, ist abgelaufen oder wurde"
            " bereits verwendet. Bitte melden Sie sich erneut an.",
        )
    except (oidc.SignInUnavailableError, UnavailableError) as error:
        log.warning("identity provider unavailable", error=str(error))
        return _unavailable(request)
    except AuthError as error:
        log.info("signed-in account refused", detail=str(error))
        return _problem_page(
            request,
            403,
            "Kein Zugang",
            "Ihr Konto ist keiner am IIZ beteiligten Institution mit einer gültigen Rolle"
            " zugeordnet. Bitte wenden Sie sich an die IIZ-Koordination Ihrer Institution.",
        )
    _start_session(request, caller, signed_in.id_token)
    log.info("signed in", institution=caller.institution, role=caller.role.value)
    return RedirectResponse(_landing(caller), status_code=303, headers=SECURITY_HEADERS)


@router.post("/abmelden")
async def sign_out(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Ends the session here and, when it began there, at the identity provider."""
    if "session" not in request.scope:
        return to_sign_in()
    expected = request.session.get("csrf")
    if isinstance(expected, str) and not secrets.compare_digest(
        expected.encode(), csrf_token.encode()
    ):
        await page_caller(request)
        return _problem_page(
            request,
            400,
            "Abmeldung nicht möglich",
            "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden"
            " Sie die Seite neu und melden Sie sich dann ab.",
        )
    id_token = oidc.end(request.session)
    party: oidc.RelyingParty | None = getattr(request.app.state, "relying_party", None)
    target = SIGNED_OUT_PATH
    if id_token and party is not None:
        target = await party.end_session_url(request, id_token) or target
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


# ---------------------------------------------------------------------------------------------
# Development only: a pasted token


@router.post("/anmelden", response_class=HTMLResponse)
async def paste_sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=4096)] = "",
    nonce: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check the pasted token (``IIZ_ENVIRONMENT=development`` only) and start a session."""
    if not getattr(request.app.state, "paste_sign_in", False) or "session" not in request.scope:
        return to_sign_in()
    await page_caller(request)
    expected = request.cookies.get(CSRF_COOKIE, "")
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 400).
    if not expected or not secrets.compare_digest(expected.encode(), nonce.encode()):
        return _sign_in_page(request, 400, nonce=expected, error="formular")
    try:
        caller = await verify_in_thread(request, token.strip())
    except (AuthError, UnavailableError):
        return _sign_in_page(request, 401, nonce=expected, error="token")
    _start_session(request, caller, None)
    target = "/ausschuss" if caller.role is Role.COMMITTEE else "/anmelden"
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


def _set_csrf_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        value,
        path="/anmelden",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )
