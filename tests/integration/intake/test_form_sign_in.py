"""Signing in to the web form through the real local Keycloak (client iiz-formular): the
``institution`` claim names the municipality; institutions that are no social service get the
form's German refusal; signing out ends Keycloak's session too. The access key stays the other
way in (test_web_form.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr

from services.intake.http_door.app import create_http_app
from services.intake.settings import IntakeSettings
from tests.oidc_login import KeycloakBrowser, oidc_environment, path_and_query, user_password

pytestmark = pytest.mark.integration
BASE = "http://127.0.0.1:8081"  # Keycloak accepts callbacks on loopback hosts, any port


@pytest.fixture
async def form(intake_settings: IntakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    env = oidc_environment()
    settings = intake_settings.model_copy(
        update={
            "oidc_issuer": env["IIZ_OIDC_ISSUER"],
            "intake_oidc_client_secret": SecretStr(env["IIZ_INTAKE_OIDC_CLIENT_SECRET"]),
        }
    )
    app = create_http_app(settings)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield client


@pytest.fixture
async def keycloak() -> AsyncIterator[KeycloakBrowser]:
    async with KeycloakBrowser() as browser:
        yield browser


async def sign_in(
    form: httpx.AsyncClient, keycloak: KeycloakBrowser, username: str
) -> httpx.Response:
    page = await form.get("/formular/anmelden")
    assert "Anmelden über das kantonale Login" in page.text
    to_provider = await form.get("/formular/anmelden/kantonal")
    assert to_provider.status_code == 303
    query = parse_qs(urlsplit(to_provider.headers["location"]).query)
    assert query["client_id"] == ["iiz-formular"]
    assert query["code_challenge_method"] == ["S256"]
    back = await keycloak.sign_in(
        to_provider.headers["location"], username, user_password(username)
    )
    return await form.get(back)


async def test_a_municipalitys_coordinator_signs_in_and_submits_for_that_municipality(
    form: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    landed = await sign_in(form, keycloak, "koordination-sozialhilfe-2829")

    assert (landed.status_code, landed.headers["location"]) == (303, "/formular")
    cookie = landed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    overview = await form.get("/formular")
    assert overview.status_code == 200
    assert "Sozialdienst Liestal" in overview.text
    assert (await form.get("/formular/erstgespraech")).status_code == 200


async def test_an_institution_that_is_no_social_service_gets_the_forms_refusal(
    form: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    answer = await sign_in(form, keycloak, "koordination-rav")

    assert answer.status_code == 403
    assert "steht nur den Sozialdiensten der Gemeinden offen" in answer.text
    assert (await form.get("/formular")).status_code == 303


async def test_an_account_without_an_institution_is_refused(
    form: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    answer = await sign_in(form, keycloak, "ohne-institution")

    assert answer.status_code == 403
    assert "keiner Gemeinde zugeordnet" in answer.text


async def test_a_forged_callback_is_refused_400_in_german(form: httpx.AsyncClient) -> None:
    answer = await form.get("/formular/anmelden/rueckruf?state=forged&code=abc")

    assert answer.status_code == 400
    assert "Anmeldung nicht abgeschlossen" in answer.text


async def test_signing_out_ends_the_session_here_and_at_keycloak(
    form: httpx.AsyncClient, keycloak: KeycloakBrowser
) -> None:
    await sign_in(form, keycloak, "koordination-sozialhilfe-2829")

    overview = await form.get("/formular")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', overview.text)
    assert csrf is not None
    signed_out = await form.post("/formular/abmelden", data={"csrf_token": csrf.group(1)})
    assert signed_out.status_code == 303
    assert "/protocol/openid-connect/logout?" in signed_out.headers["location"]
    back = await keycloak.get(signed_out.headers["location"])
    after = await form.get(path_and_query(back.headers["location"]))

    assert "Sie sind abgemeldet." in after.text
    assert (await form.get("/formular")).status_code == 303
    again = await form.get("/formular/anmelden/kantonal")
    assert 'id="kc-form-login"' in await keycloak.login_form(again.headers["location"])
