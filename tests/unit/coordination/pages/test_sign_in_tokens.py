"""The pages verify a token exactly as the API does: a token the API refuses (HS256 outside
development, a lifetime beyond the maximum, an unknown key) signs nobody in, neither pasted
into the sign-in form nor kept in the session cookie."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from schemas.registry import load_institutions
from services.coordination.api.auth import TokenVerifier, token_claims
from services.coordination.api.auth import mint_token as mint_development_token
from services.coordination.pages.routes import CSRF_COOKIE, TOKEN_COOKIE, register_pages
from services.coordination.pages.sign_in import install_sign_in
from services.coordination.settings import CoordinationSettings
from tests.tokens import identity_provider, jwks_url, mint_token

SETTINGS = CoordinationSettings(environment="development", coordination_jwks_url=jwks_url())
HOUR = dt.timedelta(hours=1)


def pages() -> FastAPI:
    """The pages alone, with what the API's lifespan would provide for signing in."""
    app = FastAPI()
    register_pages(app)
    install_sign_in(app, SETTINGS)
    app.state.api = SimpleNamespace(settings=SETTINGS)
    app.state.token_verifier = TokenVerifier(SETTINGS, load_institutions())
    return app


def development_token() -> str:
    development = SETTINGS.model_copy(update={"environment": "development"})
    return mint_development_token(development, "anna", "ksa", "committee", HOUR)


def too_long_token() -> str:
    claims = token_claims(SETTINGS, "anna", "ksa", "committee", HOUR)
    claims["exp"] = claims["iat"] + 13 * 3600
    return identity_provider().sign(claims)


def unknown_key_token() -> str:
    claims = token_claims(SETTINGS, "anna", "ksa", "committee", HOUR)
    return identity_provider().sign(claims, kid="not-in-the-set")


REFUSED = [
    pytest.param(development_token, id="HS256 in test"),
    pytest.param(too_long_token, id="lifetime beyond the maximum"),
    pytest.param(unknown_key_token, id="unknown kid"),
]


async def post_sign_in(app: FastAPI, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://coordination.test") as c:
        form = await c.get("/anmelden")
        nonce = form.cookies[CSRF_COOKIE]
        return await c.post("/anmelden", data={"token": token, "nonce": nonce})


async def test_a_token_of_the_identity_provider_signs_the_committee_in() -> None:
    token = mint_token(SETTINGS, "anna", "ksa", "committee", HOUR)

    answer = await post_sign_in(pages(), token)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/ausschuss"


@pytest.mark.parametrize("make_token", REFUSED)
async def test_a_token_the_api_refuses_is_refused_by_the_sign_in_form(
    make_token: Callable[[], str],
) -> None:
    answer = await post_sign_in(pages(), make_token())

    assert answer.status_code == 401
    assert TOKEN_COOKIE not in answer.cookies


@pytest.mark.parametrize("make_token", REFUSED)
async def test_a_token_the_api_refuses_in_the_session_cookie_is_sent_to_sign_in(
    make_token: Callable[[], str],
) -> None:
    transport = httpx.ASGITransport(app=pages())
    async with httpx.AsyncClient(transport=transport, base_url="http://coordination.test") as c:
        answer = await c.get("/ausschuss", headers={"Cookie": f"{TOKEN_COOKIE}={make_token()}"})

    assert answer.status_code == 303
    assert answer.headers["location"] == "/anmelden"
