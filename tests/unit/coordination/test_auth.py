"""Timeline-API tokens: what the identity provider signs verifies, HS256 only in development,
and every way a token can be wrong is a 401 with its reason code."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import ValidationError

from schemas.registry import load_institutions
from services.coordination.api.app import create_api
from services.coordination.api.auth import (
    AuthError,
    JwksFileKeys,
    JwksUrlKeys,
    TokenVerifier,
    main,
    mint_token,
    token_claims,
)
from services.coordination.api.problems import UnavailableError
from services.coordination.reading.caller import Caller, Role
from services.coordination.settings import DEVELOPMENT_JWT_SECRET, CoordinationSettings
from tests.tokens import ES256_KID, RS256_KID, identity_provider

IDP = identity_provider()
SETTINGS = CoordinationSettings(environment="test", coordination_jwks_url=IDP.jwks_url)
# Development without an identity provider: the only place HS256 tokens are accepted.
DEVELOPMENT = SETTINGS.model_copy(
    update={"environment": "development", "coordination_jwks_url": None}
)
# Production's other requirements (Kafka security, real secrets) are not this module's concern.
PRODUCTION = SETTINGS.model_copy(update={"environment": "production"})
REGISTRY = load_institutions()
VERIFIER = TokenVerifier(SETTINGS, REGISTRY)
HOUR = dt.timedelta(hours=1)


def now() -> dt.datetime:
    """Taken when a test runs (not at collection: the whole suite may run in between)."""
    return dt.datetime.now(dt.UTC)


def at(offset: dt.timedelta) -> int:
    return int((now() + offset).timestamp())


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "anna",
        "institution": "rav",
        "role": "coordinator",
        "iss": SETTINGS.coordination_jwt_issuer,
        "aud": SETTINGS.coordination_jwt_audience,
        "iat": at(dt.timedelta(0)),
        "exp": at(HOUR),
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def signed(payload: dict[str, Any], algorithm: str = "ES256", **header: Any) -> str:
    return IDP.sign(payload, algorithm, **header)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_signed(payload: dict[str, Any], secret: bytes, **header: Any) -> str:
    """A token signed by hand with HMAC-SHA256 under any header (``alg`` HS256 unless given):
    PyJWT refuses to use a public key as an HMAC secret, an attacker does not."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def reason_of(token: str, verifier: TokenVerifier = VERIFIER) -> str:
    with pytest.raises(AuthError) as refused:
        verifier.verify(token)
    assert refused.value.status == 401
    return refused.value.reason


# ----- what is accepted ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_a_token_of_the_identity_provider_names_user_institution_and_role(algorithm: str) -> None:
    token = signed(claims(sub="beat", institution="sozialhilfe-2829", role="caseworker"), algorithm)

    caller = VERIFIER.verify(token)

    assert caller == Caller("beat", "sozialhilfe-2829", Role.CASEWORKER)
    assert caller.actor == "sozialhilfe-2829/caseworker/beat"


def test_the_display_name_comes_from_preferred_username_and_never_into_the_audit() -> None:
    token = signed(
        claims(
            sub="0b1c-uuid",
            institution="zif",
            role="coordinator",
            preferred_username="koordination-zif",
            name="Zora Imhof",
        ),
        "RS256",
    )
    caller = VERIFIER.verify(token)
    assert caller.display_name == "koordination-zif"
    assert caller.user == "0b1c-uuid"
    assert caller.actor == "zif/coordinator/0b1c-uuid"
    by_name = VERIFIER.verify(
        signed(claims(sub="u2", institution="zif", role="caseworker", name="Zora  Imhof"), "RS256")
    )
    assert by_name.display_name == "Zora Imhof"
    plain = VERIFIER.verify(signed(claims(sub="u3", institution="zif", role="caseworker")))
    assert plain.display_name is None


