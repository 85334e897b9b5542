"""An access token from the local identity provider, for scripts and the demo: the password
grant of the local-only client ``iiz-tests`` with a user's generated password.

    python -m services.ops identity token <username>     # prints the access token

Where the provider and the files are: ``IIZ_OIDC_ISSUER`` and ``IIZ_KEYCLOAK_CREDENTIALS_DIR``
(``eval "$(infra/local env)"``). A deployment's provider has no such client: there, tokens come
from the sign-in (people) or from client credentials (partners' machines).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from services.ops.credentials import read_secret
from services.ops.identity_files import client_secret_file, user_password_file
from services.ops.identity_realm import TESTS_CLIENT


class NoLocalProviderError(RuntimeError):
    """The local provider is not configured, or a file it needs is missing."""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise NoLocalProviderError(f'{name} is not set: eval "$(infra/local env)" first')
    return value


def _file(path: Path) -> str:
    value = read_secret(path)
    if value is None:
        raise NoLocalProviderError(f"{path} is missing; `infra/local up` writes it")
    return value


def local_access_token(username: str, *, client_id: str = TESTS_CLIENT) -> str:
    """``username``'s access token from the local Keycloak (password grant)."""
    issuer = _required("IIZ_OIDC_ISSUER")
    folder = Path(_required("IIZ_KEYCLOAK_CREDENTIALS_DIR"))
    form = {
        "grant_type": "password",
        "username": username,
        "password": _file(user_password_file(folder, username)),
        "scope": "openid",
    }
    answer = httpx.post(
        f"{issuer}/protocol/openid-connect/token",
        data=form,
        auth=(client_id, _file(client_secret_file(folder, client_id))),
        timeout=30,
    )
    if answer.status_code != 200:
        raise NoLocalProviderError(
            f"the identity provider refused {username!r}: {answer.status_code} {answer.text[:200]}"
        )
    token = answer.json().get("access_token")
    if not isinstance(token, str):
        raise NoLocalProviderError("the identity provider's answer has no access_token")
    return token
