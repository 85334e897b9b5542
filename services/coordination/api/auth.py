"""Who is calling the timeline API: a bearer JWT (HS256) naming user, institution and role.

Tokens are issued by the canton's identity provider in production; for development and tests
``python -m services.coordination.api.auth mint --institution rav --role coordinator --user anna``
signs one with the configured key (settings refuse the development key in production).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.coordination.api.problems import ApiError
from services.coordination.reading.caller import Caller, Role
from services.coordination.settings import CoordinationSettings

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clock skew between the identity provider and this service
USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class TokenReason(StrEnum):
    MISSING = "token_missing"
    INVALID = "token_invalid"
    EXPIRED = "token_expired"


class AuthError(ApiError):
    """No usable bearer token: 401 with a stable reason code."""

    status = 401
    title = "Not authenticated"
    headers = {"WWW-Authenticate": 'Bearer realm="iiz-coordination"'}  # noqa: RUF012

    def __init__(self, reason: TokenReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason.value


def mint_token(
    settings: CoordinationSettings,
    user: str,
    institution: str,
    role: Role | str,
    ttl: dt.timedelta,
    *,
    now: dt.datetime | None = None,
    registry: InstitutionRegistry | None = None,
) -> str:
    """A signed token for ``user`` at ``institution`` in ``role``, valid for ``ttl``."""
    registry = registry or load_institutions()
    if institution not in registry.by_id:
        raise ValueError(f"unknown institution {institution!r}")
    if not USER_PATTERN.match(user):
        raise ValueError("user: 1-64 letters, digits or . _ @ -")
    if ttl <= dt.timedelta(0):
        raise ValueError("ttl must be positive")
    issued = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": user,
        "institution": institution,
        "role": Role(role).value,
        "iss": settings.coordination_jwt_issuer,
        "aud": settings.coordination_jwt_audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, settings.coordination_jwt_secret.get_secret_value(), ALGORITHM)


class TokenVerifier:
    """Checks signature, issuer, audience and expiry, then the claims against the registry."""

    def __init__(self, settings: CoordinationSettings, registry: InstitutionRegistry) -> None:
        self._settings = settings
        self._registry = registry

    def verify(self, token: str) -> Caller:
        s = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                s.coordination_jwt_secret.get_secret_value(),
                algorithms=[ALGORITHM],
                audience=s.coordination_jwt_audience,
                issuer=s.coordination_jwt_issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(TokenReason.EXPIRED, "the token has expired") from None
        except jwt.InvalidTokenError:
            raise AuthError(TokenReason.INVALID, "the token is not valid here") from None
        return self._caller(claims)

    def _caller(self, claims: dict[str, Any]) -> Caller:
        user, institution, role = claims.get("sub"), claims.get("institution"), claims.get("role")
        if not isinstance(user, str) or not USER_PATTERN.match(user):
            raise AuthError(TokenReason.INVALID, "the token names no valid user")
        if not isinstance(institution, str) or institution not in self._registry.by_id:
            raise AuthError(TokenReason.INVALID, "the token names no registered institution")
        if not isinstance(role, str) or role not in {r.value for r in Role}:
            raise AuthError(TokenReason.INVALID, "the token names no known role")
        return Caller(user=user, institution=institution, role=Role(role))


_bearer = HTTPBearer(auto_error=False, description="A JWT issued for the IIZ coordination API.")


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """FastAPI dependency: the authenticated caller, or a 401 problem."""
    if credentials is None or not credentials.credentials.strip():
        raise AuthError(TokenReason.MISSING, "send a token as 'Authorization: Bearer <token>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials.strip())


CurrentCaller = Annotated[Caller, Depends(current_caller)]


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.coordination.api.auth",
        description="Sign a timeline-API token with the configured (development) key.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint", help="print a signed token")
    mint.add_argument("--institution", required=True, help="registry id, e.g. rav")
    mint.add_argument("--role", required=True, choices=[r.value for r in Role])
    mint.add_argument("--user", required=True, help="the user's id at the institution")
    mint.add_argument("--ttl-hours", type=float, default=8.0, help="validity (default 8)")
    args = parser.parse_args(argv)
    try:
        settings = CoordinationSettings()
    except ValidationError as error:
        messages = "; ".join(str(e.get("msg", "invalid")) for e in error.errors())
        print(f"refused: {messages}", file=sys.stderr)
        return 2
    if not 0 < args.ttl_hours <= 24:
        print("refused: --ttl-hours must be in (0, 24]", file=sys.stderr)
        return 2
    try:
        token = mint_token(
            settings, args.user, args.institution, args.role, dt.timedelta(hours=args.ttl_hours)
        )
    except ValueError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
