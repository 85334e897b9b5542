"""The local identity provider's realm (Keycloak), generated from the institution registry.

A pure function of the registry and the secrets: ``realm_document`` returns the realm
``iiz-bl`` as Keycloak imports it (``kc.sh start-dev --import-realm``), ``foreign_realm_document``
a second, tiny realm ``iiz-fremd`` whose tokens look right in every claim but come from another
issuer (the tests' refusal case). Writing the files (secrets, JSON) is ``identity_files``'s job.

What the realm holds (docs/trust-boundary.md says what a canton's own provider must match):

- the claims ``institution`` (registry id) and ``role`` (coordination's roles) in every access and
  ID token, from user attributes that only an administrator may edit (declarative user profile);
- the audience ``iiz-timeline-api`` in the access tokens of the clients that call the API (all
  but the web form's; audience mapper);
- the clients ``iiz-seiten`` (coordination's pages) and ``iiz-formular`` (intake's form):
  confidential, authorization code with PKCE S256, callbacks on the loopback interface;
  ``iiz-tests`` and ``iiz-tests-kurz`` (password grant, local realm only; the second issues
  access tokens that live one second, for the expiry test); ``partner-<id>`` per institution
  (client credentials; its service account carries the institution, role ``caseworker``);
- the users ``koordination-<id>`` (coordinator), ``fallfuehrung-<id>`` (caseworker) and
  ``datenschutz-<id>`` (auditor: the data-protection officer, e.g. ``datenschutz-ksa``) of every
  institution, ``ausschuss`` (KSA, committee) and ``ohne-institution`` (a caseworker without
  institution: tokens the API must refuse).

Redirect URIs: Keycloak 26 compares them as strings with one trailing ``*`` wildcard; a port
wildcard (``http://127.0.0.1:*/…``) is not accepted. ``http://127.0.0.1/*`` and
``http://localhost/*`` without a port, however, match any port on those two hosts: Keycloak
implements the loopback rule of RFC 8252 §7.3 for ``127.0.0.1``/``localhost`` (checked with
26.7.3; tests/integration/test_identity_provider.py keeps it so). The pages run on free ports in
the tests and on the API's port in the demo, so the loopback forms are registered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.registry.institutions import InstitutionRegistry

REALM = "iiz-bl"
FOREIGN_REALM = "iiz-fremd"
AUDIENCE = "iiz-timeline-api"
PAGES_CLIENT = "iiz-seiten"
FORM_CLIENT = "iiz-formular"
TESTS_CLIENT = "iiz-tests"
SHORT_LIVED_TESTS_CLIENT = "iiz-tests-kurz"
PAGES_CALLBACK = "/anmelden/rueckruf"
FORM_CALLBACK = "/formular/anmelden/rueckruf"
LOOPBACK_ORIGINS = ("http://127.0.0.1", "http://localhost")
ACCESS_TOKEN_SECONDS = 300
SHORT_ACCESS_TOKEN_SECONDS = 1
# coordination's roles (services/coordination/reading/caller.py Role); kept here as plain strings
# so the realm does not depend on the reading side.
ROLES = ("caseworker", "coordinator", "auditor", "committee")
COMMITTEE_INSTITUTION = "ksa"
NO_INSTITUTION_USER = "ohne-institution"


def partner_client(institution: str) -> str:
    return f"partner-{institution}"


@dataclass(frozen=True)
class User:
    username: str
    institution: str | None
    role: str
    first_name: str
    last_name: str


def users(registry: InstitutionRegistry) -> tuple[User, ...]:
    """Every demo user of the realm, in a fixed order."""
    found: list[User] = []
    for institution in registry.institutions:
        shown = institution.short_name or institution.id
        found.append(
            User(f"koordination-{institution.id}", institution.id, "coordinator",
                 "Koordination", shown)
        )  # fmt: skip
        found.append(
            User(f"fallfuehrung-{institution.id}", institution.id, "caseworker",
                 "Fallführung", shown)
        )  # fmt: skip
        found.append(  # the data-protection officer: misuse signals, audit rows
            User(f"datenschutz-{institution.id}", institution.id, "auditor", "Datenschutz", shown)
        )
    found += [
        User("ausschuss", COMMITTEE_INSTITUTION, "committee", "IIZ", "Ausschuss"),
        User(NO_INSTITUTION_USER, None, "caseworker", "Ohne", "Institution"),
    ]
    return tuple(found)


def client_ids(registry: InstitutionRegistry) -> tuple[str, ...]:
    """Every confidential client of the realm (each has a generated secret)."""
    fixed = (PAGES_CLIENT, FORM_CLIENT, TESTS_CLIENT, SHORT_LIVED_TESTS_CLIENT)
    return fixed + tuple(partner_client(i.id) for i in registry.institutions)


@dataclass(frozen=True)
class RealmSecrets:
    """Client secrets by client id, passwords by username (generated per state folder)."""

    client_secrets: Mapping[str, str]
    passwords: Mapping[str, str]


# ---------------------------------------------------------------------------------------------
# Pieces


def _attribute_mapper(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {
            "user.attribute": name,
            "claim.name": name,
            "jsonType.label": "String",
            "access.token.claim": "true",
            "id.token.claim": "true",
            "userinfo.token.claim": "true",
            "introspection.token.claim": "true",
            "multivalued": "false",
        },
    }


def _mappers(api_audience: bool = True) -> list[dict[str, Any]]:
    """On each client (a realm-level ``clientScopes`` list would replace Keycloak's built-in
    scopes, and tokens would lose ``sub``). The timeline API's audience only on the clients that
    call the API: a token the web form obtained is no key to the API."""
    audience = {
        "name": f"audience-{AUDIENCE}",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {
            "included.custom.audience": AUDIENCE,
            "access.token.claim": "true",
            "id.token.claim": "false",
            "introspection.token.claim": "true",
        },
    }
    claims = [_attribute_mapper("institution"), _attribute_mapper("role")]
    return [*claims, audience] if api_audience else claims


def _client(
    client_id: str, name: str, secret: str, api_audience: bool = True, **flows: Any
) -> dict[str, Any]:
    attributes = {
        "access.token.signed.response.alg": "RS256",
        "id.token.signed.response.alg": "RS256",
        **flows.pop("attributes", {}),
    }
    return {
        "clientId": client_id,
        "name": name,
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": secret,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": False,
        **flows,
        "attributes": attributes,
        "protocolMappers": _mappers(api_audience),
    }


def _browser_client(
    client_id: str, name: str, secret: str, callback: str, api_audience: bool
) -> dict[str, Any]:
    """Authorization code with PKCE S256; callbacks and sign-out targets on any loopback port
    (see the module's documentation)."""
    return _client(
        client_id,
        name,
        secret,
        api_audience,
        standardFlowEnabled=True,
        redirectUris=[f"{origin}{callback}" for origin in LOOPBACK_ORIGINS],
        webOrigins=["+"],
        attributes={
            "pkce.code.challenge.method": "S256",
            "post.logout.redirect.uris": "##".join(f"{o}/*" for o in LOOPBACK_ORIGINS),
        },
    )


def _password_client(
    client_id: str, name: str, secret: str, lifespan: int | None
) -> dict[str, Any]:
    attributes = {} if lifespan is None else {"access.token.lifespan": str(lifespan)}
    return _client(client_id, name, secret, directAccessGrantsEnabled=True, attributes=attributes)


def _user_profile(registry: InstitutionRegistry) -> dict[str, Any]:
    """Keycloak's declarative user profile: ``institution`` and ``role`` are declared, shown to
    the user, editable by an administrator only (a user cannot move to another institution)."""
    everyone = {"view": ["admin", "user"], "edit": ["admin", "user"]}
    admin_only = {"view": ["admin", "user"], "edit": ["admin"]}

    def attribute(name: str, display: str, validations: dict[str, Any], perms: Any) -> Any:
        return {
            "name": name,
            "displayName": display,
            "validations": validations,
            "permissions": perms,
            "multivalued": False,
        }

    ids = [i.id for i in registry.institutions]
    return {
        "unmanagedAttributePolicy": "ADMIN_VIEW",
        "attributes": [
            attribute(
                "username",
                "${username}",
                {
                    "length": {"min": 3, "max": 255},
                    "username-prohibited-characters": {},
                    "up-username-not-idn-homograph": {},
                },
                everyone,
            ),
            attribute("email", "${email}", {"email": {}, "length": {"max": 255}}, everyone),
            attribute(
                "firstName",
                "${firstName}",
                {"length": {"max": 255}, "person-name-prohibited-characters": {}},
                everyone,
            ),
            attribute(
                "lastName",
                "${lastName}",
                {"length": {"max": 255}, "person-name-prohibited-characters": {}},
                everyone,
            ),
            attribute("institution", "Institution", {"options": {"options": ids}}, admin_only),
            attribute("role", "Rolle", {"options": {"options": list(ROLES)}}, admin_only),
        ],
        "groups": [
            {
                "name": "user-metadata",
                "displayHeader": "User metadata",
                "displayDescription": "Attributes, which refer to user metadata",
            }
        ],
    }


def _attributes(institution: str | None, role: str) -> dict[str, list[str]]:
    found = {"role": [role]}
    if institution is not None:
        found["institution"] = [institution]
    return found


def _user(user: User, password: str) -> dict[str, Any]:
    return {
        "username": user.username,
        "enabled": True,
        "email": f"{user.username}@example.invalid",
        "emailVerified": True,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "attributes": _attributes(user.institution, user.role),
        "credentials": [{"type": "password", "value": password, "temporary": False}],
    }


def _service_account(institution: str) -> dict[str, Any]:
    client = partner_client(institution)
    return {
        "username": f"service-account-{client}",
        "enabled": True,
        "serviceAccountClientId": client,
        "attributes": _attributes(institution, "caseworker"),
    }


def _realm_shell(name: str, display: str, registry: InstitutionRegistry) -> dict[str, Any]:
    return {
        "realm": name,
        "enabled": True,
        "displayName": display,
        "sslRequired": "none",  # loopback only; a real provider runs behind TLS
        "registrationAllowed": False,
        "resetPasswordAllowed": False,
        "rememberMe": False,
        "loginWithEmailAllowed": False,
        "accessTokenLifespan": ACCESS_TOKEN_SECONDS,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "defaultSignatureAlgorithm": "RS256",
        "internationalizationEnabled": True,
        "supportedLocales": ["de", "fr", "en"],
        "defaultLocale": "de",
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [json.dumps(_user_profile(registry))]},
                }
            ]
        },
    }


