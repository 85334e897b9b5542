"""Signing in to the web form through the canton's identity provider (client ``iiz-formular``;
``services.common.oidc_sign_in``): authorization code + PKCE, the ID token checked.

The signed-in person's ``institution`` claim decides for which municipality they submit; as
with an access key, only institutions of kind ``social-services`` may use the form. The session
then holds the institution, the user's name, the ID token (for the sign-out) and its times; it
ends after ``IIZ_SESSION_IDLE_MINUTES`` unused or ``IIZ_SESSION_MAX_HOURS`` after signing in.
Signing out (``/formular/abmelden``) ends it here and at the provider.

The access key (``services.intake.tokens``) stays the second way in, for scripts.
"""

from __future__ import annotations

import secrets

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from schemas.registry.institutions import Institution
from schemas.vocabulary import InstitutionKind
from services.common import oidc_sign_in as oidc
from services.intake.http_door.form.pages import PREFIX, error_page, page
from services.intake.http_door.state import intake_of
from services.intake.settings import IntakeSettings

log = structlog.get_logger("intake.web_form")

CALLBACK_PATH = f"{PREFIX}/anmelden/rueckruf"
# Who submits for a municipality: its case workers and coordinators (not an auditor or the
# committee, whom the same provider also signs in).
FORM_ROLES = frozenset({"caseworker", "coordinator"})
SIGNED_OUT_PATH = f"{PREFIX}/anmelden?abgemeldet=1"


def relying_party(settings: IntakeSettings) -> oidc.RelyingParty | None:
    """The form's client at the identity provider; None when not configured."""
    secret = settings.intake_oidc_client_secret
    if not settings.oidc_issuer or secret is None or not secret.get_secret_value():
        return None
    return oidc.RelyingParty(
        oidc.ProviderSettings(
            issuer=settings.oidc_issuer,
            client_id=settings.intake_oidc_client_id,
            client_secret=secret.get_secret_value(),
            callback_path=CALLBACK_PATH,
            post_logout_path=SIGNED_OUT_PATH,
        )
    )


def install_provider_sign_in(app: FastAPI, settings: IntakeSettings) -> None:
    app.state.form_relying_party = relying_party(settings)
    for path, endpoint in ((f"{PREFIX}/anmelden/kantonal", to_provider), (CALLBACK_PATH, callback)):
        app.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)


def _party(request: Request) -> oidc.RelyingParty | None:
    party: oidc.RelyingParty | None = getattr(request.app.state, "form_relying_party", None)
    return party


def refusal_for(institution: Institution) -> str:
    """Why an institution that is no municipal social service may not use the form."""
    return (
        f"Das Onlineformular steht nur den Sozialdiensten der Gemeinden offen. "
        f"{institution.name} übermittelt Ereignisse über die Schnittstelle "
        "(Kafka oder HTTP), nicht über dieses Formular."
    )


def _unavailable(request: Request) -> Response:
    return error_page(
        request,
        503,
        "Anmeldung im Moment nicht möglich",
        "Das kantonale Login ist im Moment nicht erreichbar. Bitte versuchen Sie es in einigen"
        " Minuten erneut.",
    )


async def to_provider(request: Request) -> Response:
    party = _party(request)
    if party is None:
        return RedirectResponse(f"{PREFIX}/anmelden", status_code=303)
    try:
        return await party.authorize_redirect(request)
    except oidc.SignInUnavailableError as error:
        log.warning("identity provider unavailable", error=str(error))
        return _unavailable(request)


async def callback(request: Request) -> Response:
    party = _party(request)
    if party is None:
        return RedirectResponse(f"{PREFIX}/anmelden", status_code=303)
    try:
        signed_in = await party.complete(request)
    except oidc.SignInRefusedError as error:
        log.info("form sign-in callback refused", error=str(error))
        return error_page(
            request,
            400,
            "Anmeldung nicht abgeschlossen",
            "Diese Anmeldung wurde nicht auf dieser Seite begonnen, ist abgelaufen oder wurde"
            " bereits verwendet. Bitte melden Sie sich erneut an.",
        )
    except oidc.SignInUnavailableError as error:
        log.warning("identity provider unavailable", error=str(error))
        return _unavailable(request)
    claimed = signed_in.claims.get("institution")
    registry = intake_of(request).runtime.registry
    institution = registry.by_id.get(claimed) if isinstance(claimed, str) else None
    if institution is None:
        return page(
            request,
            "anmelden.html",
            403,
            error="Ihr Konto ist keiner Gemeinde zugeordnet. Bitte wenden Sie sich an das"
            " Kantonale Sozialamt.",
        )
    if institution.kind is not InstitutionKind.SOCIAL_SERVICES:
        return page(request, "anmelden.html", 403, error=refusal_for(institution))
    if signed_in.claims.get("role") not in FORM_ROLES:
        return page(
            request,
            "anmelden.html",
            403,
            error="Mit Ihrer Rolle können Sie keine Anmeldungen und Unterlagen übermitteln. Bitte"
            " wenden Sie sich an das Kantonale Sozialamt.",
        )
    user = signed_in.claims.get("preferred_username") or signed_in.claims.get("sub")
    oidc.begin(request.session, {"institution": institution.id, "user": user}, signed_in.id_token)
    request.session.update(csrf=secrets.token_urlsafe(32), institution=institution.id)
    log.info("form sign-in through the identity provider", institution=institution.id)
    return RedirectResponse(PREFIX, status_code=303)


async def sign_out(request: Request) -> Response | None:
    """Ends the session; the redirect to the provider's sign-out when it began there."""
    id_token = oidc.end(request.session)
    party = _party(request)
    if id_token is None or party is None:
        return None
    url = await party.end_session_url(request, id_token)
    return RedirectResponse(url, status_code=303) if url else None
