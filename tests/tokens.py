"""Tokens as the identity provider issues them, for tests: signed with key pairs made for this
test run (never stored in git), whose public keys the API reads from a JWKS file
(``coordination_jwks_url=file://…``). Tests run in the ``test`` environment, where no HS256
token is accepted."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.coordination.api.auth import token_claims
from services.coordination.reading.caller import Role
from services.coordination.settings import CoordinationSettings

ES256_KID = "test-es256"
RS256_KID = "test-rs256"


class TestIdentityProvider:
    """An ES256 and an RS256 key pair and their JWKS file."""

    __test__ = False  # a helper, not a test class

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_file = folder / "jwks.json"
        self.publish(self.public_jwks())

    @property
    def jwks_url(self) -> str:
        return self.jwks_file.as_uri()

    def public_jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {
                    **ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True),
                    "kid": ES256_KID,
                    "use": "sig",
                    "alg": "ES256",
                },
                {
                    **RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True),
                    "kid": RS256_KID,
                    "use": "sig",
                    "alg": "RS256",
                },
            ]
        }

    def publish(self, jwks: dict[str, Any]) -> None:
        self.jwks_file.write_text(json.dumps(jwks), encoding="utf-8")

    def sign(self, claims: dict[str, Any], algorithm: str = "ES256", **header: Any) -> str:
        """``claims`` signed with this provider's key for ``algorithm`` (kid set unless
        ``header`` says otherwise)."""
        key = self.ec_key if algorithm == "ES256" else self.rsa_key
        kid = ES256_KID if algorithm == "ES256" else RS256_KID
        return jwt.encode(claims, key, algorithm, headers={"kid": kid, **header})


@functools.cache
def identity_provider() -> TestIdentityProvider:
    """The test run's provider (its folder is removed when the run ends)."""
    folder = Path(tempfile.mkdtemp(prefix="iiz-test-jwks-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return TestIdentityProvider(folder)


def jwks_url() -> str:
    """``coordination_jwks_url`` of settings whose API accepts ``mint_token``'s tokens."""
    return identity_provider().jwks_url


def mint_token(
    settings: CoordinationSettings,
    user: str,
    institution: str,
    role: Role | str,
    ttl: dt.timedelta,
    *,
    now: dt.datetime | None = None,
) -> str:
    """Like ``services.coordination.api.auth.mint_token``, but ES256 from the test identity
    provider, as accepted in every environment whose JWKS is ``jwks_url()``."""
    claims = token_claims(settings, user, institution, role, ttl, now=now)
    return identity_provider().sign(claims)


def foreign_token(settings: CoordinationSettings, user: str, institution: str, role: str) -> str:
    """A well-formed token for this deployment, signed with a key that is not in its key set
    but under a kid that is (a forgery)."""
    claims = token_claims(settings, user, institution, role, dt.timedelta(hours=1))
    stranger = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(claims, stranger, "ES256", headers={"kid": ES256_KID})
