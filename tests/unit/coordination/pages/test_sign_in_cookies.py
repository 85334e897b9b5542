"""The sign-in cookies carry Secure as ``coordination_cookie_secure`` says; unset, they follow
the request's scheme (behind a proxy that terminates TLS the app sees http and must be told)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from schemas.registry import load_institutions
from services.coordination.api.auth import TokenVerifier
from services.coordination.pages.routes import CSRF_COOKIE, TOKEN_COOKIE, register_pages
from services.coordination.pages.sign_in import install_sign_in
from services.coordination.settings import CoordinationSettings
from tests.tokens import jwks_url, mint_token


def pages(secure: bool | None) -> FastAPI:
    """The pages alone, with what the API's lifespan would provide for signing in."""
    settings = CoordinationSettings(
        environment="development",
        coordination_cookie_secure=secure,
        coordination_jwks_url=jwks_url(),
    )
    app = FastAPI()
    register_pages(app)
    install_sign_in(app, settings)
    app.state.api = SimpleNamespace(settings=settings)
    app.state.token_verifier = TokenVerifier(settings, load_institutions())
    return app


async def sign_in(app: FastAPI, base_url: str) -> dict[str, str]:
    """Open the form and sign in with a valid token; each cookie's Set-Cookie header."""
    settings = app.state.api.settings
    token = mint_token(settings, "anna", "rav", "coordinator", dt.timedelta(hours=1))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
        form = await client.get("/anmelden")
        nonce = form.cookies[CSRF_COOKIE]
        client.cookies.clear()  # the browser speaks https to the proxy; httpx here speaks http
        answer = await client.post(
            "/anmelden",
            data={"token": token, "nonce": nonce},
            headers={"Cookie": f"{CSRF_COOKIE}={nonce}"},
        )
    assert answer.status_code == 303
    headers = [*form.headers.get_list("set-cookie"), *answer.headers.get_list("set-cookie")]
    return {header.split("=", 1)[0]: header for header in headers}


def is_secure(set_cookie: str) -> bool:
    return "secure" in {part.strip().lower() for part in set_cookie.split(";")}


async def test_forced_secure_cookies_carry_secure_although_the_app_sees_http() -> None:
    cookies = await sign_in(pages(secure=True), "http://coordination.test")

    assert is_secure(cookies[CSRF_COOKIE])
    assert is_secure(cookies[TOKEN_COOKIE])


async def test_unset_the_cookies_follow_the_requests_scheme() -> None:
    over_http = await sign_in(pages(secure=None), "http://coordination.test")
    over_https = await sign_in(pages(secure=None), "https://coordination.test")

    assert not is_secure(over_http[TOKEN_COOKIE])
    assert is_secure(over_https[TOKEN_COOKIE])


async def test_forced_off_the_cookies_lack_secure_even_over_https() -> None:
    cookies = await sign_in(pages(secure=False), "https://coordination.test")

    assert not is_secure(cookies[CSRF_COOKIE])
    assert not is_secure(cookies[TOKEN_COOKIE])
