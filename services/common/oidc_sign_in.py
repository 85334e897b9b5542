"""Signing staff in through the canton's OpenID Connect provider: the relying party that
coordination's German pages and intake's web form share.

The flow is the authorization code flow with PKCE (S256), ``state`` and ``nonce``, done by
Authlib's Starlette client: the provider is found through its discovery document
(``<issuer>/.well-known/openid-configuration``, whose ``issuer`` must be the configured one),
the callback's ``state`` must be one this browser's session started (else the callback is
refused: replayed or forged), and the ID token's signature (the provider's JWKS), issuer,
audience, expiry and nonce are checked before anyone counts as signed in. Sign-out clears the
local session and sends the browser to the provider's ``end_session_endpoint`` with
``id_token_hint`` and ``post_logout_redirect_uri``, so the provider's session ends too.

The session (Starlette's signed cookie, ``SessionCookies``) holds only what is needed: who is
signed in (what each app takes from the tokens), the ID token for the sign-out, and when the
session began and was last used; ``current`` ends it after the idle timeout or the absolute
lifetime. The cookie is HttpOnly and SameSite=Lax (the browser must send it on the redirect
back from the provider, a cross-site navigation); the apps protect every POST with a CSRF token.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import OAuthError
from joserfc.errors import JoseError
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

with warnings.catch_warnings():
    # Authlib 1.9 warns on import that it would rather use the "httpx2" fork; the project keeps
    # one HTTP client (httpx), which Authlib still supports. Filtered here, at the one import.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App

log = structlog.get_logger("oidc_sign_in")

PROVIDER_TIMEOUT_SECONDS = 5.0
SESSION_KEY = "anmeldung"  # the signed-in person's part of the session
ID_TOKEN_LEEWAY_SECONDS = 60


class SignInUnavailableError(Exception):
    """The identity provider cannot be reached or answers nonsense: a 503 page, not a crash."""


class SignInRefusedError(Exception):
    """The callback is not the answer to a sign-in this browser started (state missing or
    unknown: replayed, forged, or the session expired meanwhile), or the provider refused
    (``error=…``, an invalid code, an invalid ID token): a 400 page."""


@dataclass(frozen=True)
class SignedIn:
    """A completed sign-in: the tokens and the verified ID token's claims."""

    id_token: str
    access_token: str
    claims: dict[str, Any]


@dataclass(frozen=True)
class ProviderSettings:
    issuer: str
    client_id: str
    client_secret: str
    callback_path: str  # e.g. /anmelden/rueckruf, on the host the browser used
    post_logout_path: str  # where the provider sends the browser after the sign-out


