"""Who is signed in to the web form through the identity provider (``form.sign_in``): read from
the session on every request, ended when idle, too old, or no longer allowed to use the form."""

from __future__ import annotations

import datetime as dt

from fastapi import Request

from schemas.registry.institutions import Institution
from schemas.vocabulary import InstitutionKind
from services.common import oidc_sign_in as oidc
from services.intake.http_door.state import intake_of


def signed_in_institution(request: Request) -> Institution | None:
    """The municipality of a session begun at the identity provider; None when there is no
    such session or it has ended (it is then emptied)."""
    if oidc.SESSION_KEY not in request.session:
        return None
    settings = intake_of(request).settings
    times = oidc.SessionTimes(
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
        absolute=dt.timedelta(hours=settings.session_max_hours),
    )
    who = oidc.current(request.session, times)
    found = who.get("institution") if who else None
    registry = intake_of(request).runtime.registry
    institution = registry.by_id.get(found) if isinstance(found, str) else None
    if institution is None or institution.kind is not InstitutionKind.SOCIAL_SERVICES:
        request.session.clear()
        return None
    return institution
