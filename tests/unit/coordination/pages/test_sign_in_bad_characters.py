"""The sign-in form answers text it cannot use (a NUL character, a non-ASCII nonce) with the
form again and a 4xx, never a 500."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from schemas.registry import load_institutions
from services.coordination.api.auth import TokenVerifier
from services.coordination.pages.routes import CSRF_COOKIE, register_pages
from services.coordination.pages.sign_in import install_sign_in
from services.coordination.settings import CoordinationSettings
from tests.tokens import jwks_url, mint_token


def pages() -> FastAPI:
    """The pages alone, with what the API's lifespan would provide for signing in."""
    settings = CoordinationSettings(environment="development", coordination_jwks_url=jwks_url())
    app = FastAPI()
    register_pages(app)
    install_sign_in(app, settings)
    app.state.api = SimpleNamespace(settings=settings)
    app.state.token_verifier = TokenVerifier(settings, load_institutions())
    return app


async def post_sign_in(app: FastAPI, token: str, nonce: str | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://coordination.test") as c:
        form = await c.get("/anmelden")
        expected = form.cookies[CSRF_COOKIE]
        c.cookies.clear()
        return await c.post(
            "/anmelden",
            data={"token": token, "nonce": expected if nonce is None else nonce},
            headers={"Cookie": f"{CSRF_COOKIE}={expected}"},
        )


async def test_a_pasted_token_with_a_nul_character_is_refused_401_on_the_sign_in_page() -> None:
    app = pages()
    token = mint_token(app.state.api.settings, "anna", "rav", "coordinator", dt.timedelta(hours=1))

    response = await post_sign_in(app, token + "\x00")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")


async def test_a_nonce_with_a_nul_or_a_non_ascii_character_is_refused_400_not_500() -> None:
    app = pages()
    token = mint_token(app.state.api.settings, "anna", "rav", "coordinator", dt.timedelta(hours=1))

    with_nul = await post_sign_in(app, token, nonce="abc\x00")
    with_umlaut = await post_sign_in(app, token, nonce="Grüezi")

    assert with_nul.status_code == 400
    assert with_umlaut.status_code == 400