class RelyingParty:
    """One client of the identity provider (one per app: its own client id and callback)."""

    def __init__(self, provider: ProviderSettings) -> None:
        self.provider = provider
        issuer = provider.issuer.rstrip("/")
        oauth = OAuth()
        client = oauth.register(
            name=provider.client_id,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={
                "scope": "openid",
                "code_challenge_method": "S256",
                "timeout": PROVIDER_TIMEOUT_SECONDS,
            },
        )
        assert isinstance(client, StarletteOAuth2App)
        self._client = client

    @property
    def provider_origin(self) -> str:
        """scheme://host[:port] of the provider (pages' CSP must let forms go there)."""
        parts = urlsplit(self.provider.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    async def _metadata(self) -> dict[str, Any]:
        try:
            metadata: dict[str, Any] = await self._client.load_server_metadata()
        except (httpx.HTTPError, ValueError) as error:
            raise SignInUnavailableError(f"discovery failed: {error!r}") from error
        if metadata.get("issuer") != self.provider.issuer:
            self._client.server_metadata = {}  # try again next time, maybe a transient proxy
            raise SignInUnavailableError("the discovery document names another issuer")
        return metadata

    async def authorize_redirect(self, request: Request) -> RedirectResponse:
        """To the provider's login (German), remembering state, nonce and the PKCE verifier
        in this browser's session."""
        await self._metadata()
        callback = _url_on_this_host(request, self.provider.callback_path)
        try:
            response = await self._client.authorize_redirect(request, callback, ui_locales="de")
        except (httpx.HTTPError, OAuthError) as error:
            raise SignInUnavailableError(f"authorize redirect failed: {error!r}") from error
        return RedirectResponse(response.headers["location"], status_code=303)

    async def complete(self, request: Request) -> SignedIn:
        """The callback: state checked, code exchanged (with the verifier), ID token checked.
        The state first: a replayed or forged callback is refused even while the provider is
        down."""
        state = request.query_params.get("state")
        framework = self._client.framework
        if not state or not await framework.get_state_data(request.session, state):
            raise SignInRefusedError("the callback's state is not one this session started")
        await self._metadata()
        try:
            token = await self._client.authorize_access_token(
                request, leeway=ID_TOKEN_LEEWAY_SECONDS
            )
        except httpx.HTTPError as error:
            raise SignInUnavailableError(f"token exchange failed: {error!r}") from error
        except (OAuthError, JoseError, ValueError, KeyError) as error:
            # MismatchingStateError is an OAuthError; the code, a wrong nonce or signature too.
            raise SignInRefusedError(f"callback refused: {error!r}") from error
        id_token, access_token = token.get("id_token"), token.get("access_token")
        claims = token.get("userinfo")
        if not isinstance(id_token, str) or not isinstance(access_token, str) or claims is None:
            raise SignInRefusedError("the provider sent no ID token")
        return SignedIn(id_token=id_token, access_token=access_token, claims=dict(claims))

    async def end_session_url(self, request: Request, id_token: str) -> str | None:
        """The provider's sign-out with ``id_token_hint`` and the way back; None when the
        provider cannot be reached (the local session has ended all the same)."""
        try:
            metadata = await self._metadata()
        except SignInUnavailableError:
            return None
        if not metadata.get("end_session_endpoint"):
            return None
        found = await self._client.create_logout_url(
            post_logout_redirect_uri=_url_on_this_host(request, self.provider.post_logout_path),
            id_token_hint=id_token,
            client_id=self.provider.client_id,
            ui_locales="de",
        )
        url: str = found["url"]
        return url


def _url_on_this_host(request: Request, path: str) -> str:
    return str(request.base_url.replace(query=None, fragment=None)).rstrip("/") + path


# ---------------------------------------------------------------------------------------------
# The session


@dataclass(frozen=True)
class SessionTimes:
    idle: dt.timedelta
    absolute: dt.timedelta


def begin(session: dict[str, Any], who: dict[str, Any], id_token: str | None) -> None:
    """A new session for ``who`` (anything a previous one held, e.g. Authlib's state, goes)."""
    now = time.time()
    session.clear()
    session[SESSION_KEY] = {"who": who, "id_token": id_token, "since": now, "seen": now}


def current(session: dict[str, Any], times: SessionTimes) -> dict[str, Any] | None:
    """Who is signed in, or None (and the session emptied) when idle or too old."""
    found = session.get(SESSION_KEY)
    if not isinstance(found, dict):
        return None
    now = time.time()
    since, seen = found.get("since"), found.get("seen")
    if (
        not isinstance(since, int | float)
        or not isinstance(seen, int | float)
        or now - since > times.absolute.total_seconds()
        or now - seen > times.idle.total_seconds()
    ):
        session.clear()
        return None
    if now - seen >= 30:  # not on every request: each change writes the cookie again
        session[SESSION_KEY] = {**found, "seen": now}
    who = found.get("who")
    return who if isinstance(who, dict) else None


def end(session: dict[str, Any]) -> str | None:
    """Empty the session; the ID token it held (for the provider's sign-out), if any."""
    found = session.get(SESSION_KEY)
    session.clear()
    id_token = found.get("id_token") if isinstance(found, dict) else None
    return id_token if isinstance(id_token, str) else None


class SessionCookies:
    """Starlette's signed session cookie (HttpOnly, SameSite=Lax), Secure as ``secure(scope)``
    decides per request (e.g. when it came over https): one ``SessionMiddleware`` each way."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str,
        cookie: str,
        path: str,
        max_age: int,
        secure: Callable[[Scope], bool],
        same_site: Literal["lax", "strict"] = "lax",
    ) -> None:
        common: dict[str, Any] = {
            "secret_key": secret_key,
            "session_cookie": cookie,
            "max_age": max_age,
            "path": path,
            "same_site": same_site,
        }
        self._plain = SessionMiddleware(app, https_only=False, **common)
        self._secure = SessionMiddleware(app, https_only=True, **common)
        self._is_secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = scope["type"] in ("http", "websocket")
        chosen = self._secure if http and self._is_secure(scope) else self._plain
        await chosen(scope, receive, send)


def over_https(scope: Scope) -> bool:
    return bool(scope.get("scheme") in ("https", "wss"))


def session_signing_secret(configured: str, development_default: str, environment: str) -> str:
    """The key that signs a session cookie. The development default is public (it is in the
    repository), so it signs only in development; anywhere else without a configured secret
    (production refuses to start without one) each process signs with a random key of its own:
    a forged cookie never passes, and sessions end when the process restarts."""
    if configured != development_default or environment == "development":
        return configured
    log.warning(
        "no session secret configured: sessions are signed with a key of this process only",
        environment=environment,
    )
    return secrets.token_urlsafe(32)