def test_a_development_token_is_accepted_in_development() -> None:
    token = mint_token(DEVELOPMENT, "anna", "rav", Role.COORDINATOR, HOUR)

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert TokenVerifier(DEVELOPMENT, REGISTRY).verify(token) == Caller(
        "anna", "rav", Role.COORDINATOR
    )


# ----- time ------------------------------------------------------------------------------------


def test_an_expired_token_is_token_expired_but_clock_skew_is_tolerated() -> None:
    just_expired = signed(claims(iat=at(-HOUR), exp=at(dt.timedelta(seconds=-10))))
    long_expired = signed(claims(iat=at(-2 * HOUR), exp=at(-HOUR)))

    assert VERIFIER.verify(just_expired).user == "anna"
    assert reason_of(long_expired) == "token_expired"


def test_a_token_issued_in_the_future_is_refused_beyond_the_clock_skew() -> None:
    slightly_ahead = signed(claims(iat=at(dt.timedelta(seconds=10))))
    issued_later = signed(claims(iat=at(dt.timedelta(minutes=5)), exp=at(2 * HOUR)))

    assert VERIFIER.verify(slightly_ahead).user == "anna"
    assert reason_of(issued_later) == "token_invalid"


def test_a_token_that_lives_longer_than_twelve_hours_is_refused_by_default() -> None:
    twelve_hours = signed(claims(exp=at(dt.timedelta(hours=12))))
    a_second_more = signed(claims(exp=at(dt.timedelta(hours=12, seconds=1))))
    thirty_one_years = signed(claims(exp=at(dt.timedelta(days=31 * 365))))

    assert SETTINGS.coordination_jwt_max_lifetime_hours == 12
    assert VERIFIER.verify(twelve_hours).user == "anna"
    assert reason_of(a_second_more) == "token_invalid"
    assert reason_of(thirty_one_years) == "token_invalid"


def test_the_maximum_lifetime_is_configurable() -> None:
    one_hour = TokenVerifier(
        SETTINGS.model_copy(update={"coordination_jwt_max_lifetime_hours": 1.0}), REGISTRY
    )

    assert one_hour.verify(signed(claims(exp=at(HOUR)))).user == "anna"
    assert reason_of(signed(claims(exp=at(2 * HOUR))), one_hour) == "token_invalid"


def test_a_token_that_expires_before_it_is_issued_is_refused() -> None:
    backwards = signed(claims(iat=at(dt.timedelta(seconds=20)), exp=at(dt.timedelta(seconds=5))))

    assert reason_of(backwards) == "token_invalid"


@pytest.mark.parametrize("missing", ["exp", "iat"])
def test_a_token_without_exp_or_iat_is_refused(missing: str) -> None:
    assert reason_of(signed(claims(**{missing: None}))) == "token_invalid"


# ----- algorithms and keys ---------------------------------------------------------------------


@pytest.mark.parametrize("settings", [SETTINGS, PRODUCTION], ids=["test", "production"])
def test_hs256_tokens_are_refused_outside_development(settings: CoordinationSettings) -> None:
    development_token = mint_token(DEVELOPMENT, "anna", "rav", Role.COORDINATOR, HOUR)

    assert reason_of(development_token, TokenVerifier(settings, REGISTRY)) == "token_invalid"


def test_hs256_tokens_are_refused_where_an_identity_provider_is_configured() -> None:
    """A deployment that forgot IIZ_ENVIRONMENT (default development) still has a JWKS URL."""
    with_provider = SETTINGS.model_copy(update={"environment": "development"})
    development_token = mint_token(DEVELOPMENT, "anna", "rav", Role.COORDINATOR, HOUR)

    assert TokenVerifier(DEVELOPMENT, REGISTRY).verify(development_token).user == "anna"
    assert reason_of(development_token, TokenVerifier(with_provider, REGISTRY)) == "token_invalid"


@pytest.mark.parametrize("unset", ["coordination_jwt_issuer", "coordination_jwt_audience"])
def test_production_refuses_to_check_tokens_without_issuer_and_audience(unset: str) -> None:
    without = PRODUCTION.model_copy(update={unset: None})

    with pytest.raises(ValueError, match="must be set in production"):
        TokenVerifier(without, REGISTRY)
    assert TokenVerifier(PRODUCTION, REGISTRY) is not None


