"""The local identity provider's realm, generated from the registry (no Keycloak needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from schemas.registry.institutions import load_institutions
from services.coordination.reading.caller import Role
from services.ops.identity_files import (
    client_secret_file,
    ensure_secrets,
    user_password_file,
    write_import,
)
from services.ops.identity_realm import (
    AUDIENCE,
    ROLES,
    RealmSecrets,
    client_ids,
    foreign_realm_document,
    realm_document,
    usernames,
)

REGISTRY = load_institutions()
SECRETS = RealmSecrets(
    client_secrets={c: f"secret-of-{c}" for c in client_ids(REGISTRY)},
    passwords={u: f"password-of-{u}" for u in usernames(REGISTRY)},
)
REALM = realm_document(REGISTRY, SECRETS)


def client(client_id: str, realm: dict[str, Any] = REALM) -> dict[str, Any]:
    return next(c for c in realm["clients"] if c["clientId"] == client_id)


def user(username: str, realm: dict[str, Any] = REALM) -> dict[str, Any]:
    return next(u for u in realm["users"] if u["username"] == username)


def test_the_roles_are_coordinations_roles() -> None:
    assert set(ROLES) == {r.value for r in Role}


def test_every_institution_has_a_coordinator_a_caseworker_and_a_machine_client() -> None:
    for institution in REGISTRY.institutions:
        assert user(f"koordination-{institution.id}")["attributes"] == {
            "role": ["coordinator"],
            "institution": [institution.id],
        }
        assert user(f"fallfuehrung-{institution.id}")["attributes"]["role"] == ["caseworker"]
        machine = client(f"partner-{institution.id}")
        assert machine["serviceAccountsEnabled"]
        assert not machine["standardFlowEnabled"]
        account = user(f"service-account-partner-{institution.id}")
        assert account["attributes"] == {"role": ["caseworker"], "institution": [institution.id]}


def test_every_institution_has_a_data_protection_officer_who_is_an_auditor() -> None:
    for institution in REGISTRY.institutions:
        assert user(f"datenschutz-{institution.id}")["attributes"] == {
            "role": ["auditor"],
            "institution": [institution.id],
        }
    names = [u["username"] for u in REALM["users"]]
    assert len(names) == len(set(names))  # datenschutz-ksa once, though KSA is in the registry


def test_the_special_users() -> None:
    assert user("ausschuss")["attributes"] == {"role": ["committee"], "institution": ["ksa"]}
    assert user("datenschutz-ksa")["attributes"] == {"role": ["auditor"], "institution": ["ksa"]}
    assert "institution" not in user("ohne-institution")["attributes"]


def test_every_client_maps_institution_and_role_and_all_but_the_form_the_api_audience() -> None:
    for found in REALM["clients"]:
        mappers = {m["name"]: m for m in found["protocolMappers"]}
        assert mappers["institution"]["config"]["claim.name"] == "institution"
        assert mappers["role"]["config"]["access.token.claim"] == "true"
        if found["clientId"] == "iiz-formular":
            assert f"audience-{AUDIENCE}" not in mappers  # its tokens are no key to the API
        else:
            audience = mappers[f"audience-{AUDIENCE}"]["config"]
            assert audience["included.custom.audience"] == AUDIENCE


def test_the_browser_clients_use_pkce_on_loopback_callbacks_of_any_port() -> None:
    pages, form = client("iiz-seiten"), client("iiz-formular")
    assert pages["redirectUris"] == [
        "http://127.0.0.1/anmelden/rueckruf",
        "http://localhost/anmelden/rueckruf",
    ]
    assert form["redirectUris"] == [
        "http://127.0.0.1/formular/anmelden/rueckruf",
        "http://localhost/formular/anmelden/rueckruf",
    ]
    for found in (pages, form):
        assert found["attributes"]["pkce.code.challenge.method"] == "S256"
        assert found["standardFlowEnabled"]
        assert not found["directAccessGrantsEnabled"]
        assert not found["publicClient"]


def test_only_the_test_clients_take_passwords_and_one_issues_one_second_tokens() -> None:
    direct = {c["clientId"] for c in REALM["clients"] if c["directAccessGrantsEnabled"]}
    assert direct == {"iiz-tests", "iiz-tests-kurz"}
    assert client("iiz-tests-kurz")["attributes"]["access.token.lifespan"] == "1"


def test_german_login_and_a_user_profile_only_an_admin_may_change_the_institution_in() -> None:
    assert (REALM["defaultLocale"], REALM["internationalizationEnabled"]) == ("de", True)
    assert "clientScopes" not in REALM  # would replace Keycloak's built-in scopes (no `sub`)
    component = REALM["components"]["org.keycloak.userprofile.UserProfileProvider"][0]
    profile = json.loads(component["config"]["kc.user.profile.config"][0])
    attributes = {a["name"]: a for a in profile["attributes"]}
    for name in ("institution", "role"):
        assert attributes[name]["permissions"]["edit"] == ["admin"]
    institutions = attributes["institution"]["validations"]["options"]["options"]
    assert institutions == [i.id for i in REGISTRY.institutions]


def test_secrets_and_passwords_come_from_the_given_secrets_only() -> None:
    assert client("partner-rav")["secret"] == "secret-of-partner-rav"
    assert user("koordination-rav")["credentials"][0]["value"] == "password-of-koordination-rav"
    with pytest.raises(ValueError, match="no secret for client"):
        realm_document(REGISTRY, RealmSecrets({}, SECRETS.passwords))


def test_the_foreign_realm_issues_the_same_claims_under_another_name() -> None:
    foreign = foreign_realm_document(REGISTRY, SECRETS)
    assert foreign["realm"] != REALM["realm"]
    assert user("koordination-rav", foreign)["attributes"] == user("koordination-rav")["attributes"]
    assert [c["clientId"] for c in foreign["clients"]] == ["iiz-tests"]


def test_the_files_are_private_and_kept_across_runs(tmp_path: Path) -> None:
    first = ensure_secrets(tmp_path / "credentials", REGISTRY)
    again = ensure_secrets(tmp_path / "credentials", REGISTRY)
    written = write_import(tmp_path / "import", REGISTRY, first)

    assert again == first
    assert len(set(first.passwords.values())) == len(first.passwords)  # each its own
    files = [
        user_password_file(tmp_path / "credentials", "ausschuss"),
        client_secret_file(tmp_path / "credentials", "iiz-seiten"),
        tmp_path / "credentials" / "admin.password",
        *written,
    ]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert json.loads(written[0].read_text())["realm"] == "iiz-bl"
