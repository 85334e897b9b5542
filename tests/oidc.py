"""Tokens from the real local identity provider (the Keycloak of ``infra/local``), for tests.

Where it is: the ``IIZ_OIDC_ISSUER`` and ``IIZ_KEYCLOAK_CREDENTIALS_DIR`` that ``infra/local env``
prints (exported by the shell before pytest), else what ``infra/local env`` of this process's
instance says (the session started the infra itself). The session takes the identity
provider's variables out of ``os.environ`` when it starts (``take_provider_environment``, called
by tests/conftest.py): most tests sign their own tokens (tests/tokens.py) and build settings from
the environment, which must not point them at Keycloak. A test that wants Keycloak asks this
module (``coordination_overrides``, ``password_token`` ...).

The users' passwords and the clients' secrets are the files ``infra/local up`` generated
(``users/<name>.password``, ``clients/<id>.secret`` under the credentials folder).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.ops.credentials import read_secret
from services.ops.identity_files import client_secret_file, user_password_file
from services.ops.identity_realm import (
    AUDIENCE,
    FOREIGN_REALM,
    REALM,
    SHORT_LIVED_TESTS_CLIENT,
    TESTS_CLIENT,
    partner_client,
)
from simulator.credentials import local_environment

# What ``infra/local env`` prints for the identity provider.
PROVIDER_VARIABLES = (
    "IIZ_OIDC_ISSUER",
    "IIZ_KEYCLOAK_CREDENTIALS_DIR",
    "IIZ_COORDINATION_JWKS_URL",
    "IIZ_COORDINATION_JWT_ISSUER",
    "IIZ_COORDINATION_JWT_AUDIENCE",
    "IIZ_COORDINATION_OIDC_CLIENT_ID",
    "IIZ_COORDINATION_OIDC_CLIENT_SECRET",
    "IIZ_INTAKE_OIDC_CLIENT_ID",
    "IIZ_INTAKE_OIDC_CLIENT_SECRET",
)
_taken: dict[str, str] = {}


def take_provider_environment() -> None:
    """Move the identity provider's variables out of ``os.environ`` (kept here)."""
    for name in PROVIDER_VARIABLES:
        value = os.environ.pop(name, None)
        if value:
            _taken[name] = value


@dataclass(frozen=True)
class Provider:
    issuer: str
    credentials_dir: Path
    variables: dict[str, str]

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    def realm_issuer(self, realm: str) -> str:
        return self.issuer.removesuffix(f"/realms/{REALM}") + f"/realms/{realm}"


@functools.cache
def provider() -> Provider:
    values = dict(_taken) or {n: os.environ[n] for n in PROVIDER_VARIABLES if os.environ.get(n)}
    if "IIZ_OIDC_ISSUER" not in values:
        found = local_environment("admin")
        values = {n: found[n] for n in PROVIDER_VARIABLES if found.get(n)}
    if "IIZ_OIDC_ISSUER" not in values or "IIZ_KEYCLOAK_CREDENTIALS_DIR" not in values:
        raise RuntimeError(
            "no local identity provider: `infra/local env` names none (IIZ_KEYCLOAK=off?);"
            ' run `infra/local up` and export `eval "$(infra/local env)"` before pytest'
        )
    return Provider(values["IIZ_OIDC_ISSUER"], Path(values["IIZ_KEYCLOAK_CREDENTIALS_DIR"]), values)


def coordination_overrides() -> dict[str, Any]:
    """Settings of a coordination API that accepts the local provider's tokens."""
    found = provider()
    return {
        "coordination_jwks_url": found.jwks_url,
        "coordination_jwt_issuer": found.issuer,
        "coordination_jwt_audience": AUDIENCE,
    }


def _secret(path: Path) -> str:
    value = read_secret(path)
    if value is None:
        raise RuntimeError(f"{path} is missing or empty; `infra/local up` writes it")
    return value


def user_password(username: str) -> str:
    return _secret(user_password_file(provider().credentials_dir, username))


def client_secret(client_id: str) -> str:
    return _secret(client_secret_file(provider().credentials_dir, client_id))


def _token(realm: str, form: dict[str, str], client_id: str) -> str:
    url = f"{provider().realm_issuer(realm)}/protocol/openid-connect/token"
    answer = httpx.post(url, data=form, auth=(client_id, client_secret(client_id)), timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"the identity provider refused: {answer.status_code} {answer.text}")
    token = answer.json()["access_token"]
    assert isinstance(token, str)
    return token


def password_token(username: str, *, client_id: str = TESTS_CLIENT, realm: str = REALM) -> str:
    """An access token for ``username`` (password grant of the local-only test client)."""
    form = {"grant_type": "password", "username": username, "password": user_password(username)}
    return _token(realm, {**form, "scope": "openid"}, client_id)


def client_token(institution: str) -> str:
    """An access token of the institution's machine client (client credentials)."""
    return _token(REALM, {"grant_type": "client_credentials"}, partner_client(institution))


def short_lived_token(username: str) -> str:
    """An access token that expires one second after it was issued."""
    return password_token(username, client_id=SHORT_LIVED_TESTS_CLIENT)


def foreign_issuer_token(username: str = "koordination-rav") -> str:
    """A token of another realm of the same Keycloak: right audience, institution and role, but
    another issuer and another key."""
    return password_token(username, realm=FOREIGN_REALM)
