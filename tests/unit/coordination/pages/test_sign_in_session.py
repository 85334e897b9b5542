"""The pages' session: the pasted-token form only in development, the session cookie's flags,
a sign-out that needs the session's CSRF token, the identity provider down (a German 503, never
a crash) and a callback that this browser did not start (a German 400), and production refusing
to start without the provider's settings."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import socket
import time
from types import SimpleNamespace
from typing import Any

import httpx
import itsdangerous
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from schemas.registry import load_institutions
from services.coordination.api.auth import TokenVerifier
from services.coordination.pages.routes import CSRF_COOKIE, register_pages
from services.coordination.pages.sign_in import SESSION_COOKIE, install_sign_in, page_caller
from services.coordination.settings import DEVELOPMENT_SESSION_SECRET, CoordinationSettings
from tests.tokens import jwks_url, mint_token

BASE = "http://127.0.0.1:8082"


def closed_port() -> int:
    """A loopback port nobody listens on (the identity provider is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pages(environment: str = "development", **settings: Any) -> FastAPI:
    config = CoordinationSettings(
        environment=environment,  # type: ignore[arg-type]
        coordination_jwks_url=jwks_url(),
        **settings,
    )
    app = FastAPI()
    register_pages(app)
    install_sign_in(app, config)
    app.state.api = SimpleNamespace(settings=config)
    app.state.token_verifier = TokenVerifier(config, load_institutions())
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def paste_sign_in(c: httpx.AsyncClient, app: FastAPI) -> httpx.Response:
    settings = app.state.api.settings
    token = mint_token(settings, "anna", "rav", "coordinator", dt.timedelta(hours=1))
    form = await c.get("/anmelden")
    return await c.post("/anmelden", data={"token": token, "nonce": form.cookies[CSRF_COOKIE]})


def provider_down() -> dict[str, Any]:
    return {
        "oidc_issuer": f"http://127.0.0.1:{closed_port()}/realms/iiz-bl",
        "coordination_oidc_client_secret": SecretStr("secret"),
    }


async def test_outside_development_there_is_no_form_for_a_pasted_token() -> None:
    app = pages("test")
    async with client(app) as c:
        form = await c.get("/anmelden")
        posted = await c.post("/anmelden", data={"token": "x", "nonce": "y"})

    assert 'id="token"' not in form.text
    assert CSRF_COOKIE not in form.cookies
    assert (posted.status_code, posted.headers["location"]) == (303, "/anmelden")
    assert SESSION_COOKIE not in posted.cookies


async def test_the_session_cookie_is_httponly_and_samesite_lax() -> None:
    app = pages()
    async with client(app) as c:
        answer = await paste_sign_in(c, app)

    [cookie] = [h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)]
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= flags


async def test_signing_out_needs_the_sessions_csrf_token() -> None:
    app = pages()
    async with client(app) as c:
        await paste_sign_in(c, app)
        page = await c.get("/anmelden")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        forged = await c.post("/abmelden", data={"csrf_token": "not-the-token"})
        still = await c.get("/anmelden")
        signed_out = await c.post("/abmelden", data={"csrf_token": csrf.group(1)})
        after = await c.get("/anmelden")

    assert forged.status_code == 400
    assert "Abmeldung nicht möglich" in forged.text
    assert "Sie sind angemeldet als" in still.text
    assert (signed_out.status_code, signed_out.headers["location"]) == (
        303,
        "/anmelden?abgemeldet=1",
    )
    assert "Sie sind angemeldet als" not in after.text


async def test_the_identity_provider_down_gives_a_german_503_page_not_a_crash() -> None:
    app = pages(**provider_down())
    async with client(app) as c:
        page = await c.get("/anmelden")
        answer = await c.get("/anmelden/kantonal")

    assert "Anmelden über das kantonale Login" in page.text
    assert answer.status_code == 503
    assert "Das kantonale Login ist im Moment nicht erreichbar" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "query",
    ["state=forged&code=abc", "code=abc", "error=access_denied&state=forged"],
)
async def test_a_callback_this_browser_did_not_start_is_refused_400_in_german(query: str) -> None:
    app = pages(**provider_down())  # refused before the provider is even asked
    async with client(app) as c:
        answer = await c.get(f"/anmelden/rueckruf?{query}")

    assert answer.status_code == 400
    assert "Anmeldung nicht abgeschlossen" in answer.text
    assert SESSION_COOKIE not in answer.cookies


PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "oidc_issuer": "https://login.example.org/realms/iiz-bl",
    "coordination_oidc_client_secret": SecretStr("client-secret"),
    "coordination_session_secret": SecretStr("a-real-session-secret-of-32-characters-or-more"),
}


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ({"oidc_issuer": None}, "IIZ_OIDC_ISSUER and IIZ_COORDINATION_OIDC_CLIENT_SECRET"),
        ({"coordination_oidc_client_secret": None}, "IIZ_COORDINATION_OIDC_CLIENT_SECRET"),
        ({"coordination_session_secret": SecretStr("short")}, "IIZ_COORDINATION_SESSION_SECRET"),
    ],
)
def test_production_refuses_to_start_without_the_providers_settings(
    missing: dict[str, Any], message: str
) -> None:
    settings = CoordinationSettings.model_construct(**{**PRODUCTION, **missing})

    with pytest.raises(ValueError, match=message):
        install_sign_in(FastAPI(), settings)


def test_production_with_the_providers_settings_starts() -> None:
    app = FastAPI()
    install_sign_in(app, CoordinationSettings.model_construct(**PRODUCTION))

    assert app.state.relying_party is not None
    assert app.state.paste_sign_in is False


def forged_session_cookie(secret: str) -> str:
    """A session cookie as Starlette signs it, naming an institution the bearer chose."""
    now = time.time()
    data = {
        "anmeldung": {
            "who": {"user": "mallory", "institution": "rav", "role": "coordinator"},
            "id_token": None,
            "since": now,
            "seen": now,
        },
        "csrf": "chosen",
    }
    payload = base64.b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


@pytest.mark.parametrize(("environment", "accepted"), [("development", True), ("test", False)])
async def test_the_public_development_secret_signs_sessions_only_in_development(
    environment: str, accepted: bool
) -> None:
    """The development secret is in the repository: outside development a cookie signed with it
    is nobody's session, even with the provider configured and no secret set."""
    app = pages(environment, **provider_down())
    cookie = forged_session_cookie(DEVELOPMENT_SESSION_SECRET)

    @app.get("/wer")
    async def who(request: Request) -> dict[str, str | None]:
        caller = await page_caller(request)
        return {"actor": None if caller is None else caller.actor}

    async with client(app) as c:
        answer = await c.get("/wer", cookies={SESSION_COOKIE: cookie})

    assert answer.json()["actor"] == ("rav/coordinator/mallory" if accepted else None)
