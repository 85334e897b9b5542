"""Who is calling the timeline API: a bearer JWT naming user, institution and role.

Two kinds of token are accepted, told apart by the ``alg`` of their header:

- **RS256 or ES256**, signed by the identity provider and verified with the public key that the
  token's ``kid`` names in the provider's JWKS (``IIZ_COORDINATION_JWKS_URL``: ``https://…``,
  fetched and cached with PyJWT's ``PyJWKClient``; or ``file://…``, a key set on disk). Keys
  rotate through the JWKS: a ``kid`` not yet known makes the service fetch the set again (at
  most once per cooldown).
- **HS256**, signed with ``IIZ_COORDINATION_JWT_SECRET``, only when ``IIZ_ENVIRONMENT`` is
  ``development``: ``python -m services.coordination.api.auth mint --institution rav --role
  coordinator --user anna`` prints one. The shared secret is never tried on any other token,
  and a key of the JWKS never on an HS256 one (no algorithm confusion).

Every token must carry ``exp`` and ``iat``, must not be issued in the future, must not live
longer than ``IIZ_COORDINATION_JWT_MAX_LIFETIME_HOURS`` (``exp - iat``), and must name the
configured issuer and audience (each checked when configured). The claims ``sub``,
``institution`` and ``role`` name the caller; the institution must be in the registry.

Refusals are 401 problems with ``token_missing``, ``token_expired`` (only a token that was
valid and has expired), ``token_wrong_issuer`` (``iss`` missing or not the configured issuer:
another realm or provider; judged before the signature, whose key another issuer's token does
not name), ``token_no_institution`` (a good token whose ``institution`` claim is missing or names
no registered institution: a user the provider has not assigned) or ``token_invalid`` (every other
rule; the detail names which). Expiry allows ``IIZ_COORDINATION_JWT_LEEWAY_SECONDS`` of clock
skew (default 30). When
the identity provider's keys cannot be read the answer is 503 ``unavailable``: the caller's
token may well be good.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import threading
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import unquote, urlsplit

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.coordination.api.problems import ApiError, UnavailableError
from services.coordination.reading.caller import Caller, Role
from services.coordination.settings import CoordinationSettings

SHARED_SECRET_ALGORITHM = "HS256"  # noqa: S105 (an algorithm name, not a secret)
# The algorithms of the identity provider's tokens and the key type (JWK ``kty``) each needs.
KEY_ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
JWKS_CACHE_SECONDS = 300.0  # how long a fetched key set is used before it is fetched again
JWKS_COOLDOWN_SECONDS = 30.0  # an unknown kid fetches the set again at most this often
JWKS_TIMEOUT_SECONDS = 5.0
USER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
DISPLAY_NAME_MAX = 100


class TokenReason(StrEnum):
    MISSING = "token_missing"
    INVALID = "token_invalid"
    EXPIRED = "token_expired"
    WRONG_ISSUER = "token_wrong_issuer"
    NO_INSTITUTION = "token_no_institution"


class AuthError(ApiError):
    """No usable bearer token: 401 with a stable reason code."""

    status = 401
    title = "Not authenticated"
    headers = {"WWW-Authenticate": 'Bearer realm="iiz-coordination"'}  # noqa: RUF012

    def __init__(self, reason: TokenReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason.value


def _invalid(detail: str) -> AuthError:
    return AuthError(TokenReason.INVALID, detail)


# ---------------------------------------------------------------------------------------------
# The identity provider's public keys


class KeySource(Protocol):
    """Where the public keys of RS256/ES256 tokens come from (issue 16 may plug in another,
    e.g. one found through the provider's OpenID discovery document)."""

    def signing_key(self, kid: str) -> jwt.PyJWK | None:
        """The signing key named ``kid``; None if the set has none; ``UnavailableError`` if the
        set cannot be read at all."""
        ...


class JwksUrlKeys:
    """The key set at an http(s) URL, fetched and cached by PyJWT's ``PyJWKClient`` (one set
    for ``JWKS_CACHE_SECONDS``; an unknown kid fetches again at most once per cooldown, so
    tokens with invented kids cannot make the service hammer the provider)."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = JWKS_CACHE_SECONDS,
        cooldown_seconds: float = JWKS_COOLDOWN_SECONDS,
        timeout_seconds: float = JWKS_TIMEOUT_SECONDS,
    ) -> None:
        self._client = jwt.PyJWKClient(
            url,
            cache_jwk_set=True,
            lifespan=cache_seconds,
            cooldown_duration=cooldown_seconds,
            timeout=timeout_seconds,
        )

    def signing_key(self, kid: str) -> jwt.PyJWK | None:
        try:
            # The set itself (cached or fetched): failing here is the provider's problem.
            self._client.get_signing_keys()
        except (jwt.PyJWKClientError, jwt.PyJWKSetError) as error:
            raise UnavailableError("the identity provider's keys cannot be fetched") from error
        try:
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as error:  # the refresh for an unknown kid
            raise UnavailableError("the identity provider's keys cannot be fetched") from error
        except (jwt.PyJWKClientError, jwt.PyJWKSetError):
            return None


class JwksFileKeys:
    """A key set in a file (``file://``), read again whenever the file changes, so keys rotate
    by replacing it.

    Hand-written because ``PyJWKClient`` fetches http(s) only (it refuses ``file://`` since its
    URL may come from a token header; ours comes from the settings). The parsing is PyJWT's
    (``PyJWKSet``); only reading the file and the change check are ours."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}

    def signing_key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            try:
                stat = self._path.stat()
                version = (stat.st_mtime_ns, stat.st_size)
                if version != self._version:
                    self._keys = self._read()
                    self._version = version
            except (OSError, ValueError, jwt.PyJWKSetError) as error:
                raise UnavailableError("the identity provider's keys cannot be read") from error
            return self._keys.get(kid)

    def _read(self) -> dict[str, jwt.PyJWK]:
        data = json.loads(self._path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("a JWKS is a JSON object")
        keys = jwt.PyJWKSet.from_dict(data).keys
        # As PyJWKClient: signing keys (use "sig" or unstated) that have a kid.
        return {k.key_id: k for k in keys if k.key_id and k.public_key_use in ("sig", None)}


def key_source(url: str) -> KeySource:
    """The key source for ``IIZ_COORDINATION_JWKS_URL`` (its form is checked by the settings)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return JwksFileKeys(Path(unquote(parts.path)))
    return JwksUrlKeys(url)


# ---------------------------------------------------------------------------------------------
# Verification


class TokenVerifier:
    """Checks algorithm, signature, issuer, audience, expiry and lifetime, then the claims
    against the registry. The API and the pages share one (``app.state.token_verifier``)."""

    def __init__(
        self,
        settings: CoordinationSettings,
        registry: InstitutionRegistry,
        keys: KeySource | None = None,
    ) -> None:
        self._settings = settings
        self._registry = registry
        url = settings.coordination_jwks_url
        self._keys = keys if keys is not None else (key_source(url) if url else None)
        if self._keys is None and settings.environment == "production":
            raise ValueError(
                "IIZ_COORDINATION_JWKS_URL must be set in production: without the identity"
                " provider's keys no token can be accepted"
            )
        if settings.environment == "production" and not (
            settings.coordination_jwt_issuer and settings.coordination_jwt_audience
        ):
            raise ValueError(
                "IIZ_COORDINATION_JWT_ISSUER and IIZ_COORDINATION_JWT_AUDIENCE must be set in"
                " production: a token of another realm or for another client would pass"
            )
        self._max_lifetime = dt.timedelta(hours=settings.coordination_jwt_max_lifetime_hours)

    @property
    def registry(self) -> InstitutionRegistry:
        """The registry the callers' institutions are checked against."""
        return self._registry

    def verify(self, token: str) -> Caller:
        s = self._settings
        self._check_issuer(token)
        key, algorithm = self._key_for(token)
        required = ["exp", "iat", "sub"]
        required += ["iss"] if s.coordination_jwt_issuer else []
        required += ["aud"] if s.coordination_jwt_audience else []
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=s.coordination_jwt_audience,
                issuer=s.coordination_jwt_issuer,
                leeway=s.coordination_jwt_leeway_seconds,
                options={
                    "require": required,
                    "verify_aud": s.coordination_jwt_audience is not None,
                },
            )
        except jwt.ExpiredSignatureError:
            raise AuthError(TokenReason.EXPIRED, "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _invalid("the token is issued in the future (iat) or not yet valid") from None
        except jwt.InvalidTokenError:
            raise _invalid("the token is not valid here") from None
        self._check_lifetime(claims)
        return self._caller(claims)

    def _key_for(self, token: str) -> tuple[jwt.PyJWK | str, str]:
        """The one key and algorithm this token may be verified with, chosen by its header
        before any signature is checked."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _invalid("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm == SHARED_SECRET_ALGORITHM:
            if self._settings.environment != "development":
                raise _invalid("shared-secret (HS256) tokens are accepted only in development")
            if self._settings.coordination_jwks_url is not None:
                # A service that knows its identity provider takes tokens only from it, also
                # when IIZ_ENVIRONMENT was left at its default: the development secret is public.
                raise _invalid(
                    "shared-secret (HS256) tokens are not accepted here: "
                    "tokens come from the identity provider"
                )
            return self._settings.coordination_jwt_secret.get_secret_value(), algorithm
        if not isinstance(algorithm, str) or algorithm not in KEY_ALGORITHMS:
            raise _invalid("the token's algorithm is not accepted (RS256 or ES256)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("the token names no key (kid)")
        if self._keys is None:
            raise _invalid("no identity provider keys are configured here")
        key = self._keys.signing_key(kid)
        if key is None:
            raise _invalid("the token's key (kid) is not in the identity provider's key set")
        if key.key_type != KEY_ALGORITHMS[algorithm] or key.algorithm_name != algorithm:
            raise _invalid("the token's algorithm does not match its key")
        return key, algorithm

    def _check_issuer(self, token: str) -> None:
        """Another issuer's token is told apart before its signature is checked: its key is
        not in this provider's set. Only ever a refusal, so the unverified claim may decide it."""
        expected = self._settings.coordination_jwt_issuer
        if expected is None:
            return
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise _invalid("the token is not a JWT") from None
        if unverified.get("iss") != expected:
            raise AuthError(
                TokenReason.WRONG_ISSUER, "the token is not issued by this service's provider"
            )

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        # decode() has checked that both are numbers, iat not in the future, exp not past.
        lifetime = dt.timedelta(seconds=float(claims["exp"]) - float(claims["iat"]))
        if lifetime <= dt.timedelta(0):
            raise _invalid("the token expires before it is issued")
        if lifetime > self._max_lifetime:
            hours = self._max_lifetime.total_seconds() / 3600
            raise _invalid(f"the token lives longer than {hours:g} hours (exp - iat)")

    def _caller(self, claims: dict[str, Any]) -> Caller:
        user, institution, role = claims.get("sub"), claims.get("institution"), claims.get("role")
        if not isinstance(user, str) or not USER_PATTERN.match(user):
            raise _invalid("the token names no valid user")
        if not isinstance(institution, str) or not institution:
            raise AuthError(TokenReason.NO_INSTITUTION, "the token names no institution")
        if institution not in self._registry.by_id:
            raise AuthError(TokenReason.NO_INSTITUTION, "the token names no registered institution")
        if not isinstance(role, str) or role not in {r.value for r in Role}:
            raise _invalid("the token names no known role")
        return Caller(
            user=user, institution=institution, role=Role(role), display_name=display_name(claims)
        )


def display_name(claims: dict[str, Any]) -> str | None:
    """The name the pages show for the caller: ``preferred_username``, else ``name`` (trimmed,
    at most 100 characters); None without either. Only ever shown; the audit uses ``sub``."""
    for claim in ("preferred_username", "name"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:DISPLAY_NAME_MAX]
    return None


_bearer = HTTPBearer(auto_error=False, description="A JWT issued for the IIZ coordination API.")


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """FastAPI dependency: the authenticated caller, or a 401 problem. Synchronous on purpose:
    FastAPI runs it in a worker thread, so fetching the provider's keys blocks no request."""
    if credentials is None or not credentials.credentials.strip():
        raise AuthError(TokenReason.MISSING, "send a token as 'Authorization: Bearer <token>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(credentials.credentials.strip())


CurrentCaller = Annotated[Caller, Depends(current_caller)]


# ---------------------------------------------------------------------------------------------
# Development tokens


def token_claims(
    settings: CoordinationSettings,
    user: str,
    institution: str,
    role: Role | str,
    ttl: dt.timedelta,
    *,
    now: dt.datetime | None = None,
    registry: InstitutionRegistry | None = None,
) -> dict[str, Any]:
    """The claims of a token for ``user`` at ``institution`` in ``role``, valid for ``ttl``
    (what the identity provider puts in its tokens; tests sign them with their own keys)."""
    registry = registry or load_institutions()
    if institution not in registry.by_id:
        raise ValueError(f"unknown institution {institution!r}")
    if not USER_PATTERN.match(user):
        raise ValueError("user: 1-64 letters, digits or . _ @ -")
    if ttl <= dt.timedelta(0):
        raise ValueError("ttl must be positive")
    if ttl > dt.timedelta(hours=settings.coordination_jwt_max_lifetime_hours):
        raise ValueError(
            f"ttl must not exceed {settings.coordination_jwt_max_lifetime_hours:g} hours"
            " (IIZ_COORDINATION_JWT_MAX_LIFETIME_HOURS)"
        )
    issued = now or dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {"sub": user, "institution": institution, "role": Role(role).value}
    if settings.coordination_jwt_issuer:
        claims["iss"] = settings.coordination_jwt_issuer
    if settings.coordination_jwt_audience:
        claims["aud"] = settings.coordination_jwt_audience
    claims["iat"] = int(issued.timestamp())
    claims["exp"] = int((issued + ttl).timestamp())
    return claims


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
    """A development token (HS256, the configured secret); refused outside development, where
    no HS256 token is accepted."""
    if settings.environment != "development":
        raise ValueError(
            "HS256 tokens are accepted only in development (IIZ_ENVIRONMENT=development);"
            " elsewhere tokens come from the identity provider"
        )
    claims = token_claims(settings, user, institution, role, ttl, now=now, registry=registry)
    secret = settings.coordination_jwt_secret.get_secret_value()
    return jwt.encode(claims, secret, SHARED_SECRET_ALGORITHM)


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.coordination.api.auth",
        description="Sign a development token (HS256, IIZ_ENVIRONMENT=development only).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint", help="print a signed development token")
    mint.add_argument("--institution", required=True, help="registry id, e.g. rav")
    mint.add_argument("--role", required=True, choices=[r.value for r in Role])
    mint.add_argument("--user", required=True, help="the user's id at the institution")
    mint.add_argument(
        "--ttl-hours",
        type=float,
        default=8.0,
        help="validity (default 8; at most IIZ_COORDINATION_JWT_MAX_LIFETIME_HOURS)",
    )
    args = parser.parse_args(argv)
    try:
        settings = CoordinationSettings()
    except ValidationError as error:
        messages = "; ".join(str(e.get("msg", "invalid")) for e in error.errors())
        print(f"refused: {messages}", file=sys.stderr)
        return 2
    if not args.ttl_hours > 0:
        print("refused: --ttl-hours must be positive", file=sys.stderr)
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
