"""Signing in to the German pages through the real local Keycloak (realm iiz-bl, client
iiz-seiten): authorization code + PKCE, the ID token checked, the access token verified by the
API's TokenVerifier; a replayed callback refused; sign-out ending Keycloak's session too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from services.coordination.api.app import create_api
from services.coordination.pages.sign_in import SESSION_COOKIE
from services.coordination.settings import CoordinationSettings
from tests.oidc_login import KeycloakBrowser, oidc_environment, path_and_query, user_password

pytestmark = pytest.mark.integration
BASE = "http://127.0.0.1:8082"  # Keycloak accepts callbacks on loopback hosts, any port


def provider_settings() -> CoordinationSettings:
    env = oidc_environment()
    issuer = env["IIZ_OIDC_ISSUER"]
    return CoordinationSettings(
        environment="test",
        oidc_issuer=issuer,
        coordination_oidc_client_secret=SecretStr(env["IIZ_COORDINATION_OIDC_CLIENT_SECRET"]),
        coordination_jwks_url=f"{issuer}/protocol/openid-connect/certs",
        coordination_jwt_issuer=issuer,
        coordination_jwt_audience="iiz-timeline-api",
    )


@pytest.fixture
async def pages() -> AsyncIterator[httpx.AsyncClient]:
    """The coordination app (its sign-in needs no database) and a browser's cookie jar for it."""
    app = create_api(provider_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def keycloak() -> AsyncIterator[KeycloakBrowser]:
    async with KeycloakBrowser() as browser:
        yield browser


async def sign_in(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser, username: str
) -> tuple[str, httpx.Response]:
    """The whole code flow; Keycloak's redirect back and the app's answer to it."""
    to_provider = await pages.get("/anmelden/kantonal")
    assert to_provider.status_code == 303
    back = await keycloak.sign_in(
        to_provider.headers["location"], username, user_password(username)
    )
    return back, await pages.get(back)


async def test_the_authorization_request_uses_pkce_s256_state_nonce_and_german(
    pages: httpx.AsyncClient,
) -> None:
    to_provider = await pages.get("/anmelden/kantonal")

    url = urlsplit(to_provider.headers["location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}".startswith(
        oidc_environment()["IIZ_OIDC_ISSUER"]
    )
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"]
    assert query["nonce"]
    assert query["ui_locales"] == "de"
    assert query["redirect_uri"] == f"{BASE}/anmelden/rueckruf"
    assert query["client_id"] == "iiz-seiten"


async def test_a_coordinator_signs_in_through_keycloak_and_lands_on_the_worklist(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    _, landed = await sign_in(pages, keycloak, "koordination-rav")

    assert (landed.status_code, landed.headers["location"]) == (303, "/faelle")
    cookie = next(h for h in landed.headers.get_list("set-cookie") if SESSION_COOKIE in h)
    assert "samesite=lax" in cookie.lower()
    assert "httponly" in cookie.lower()
    page = await pages.get("/anmelden")
    assert "angemeldet als <strong>koordination-rav</strong>" in page.text  # preferred_username
    assert ">RAV</span>, Koordination)" in page.text


async def test_the_committee_lands_on_its_dashboard(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    _, landed = await sign_in(pages, keycloak, "ausschuss")

    assert (landed.status_code, landed.headers["location"]) == (303, "/ausschuss")


async def test_a_replayed_callback_is_refused_400_in_german(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    back, landed = await sign_in(pages, keycloak, "koordination-rav")
    assert landed.status_code == 303

    replayed = await pages.get(back)

    assert replayed.status_code == 400
    assert "Anmeldung nicht abgeschlossen" in replayed.text


async def test_a_callback_with_a_stolen_code_in_another_browser_is_refused(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    to_provider = await pages.get("/anmelden/kantonal")
    back = await keycloak.sign_in(
        to_provider.headers["location"], "koordination-rav", user_password("koordination-rav")
    )
    pages.cookies.clear()  # an attacker's browser: not the session that started the sign-in

    answer = await pages.get(back)

    assert answer.status_code == 400


async def test_an_account_without_an_institution_gets_a_german_refusal(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    _, answer = await sign_in(pages, keycloak, "ohne-institution")

    assert answer.status_code == 403
    assert "keiner am IIZ beteiligten Institution" in answer.text
    assert "Sie sind angemeldet als" not in (await pages.get("/anmelden")).text


async def test_signing_out_ends_the_session_here_and_at_keycloak(
    pages: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    await sign_in(pages, keycloak, "koordination-rav")
    page = await pages.get("/anmelden")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None

    signed_out = await pages.post("/abmelden", data={"csrf_token": csrf.group(1)})
    end_session = urlsplit(signed_out.headers["location"])
    query = parse_qs(end_session.query)
    assert end_session.path.endswith("/protocol/openid-connect/logout")
    assert query["id_token_hint"]
    assert query["post_logout_redirect_uri"] == [f"{BASE}/anmelden?abgemeldet=1"]
    back = await keycloak.get(signed_out.headers["location"])
    assert back.status_code == 302
    assert path_and_query(back.headers["location"]).startswith("/anmelden?abgemeldet=1")

    after = await pages.get("/anmelden?abgemeldet=1")
    assert "Sie sind abgemeldet." in after.text
    again = await pages.get("/anmelden/kantonal")
    # Keycloak's session has ended: its login form again, no silent sign-in with a code.
    assert 'id="kc-form-login"' in await keycloak.login_form(again.headers["location"])