def _secret(secrets: RealmSecrets, client_id: str) -> str:
    try:
        return secrets.client_secrets[client_id]
    except KeyError:
        raise ValueError(f"no secret for client {client_id!r}") from None


def _password(secrets: RealmSecrets, username: str) -> str:
    try:
        return secrets.passwords[username]
    except KeyError:
        raise ValueError(f"no password for user {username!r}") from None


# ---------------------------------------------------------------------------------------------
# Realms


def realm_document(registry: InstitutionRegistry, secrets: RealmSecrets) -> dict[str, Any]:
    """The realm ``iiz-bl`` for the local Keycloak's ``--import-realm``."""
    realm = _realm_shell(REALM, "IIZ Basel-Landschaft (lokal)", registry)
    clients = [
        _browser_client(
            PAGES_CLIENT,
            "IIZ Fallkoordination",
            _secret(secrets, PAGES_CLIENT),
            PAGES_CALLBACK,
            api_audience=True,
        ),
        _browser_client(
            FORM_CLIENT,
            "IIZ Anmeldeformular",
            _secret(secrets, FORM_CLIENT),
            FORM_CALLBACK,
            api_audience=False,  # the form reads its ID token only; it never calls the API
        ),
        _password_client(
            TESTS_CLIENT, "Tests und Skripte (nur lokal)", _secret(secrets, TESTS_CLIENT), None
        ),
        _password_client(
            SHORT_LIVED_TESTS_CLIENT,
            "Tests: Token mit einer Sekunde Lebensdauer (nur lokal)",
            _secret(secrets, SHORT_LIVED_TESTS_CLIENT),
            SHORT_ACCESS_TOKEN_SECONDS,
        ),
    ]
    for institution in registry.institutions:
        client = partner_client(institution.id)
        clients.append(
            _client(
                client,
                f"{institution.name} (Maschine)",
                _secret(secrets, client),
                serviceAccountsEnabled=True,
            )
        )
    realm["clients"] = clients
    realm["users"] = [_user(u, _password(secrets, u.username)) for u in users(registry)] + [
        _service_account(i.id) for i in registry.institutions
    ]
    return realm


def foreign_realm_document(
    registry: InstitutionRegistry, secrets: RealmSecrets, username: str = "koordination-rav"
) -> dict[str, Any]:
    """A second realm in the same Keycloak (tests only): its ``iiz-tests`` client gives
    ``username`` a token with the right audience, institution and role, but the issuer is
    ``…/realms/iiz-fremd`` and the key is that realm's own."""
    user = next((u for u in users(registry) if u.username == username), None)
    if user is None:
        raise ValueError(f"no user {username!r}")
    realm = _realm_shell(FOREIGN_REALM, "Fremder Aussteller (nur Tests)", registry)
    realm["clients"] = [
        _password_client(
            TESTS_CLIENT, "Tests (fremder Aussteller)", _secret(secrets, TESTS_CLIENT), None
        )
    ]
    realm["users"] = [_user(user, _password(secrets, username))]
    return realm


def usernames(registry: InstitutionRegistry) -> tuple[str, ...]:
    return tuple(u.username for u in users(registry))
