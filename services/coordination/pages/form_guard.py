"""The pages' forms against cross-site requests: the signed-in session's CSRF token (set by
``sign_in`` at sign-in, offered to every template as ``csrf_token`` by ``render``) must come back
in the form. A request without a session (a bearer header) has no token and cannot submit."""

from __future__ import annotations

import secrets

from fastapi import Request


def csrf_matches(request: Request, submitted: str) -> bool:
    expected = request.session.get("csrf") if "session" in request.scope else None
    # As bytes: compare_digest refuses str with non-ASCII characters.
    return (
        isinstance(expected, str)
        and bool(expected)
        and secrets.compare_digest(expected.encode(), submitted.encode())
    )
