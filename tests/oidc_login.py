"""A person signing in at the local Keycloak, driven from Python: the relying party's redirect
is followed to Keycloak's German login form, the form is filled in and posted, and Keycloak's
redirect back (``…/rueckruf?state=…&code=…``) is returned for the app under test.

Keycloak sets its cookies ``Secure`` even over plain http; Python's cookie jar would then never
send them back to http://127.0.0.1 and the login would fail ("cookie not found"). Chromium sends
them to a loopback host, so ``KeycloakBrowser`` clears the flag, as Chromium in effect does.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import httpx

from tests.oidc import provider
from tests.oidc import user_password as user_password

LOGIN_FORM = re.compile(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', re.S)
TIMEOUT_SECONDS = 15.0


def oidc_environment() -> dict[str, str]:
    """The identity provider's IIZ_* settings as ``infra/local env`` prints them (tests.oidc
    keeps them out of os.environ; it raises with a clear message when there is no provider)."""
    return provider().variables


class KeycloakBrowser:
    """The part of a browser that talks to Keycloak: its cookies (the provider's session)."""

    def __init__(self) -> None:
        self.client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)

    async def __aenter__(self) -> KeycloakBrowser:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    async def get(self, url: str) -> httpx.Response:
        response = await self.client.get(url)
        self._allow_cookies_over_http()
        return response

    async def login_form(self, authorize_url: str) -> str:
        """Keycloak's answer to the authorization request: its login page (HTML)."""
        page = await self.get(authorize_url)
        assert page.status_code == 200, (page.status_code, page.headers.get("location"))
        return page.text

    async def sign_in(self, authorize_url: str, username: str, password: str) -> str:
        """Log in on Keycloak's form; the redirect back to the app (its path and query)."""
        page = await self.login_form(authorize_url)
        found = LOGIN_FORM.search(page)
        assert found is not None, "no login form on Keycloak's page"
        answer = await self.client.post(
            html.unescape(found.group(1)), data={"username": username, "password": password}
        )
        self._allow_cookies_over_http()
        assert answer.status_code == 302, (answer.status_code, answer.text[:500])
        return path_and_query(answer.headers["location"])

    def _allow_cookies_over_http(self) -> None:
        for cookie in self.client.cookies.jar:
            cookie.secure = False


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
