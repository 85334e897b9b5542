"""The demo's last words on signing in: the pages' address, the local Keycloak's demo users and
where their passwords are, and tokens for the API (from Keycloak; HS256 development tokens only
when no identity provider is configured)."""

from __future__ import annotations

import datetime as dt
import os

from services.coordination.api.auth import mint_token
from services.coordination.reading.caller import Role
from services.coordination.settings import CoordinationSettings
from services.ops.identity_tokens import local_access_token

TOKEN_COMMAND = ".venv/bin/python -m services.ops identity token"  # noqa: S105 (a command)
DEMO_USERS = (
    ("koordination-zif", "Koordination ZIF"),
    ("koordination-sozialhilfe-2829", "Koordination Sozialdienst Liestal"),
    ("koordination-rav", "Koordination RAV"),
    ("fallfuehrung-iv", "Fallführung IV-Stelle (caseworker)"),
    ("ausschuss", "IIZ-Ausschuss (committee figures)"),
    ("datenschutz-rav", "Datenschutz RAV (auditor: signals, access reports, audit log)"),
)


def with_provider(settings: CoordinationSettings) -> bool:
    """The API verifies the identity provider's tokens (``infra/local env`` configured it)."""
    return settings.coordination_jwks_url is not None


def api_token(settings: CoordinationSettings, username: str, institution: str, role: Role) -> str:
    """A token for the printed examples: the local Keycloak's (lives 5 minutes), or a
    development token where the API has no identity provider."""
    if with_provider(settings):
        return local_access_token(username)
    return mint_token(settings, username, institution, role, dt.timedelta(hours=8))


def curl_authorization(settings: CoordinationSettings, username: str, lead: str) -> str:
    if with_provider(settings):
        return f'-H "Authorization: Bearer $({TOKEN_COMMAND} {username})"'
    token = api_token(settings, "demo-coordinator", lead, Role.COORDINATOR)
    return f'-H "Authorization: Bearer {token}"'


def print_sign_in(settings: CoordinationSettings, base: str, lead: str | None) -> None:
    if not with_provider(settings):
        committee = api_token(settings, "demo-ausschuss", "ksa", Role.COMMITTEE)
        print(f"  pages (German): sign in at {base}/anmelden with a token (committee: {committee})")
        return
    folder = os.environ.get("IIZ_KEYCLOAK_CREDENTIALS_DIR", "<state>/credentials/keycloak")
    # The committee's token comes from Keycloak like everyone's: proof the realm answers.
    local_access_token("ausschuss")
    print(f"\nSign in (German pages): {base}/anmelden  → the local Keycloak's login page")
    print("  demo users (every institution <id> of the registry has koordination-<id>,")
    print("  fallfuehrung-<id> and datenschutz-<id>):")
    users = dict(DEMO_USERS)
    if lead is not None:
        lead_user = f"koordination-{lead}"
        users[lead_user] = f"{users.get(lead_user, 'Koordination')} (lead of the example case)"
    for username, who in users.items():
        print(f"    {username:<32} {who}")
    print(f"  passwords (generated for this machine, not printed): {folder}/users/<user>.password")
    print(f"    e.g. cat {folder}/users/koordination-zif.password")
    print(f"  an API token for a user (lives 5 minutes): {TOKEN_COMMAND} <user>")