def test_minting_an_hs256_token_outside_development_is_refused() -> None:
    with pytest.raises(ValueError, match="only in development"):
        mint_token(SETTINGS, "anna", "rav", Role.COORDINATOR, HOUR)


@pytest.mark.parametrize("settings", [DEVELOPMENT, SETTINGS], ids=["development", "test"])
def test_an_hs256_token_keyed_with_a_public_key_of_the_key_set_is_refused(
    settings: CoordinationSettings,
) -> None:
    """Algorithm confusion: the public key is no HMAC secret, in any environment."""
    verifier = TokenVerifier(settings, REGISTRY)
    public_pem = IDP.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk = json.dumps(IDP.public_jwks()["keys"][1]).encode()
    with_the_real_secret = hmac_signed(claims(), DEVELOPMENT_JWT_SECRET.encode())

    if settings.environment == "development":  # the hand-made token is well formed
        assert verifier.verify(with_the_real_secret).user == "anna"
    for secret in (public_pem, public_jwk):
        token = hmac_signed(claims(), secret, kid=RS256_KID)
        assert reason_of(token, verifier) == "token_invalid"


def test_a_symmetric_key_in_the_key_set_is_never_used(tmp_path: Path) -> None:
    shared = b"a-shared-secret-that-the-provider-should-not-publish"
    jwks = tmp_path / "jwks.json"
    oct_key = {"kty": "oct", "k": b64(shared), "kid": "shared", "alg": "HS256", "use": "sig"}
    jwks.write_text(json.dumps({"keys": [oct_key, *IDP.public_jwks()["keys"]]}))
    as_hs256 = hmac_signed(claims(), shared, kid="shared")
    as_rs256 = hmac_signed(claims(), shared, kid="shared", alg="RS256")

    for environment in ("development", "test"):
        settings = SETTINGS.model_copy(
            update={"environment": environment, "coordination_jwks_url": jwks.as_uri()}
        )
        verifier = TokenVerifier(settings, REGISTRY)
        assert reason_of(as_hs256, verifier) == "token_invalid"
        assert reason_of(as_rs256, verifier) == "token_invalid"


def test_a_token_whose_algorithm_does_not_match_its_key_is_refused() -> None:
    rsa_signed_under_the_ec_kid = signed(claims(), "RS256", kid=ES256_KID)

    assert reason_of(rsa_signed_under_the_ec_kid) == "token_invalid"


def other_algorithm(algorithm: str) -> Callable[[], str]:
    def make() -> str:
        if algorithm == "none":
            return jwt.encode(claims(), key=None, algorithm="none", headers={"kid": RS256_KID})
        if algorithm == "ES384":
            key: Any = ec.generate_private_key(ec.SECP384R1())
        elif algorithm.startswith("HS"):
            key = DEVELOPMENT_JWT_SECRET * 2  # long enough for HS512
        else:
            key = IDP.rsa_key
        return jwt.encode(claims(), key, algorithm, headers={"kid": RS256_KID})

    return make


@pytest.mark.parametrize("algorithm", ["none", "HS384", "HS512", "RS512", "PS256", "ES384"])
@pytest.mark.parametrize("settings", [DEVELOPMENT, SETTINGS], ids=["development", "test"])
def test_unsigned_tokens_and_other_algorithms_are_refused(
    algorithm: str, settings: CoordinationSettings
) -> None:
    token = other_algorithm(algorithm)()

    assert reason_of(token, TokenVerifier(settings, REGISTRY)) == "token_invalid"


def test_a_token_naming_an_unknown_key_or_no_key_is_refused() -> None:
    unknown_kid = signed(claims(), kid="not-in-the-set")
    no_kid = jwt.encode(claims(), IDP.ec_key, "ES256")

    assert reason_of(unknown_kid) == "token_invalid"
    assert reason_of(no_kid) == "token_invalid"


