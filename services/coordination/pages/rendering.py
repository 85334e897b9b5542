"""What every German page shares: the templates, ``render`` with the security headers, the
redirect to the sign-in and whether cookies are Secure. (Kept apart from ``routes`` so that the
sign-in module and the page modules can use it without importing each other.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.coordination.pages import wording

HERE = Path(__file__).resolve().parent
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'{forms}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY.format(forms=""),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals.update(
    w=wording, german=wording.german, day=wording.day, purpose=wording.purpose_label
)


def security_headers(request: Request) -> dict[str, str]:
    """The headers of every page; the sign-out form may lead on to the identity provider
    (Chromium applies ``form-action`` to a form's redirects too)."""
    provider: str | None = getattr(request.app.state, "sign_in_provider_origin", None)
    if not provider:
        return dict(SECURITY_HEADERS)
    csp = CONTENT_SECURITY_POLICY.format(forms=f" {provider}")
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page, naming the caller that ``page_caller`` found for this request (if any), with
    the session's CSRF token for its forms."""
    caller = getattr(request.state, "caller", None)
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    if caller is not None:  # the header: display name, institution's short name, German role
        context.setdefault("who", wording.signed_in(caller, institution_names(request)))
    html = templates.get_template(name).render(caller=caller, **context)
    return HTMLResponse(html, status_code=status, headers=security_headers(request))


def institution_names(request: Request) -> wording.InstitutionNames:
    """The registry's names of institutions: the API's registry, else the one the callers were
    checked against (the sign-in pages work without the database); none without either."""
    api = getattr(request.app.state, "api", None)
    verifier = getattr(request.app.state, "token_verifier", None)
    registry = getattr(api, "registry", None) or getattr(verifier, "registry", None)
    return wording.InstitutionNames.of(registry.institutions) if registry else wording.NO_NAMES


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/anmelden", status_code=303, headers=SECURITY_HEADERS)


def cookie_secure(request: Request) -> bool:
    """``coordination_cookie_secure`` when set (behind a proxy that terminates TLS the app sees
    http); otherwise whether the request came over https."""
    api = getattr(request.app.state, "api", None)
    if api is not None and api.settings.environment == "production":
        return True
    forced: bool | None = api.settings.coordination_cookie_secure if api is not None else None
    return request.url.scheme == "https" if forced is None else forced
