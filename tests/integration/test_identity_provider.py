"""The local identity provider (Keycloak of ``infra/local``) as the pages rely on it: the German
login for the callbacks on any loopback port, nothing else as a callback, and the discovery
document naming the issuer the API checks."""

from __future__ import annotations

import base64
import hashlib
import secrets

import httpx
import pytest

from services.ops.identity_realm import FORM_CALLBACK, FORM_CLIENT, PAGES_CALLBACK, PAGES_CLIENT
from tests.oidc import provider


def authorize(client_id: str, redirect_uri: str) -> httpx.Response:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {
        "client_id": client_id,
        "response_type": "code",
        "scope": "openid",
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        "ui_locales": "de",
    }
    url = f"{provider().issuer}/protocol/openid-connect/auth"
    return httpx.get(url, params=params, timeout=30)


def test_the_discovery_document_names_the_issuer_the_api_checks() -> None:
    found = provider()
    document = httpx.get(f"{found.issuer}/.well-known/openid-configuration", timeout=30).json()

    assert document["issuer"] == found.issuer
    assert document["jwks_uri"] == found.jwks_url
    assert "S256" in document["code_challenge_methods_supported"]


@pytest.mark.parametrize(
    ("client_id", "callback"), [(PAGES_CLIENT, PAGES_CALLBACK), (FORM_CLIENT, FORM_CALLBACK)]
)
@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:45678", "http://localhost:8123", "http://127.0.0.1:8082"]
)
def test_the_login_is_german_for_the_callback_on_any_loopback_port(
    client_id: str, callback: str, origin: str
) -> None:
    answer = authorize(client_id, f"{origin}{callback}")

    assert answer.status_code == 200, answer.text[:500]
    assert 'id="kc-form-login"' in answer.text
    assert "Anmelden" in answer.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:45678/anmelden/rueckruf/weiter",  # another path
        "http://127.0.0.1:45678/formular/anmelden/rueckruf",  # the other client's callback
        "http://evil.example:45678/anmelden/rueckruf",  # another host
        "https://127.0.0.1.evil.example/anmelden/rueckruf",
    ],
)
def test_no_other_callback_is_accepted(redirect_uri: str) -> None:
    answer = authorize(PAGES_CLIENT, redirect_uri)

    assert answer.status_code == 400
    assert "redirect_uri" in answer.text