def test_a_token_signed_with_another_key_under_a_known_kid_is_refused() -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims(), stranger, "ES256", headers={"kid": ES256_KID})

    assert reason_of(forged) == "token_invalid"


def test_rs256_and_es256_tokens_are_refused_where_no_key_set_is_configured() -> None:
    no_key_set = DEVELOPMENT.model_copy(update={"coordination_jwks_url": None})

    assert reason_of(signed(claims()), TokenVerifier(no_key_set, REGISTRY)) == "token_invalid"


def test_production_refuses_to_start_the_api_without_a_key_set() -> None:
    with pytest.raises(ValueError, match="IIZ_COORDINATION_JWKS_URL"):
        TokenVerifier(PRODUCTION.model_copy(update={"coordination_jwks_url": None}), REGISTRY)


# ----- issuer, audience and the caller's claims ------------------------------------------------


def test_issuer_and_audience_are_checked_when_configured() -> None:
    assert reason_of(signed(claims(iss="https://someone-else"))) == "token_wrong_issuer"
    assert reason_of(signed(claims(aud="someone-else"))) == "token_invalid"
    assert reason_of(signed(claims(iss=None))) == "token_wrong_issuer"
    assert reason_of(signed(claims(aud=None))) == "token_invalid"


def test_issuer_and_audience_left_empty_are_not_checked() -> None:
    unchecked = CoordinationSettings(
        environment="test",
        coordination_jwks_url=IDP.jwks_url,
        coordination_jwt_issuer="",
        coordination_jwt_audience="",
    )
    verifier = TokenVerifier(unchecked, REGISTRY)

    assert (unchecked.coordination_jwt_issuer, unchecked.coordination_jwt_audience) == (None, None)
    assert verifier.verify(signed(claims(iss="https://kc/realms/x", aud="account"))).user == "anna"
    assert verifier.verify(signed(claims(iss=None, aud=None))).user == "anna"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(lambda: signed(claims(sub=None)), id="no sub"),
        pytest.param(lambda: signed(claims(role="admin")), id="unknown role"),
        pytest.param(lambda: signed(claims(role=["auditor"])), id="role not a string"),
        pytest.param(lambda: signed(claims(sub="rav/auditor/eve")), id="user with slashes"),
        pytest.param(lambda: signed(claims())[:-4] + "AAAA", id="signature altered"),
    ],
)
def test_a_token_whose_claims_do_not_hold_is_token_invalid(make_token: Callable[[], str]) -> None:
    assert reason_of(make_token()) == "token_invalid"


@pytest.mark.parametrize("institution", [None, "", "atlantis"])
def test_a_token_without_a_registered_institution_is_token_no_institution(
    institution: str | None,
) -> None:
    assert reason_of(signed(claims(institution=institution))) == "token_no_institution"


def test_another_issuers_token_is_token_wrong_issuer_even_when_its_key_is_unknown() -> None:
    other = signed(claims(iss="https://someone-else"), kid="a-key-of-another-realm")
    assert reason_of(other) == "token_wrong_issuer"


def test_token_claims_refuse_unknown_institutions_roles_users_and_bad_lifetimes() -> None:
    with pytest.raises(ValueError, match="institution"):
        token_claims(SETTINGS, "anna", "atlantis", "coordinator", HOUR)
    with pytest.raises(ValueError, match="admin"):
        token_claims(SETTINGS, "anna", "rav", "admin", HOUR)
    with pytest.raises(ValueError, match="user"):
        token_claims(SETTINGS, "a/b", "rav", "coordinator", HOUR)
    with pytest.raises(ValueError, match="ttl"):
        token_claims(SETTINGS, "anna", "rav", "coordinator", dt.timedelta(0))
    with pytest.raises(ValueError, match="12 hours"):
        token_claims(SETTINGS, "anna", "rav", "coordinator", dt.timedelta(hours=13))


