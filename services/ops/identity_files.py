"""The local identity provider's files in a state folder: generated secrets and the realm JSON.

``<credentials>/users/<username>.password`` and ``<credentials>/clients/<client>.secret`` (0600,
the folders 0700) are made once and kept; ``admin.password`` is Keycloak's bootstrap
administrator (master realm). ``write_import`` writes the realms (``identity_realm``) for
Keycloak's ``--import-realm``; the JSON holds the secrets, so it is 0600 too.

    python -m services.ops identity realm --credentials-dir DIR --import-dir DIR
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.registry.institutions import InstitutionRegistry
from services.ops.credentials import new_password, read_secret, write_private
from services.ops.identity_realm import (
    FOREIGN_REALM,
    REALM,
    RealmSecrets,
    client_ids,
    foreign_realm_document,
    realm_document,
    usernames,
)

ADMIN_PASSWORD_FILE = "admin.password"  # noqa: S105 (a file name)


def user_password_file(directory: Path, username: str) -> Path:
    return directory / "users" / f"{username}.password"


def client_secret_file(directory: Path, client_id: str) -> Path:
    return directory / "clients" / f"{client_id}.secret"


def _ensure(path: Path) -> str:
    existing = read_secret(path)
    if existing is not None:
        return existing
    value = new_password()
    write_private(path, f"{value}\n")
    return value


def ensure_secrets(directory: Path, registry: InstitutionRegistry) -> RealmSecrets:
    """Every user's password and client's secret: an existing file is kept, a missing one made."""
    _ensure(directory / ADMIN_PASSWORD_FILE)
    return RealmSecrets(
        client_secrets={c: _ensure(client_secret_file(directory, c)) for c in client_ids(registry)},
        passwords={u: _ensure(user_password_file(directory, u)) for u in usernames(registry)},
    )


def write_import(
    import_dir: Path, registry: InstitutionRegistry, secrets: RealmSecrets
) -> list[Path]:
    """The realm files Keycloak imports at start (``<realm>-realm.json``, 0600)."""
    documents = {
        REALM: realm_document(registry, secrets),
        FOREIGN_REALM: foreign_realm_document(registry, secrets),
    }
    return [
        write_private(import_dir / f"{name}-realm.json", json.dumps(doc, indent=1) + "\n")
        for name, doc in documents.items()
    ]