# ----- key sets: a file, a URL, rotation -------------------------------------------------------


def key_set_file(tmp_path: Path, *keys: dict[str, Any]) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": list(keys)}), encoding="utf-8")
    return path


def ec_jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "use": "sig", "alg": "ES256"}


def test_keys_rotate_by_replacing_the_key_set_file(tmp_path: Path) -> None:
    old_key, new_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    path = key_set_file(tmp_path, ec_jwk(old_key, "2026-01"))
    verifier = TokenVerifier(SETTINGS, REGISTRY, keys=JwksFileKeys(path))
    old_token = jwt.encode(claims(), old_key, "ES256", headers={"kid": "2026-01"})
    new_token = jwt.encode(claims(), new_key, "ES256", headers={"kid": "2026-02"})
    before = (verifier.verify(old_token).user, reason_of(new_token, verifier))

    key_set_file(tmp_path, ec_jwk(new_key, "2026-02"))

    assert before == ("anna", "token_invalid")
    assert verifier.verify(new_token).user == "anna"
    assert reason_of(old_token, verifier) == "token_invalid"


@pytest.mark.parametrize("content", [None, "not json", "[]", '{"keys": []}'])
def test_an_unreadable_key_set_file_is_unavailable_not_the_callers_fault(
    tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    verifier = TokenVerifier(SETTINGS, REGISTRY, keys=JwksFileKeys(path))

    with pytest.raises(UnavailableError) as unavailable:
        verifier.verify(signed(claims()))

    assert (unavailable.value.status, unavailable.value.reason) == (503, "unavailable")


class JwksServer:
    """The identity provider's JWKS endpoint on a loopback port, counting its fetches."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.fetches = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.fetches += 1
                body = json.dumps(served.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/realms/iiz/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer(IDP.public_jwks())
    yield server
    server.stop()


def test_tokens_verify_against_a_key_set_fetched_over_http(jwks_server: JwksServer) -> None:
    settings = SETTINGS.model_copy(update={"coordination_jwks_url": jwks_server.url})
    verifier = TokenVerifier(settings, REGISTRY)

    callers = [verifier.verify(signed(claims(), alg)).user for alg in ("ES256", "RS256") * 3]

    assert callers == ["anna"] * 6
    assert jwks_server.fetches == 1  # cached


def test_invented_kids_do_not_make_the_service_fetch_the_key_set_again_and_again(
    jwks_server: JwksServer,
) -> None:
    verifier = TokenVerifier(SETTINGS, REGISTRY, keys=JwksUrlKeys(jwks_server.url))
    verifier.verify(signed(claims()))

    reasons = {reason_of(signed(claims(), kid=f"invented-{n}"), verifier) for n in range(20)}

    assert reasons == {"token_invalid"}
    assert jwks_server.fetches == 1  # the cooldown after the first fetch holds them off


def test_a_new_kid_fetches_the_rotated_key_set(jwks_server: JwksServer) -> None:
    verifier = TokenVerifier(
        SETTINGS, REGISTRY, keys=JwksUrlKeys(jwks_server.url, cooldown_seconds=0)
    )
    new_key = ec.generate_private_key(ec.SECP256R1())
    new_token = jwt.encode(claims(), new_key, "ES256", headers={"kid": "rotated"})
    assert verifier.verify(signed(claims())).user == "anna"

    jwks_server.jwks = {"keys": [ec_jwk(new_key, "rotated")]}

    assert verifier.verify(new_token).user == "anna"
    assert jwks_server.fetches == 2


def test_an_unreachable_key_set_is_unavailable_not_the_callers_fault() -> None:
    gone = JwksServer(IDP.public_jwks())
    gone.stop()
    verifier = TokenVerifier(SETTINGS, REGISTRY, keys=JwksUrlKeys(gone.url))

    with pytest.raises(UnavailableError):
        verifier.verify(signed(claims()))


# ----- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "url"),
    [
        ("production", "http://keycloak.internal/realms/iiz/protocol/openid-connect/certs"),
        ("test", "ftp://keys.example/jwks.json"),
        ("test", "file://relative/jwks.json"),
        ("test", "https:///no-host"),
    ],
)
def test_a_key_set_url_the_service_should_not_read_is_refused(environment: str, url: str) -> None:
    with pytest.raises(ValidationError, match="IIZ_COORDINATION_JWKS_URL"):
        CoordinationSettings(environment=environment, coordination_jwks_url=url)  # type: ignore[arg-type]


def test_a_key_set_url_over_http_is_fine_outside_production() -> None:
    url = "http://127.0.0.1:8080/realms/iiz/protocol/openid-connect/certs"

    assert (
        CoordinationSettings(environment="test", coordination_jwks_url=url).coordination_jwks_url
        == url
    )


# ----- command line ----------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "IIZ_ENVIRONMENT",
        "IIZ_COORDINATION_JWT_SECRET",
        "IIZ_COORDINATION_JWT_ISSUER",
        "IIZ_COORDINATION_JWT_AUDIENCE",
        "IIZ_COORDINATION_JWT_MAX_LIFETIME_HOURS",
        "IIZ_COORDINATION_JWKS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_cli_prints_a_development_token_the_development_api_accepts(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["mint", "--institution", "iv", "--role", "auditor", "--user", "dsb", "--ttl-hours", "2"]
    )

    token = capsys.readouterr().out.strip()
    assert code == 0
    caller = TokenVerifier(CoordinationSettings(), REGISTRY).verify(token)
    assert caller == Caller("dsb", "iv", Role.AUDITOR)
    lifetime = jwt.decode(token, options={"verify_signature": False})
    assert lifetime["exp"] - lifetime["iat"] == 2 * 3600


def test_the_cli_refuses_to_mint_outside_development(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("IIZ_ENVIRONMENT", "test")

    code = main(["mint", "--institution", "rav", "--role", "coordinator", "--user", "anna"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "only in development" in err


def test_the_cli_refuses_an_unknown_institution_and_a_lifetime_beyond_the_maximum(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mint = ["mint", "--role", "coordinator", "--user", "a"]
    unknown = main([*mint, "--institution", "atlantis"])
    too_long = main([*mint, "--institution", "rav", "--ttl-hours", "13"])
    clean_env.setenv("IIZ_COORDINATION_JWT_MAX_LIFETIME_HOURS", "1")
    beyond_configured = main([*mint, "--institution", "rav", "--ttl-hours", "2"])

    assert (unknown, too_long, beyond_configured) == (2, 2, 2)
    assert capsys.readouterr().out == ""


# ----- the dependency at the HTTP edge (no infrastructure: the lifespan does not run) ----------


async def test_the_api_answers_401_problems_before_touching_any_resource() -> None:
    app = create_api(SETTINGS)
    expired = signed(claims(iat=at(-3 * HOUR), exp=at(-2 * HOUR)))
    too_long = signed(claims(exp=at(24 * HOUR)))
    development = mint_token(DEVELOPMENT, "anna", "rav", Role.COORDINATOR, HOUR)
    valid = signed(claims())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://coordination.test"
    ) as client:
        path = "/v1/cases/IIZ-2026-000001"

        async def get(token: str) -> httpx.Response:
            return await client.get(path, headers={"Authorization": f"Bearer {token}"})

        answers = [
            ("token_missing", await client.get(path)),
            ("token_missing", await client.get(path, headers={"Authorization": "Basic YTpi"})),
            ("token_invalid", await get("x.y.z")),
            ("token_invalid", await get(too_long)),
            ("token_invalid", await get(development)),
            ("token_expired", await get(expired)),
        ]
        authenticated = await get(valid)

    for reason, response in answers:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="iiz-coordination"'
        assert response.json()["reason"] == reason
        assert response.json()["type"] == f"https://iiz.bl.ch/problems/{reason}"
    assert authenticated.status_code == 503  # past authentication; the service is not started
