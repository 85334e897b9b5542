"""Timeline-API tokens: what is minted verifies, and every way a token can be wrong is a 401
with its own reason code."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from schemas.registry import load_institutions
from services.coordination.api.app import create_api
from services.coordination.api.auth import AuthError, TokenVerifier, main, mint_token
from services.coordination.reading.caller import Caller, Role
from services.coordination.settings import CoordinationSettings

SETTINGS = CoordinationSettings(environment="test")
REGISTRY = load_institutions()
VERIFIER = TokenVerifier(SETTINGS, REGISTRY)
HOUR = dt.timedelta(hours=1)


def now() -> dt.datetime:
    """Taken when a test runs (not at collection: the whole suite may run in between)."""
    return dt.datetime.now(dt.UTC)


def claims(**overrides: Any) -> dict[str, Any]:
    issued = now()
    base: dict[str, Any] = {
        "sub": "anna",
        "institution": "rav",
        "role": "coordinator",
        "iss": SETTINGS.coordination_jwt_issuer,
        "aud": SETTINGS.coordination_jwt_audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + HOUR).timestamp()),
    }
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


def signed(payload: dict[str, Any], algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():  # PyJWT warns that the key is short for HS512: on purpose
        warnings.simplefilter("ignore")
        return jwt.encode(payload, SETTINGS.coordination_jwt_secret.get_secret_value(), algorithm)


def reason_of(token: str) -> str:
    with pytest.raises(AuthError) as refused:
        VERIFIER.verify(token)
    assert refused.value.status == 401
    return refused.value.reason


def test_a_minted_token_names_user_institution_and_role() -> None:
    token = mint_token(SETTINGS, "anna", "sozialhilfe-2829", Role.CASEWORKER, HOUR)

    caller = VERIFIER.verify(token)

    assert caller == Caller("anna", "sozialhilfe-2829", Role.CASEWORKER)
    assert caller.actor == "sozialhilfe-2829/caseworker/anna"


def test_an_expired_token_is_token_expired_but_clock_skew_is_tolerated() -> None:
    just_expired = mint_token(SETTINGS, "anna", "rav", "coordinator", HOUR, now=now() - HOUR)
    long_expired = mint_token(SETTINGS, "anna", "rav", "coordinator", HOUR, now=now() - 2 * HOUR)

    assert VERIFIER.verify(just_expired).user == "anna"
    assert reason_of(long_expired) == "token_expired"


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda: "not-a-jwt", id="garbage"),
        pytest.param(lambda: signed(claims(exp=None)), id="no exp"),
        pytest.param(lambda: signed(claims(iat=None)), id="no iat"),
        pytest.param(lambda: signed(claims(sub=None)), id="no sub"),
        pytest.param(lambda: signed(claims(aud="someone-else")), id="other audience"),
        pytest.param(lambda: signed(claims(iss="someone-else")), id="other issuer"),
        pytest.param(lambda: signed(claims(institution="atlantis")), id="unknown institution"),
        pytest.param(lambda: signed(claims(institution=None)), id="no institution"),
        pytest.param(lambda: signed(claims(role="admin")), id="unknown role"),
        pytest.param(lambda: signed(claims(role=["auditor"])), id="role not a string"),
        pytest.param(lambda: signed(claims(sub="rav/auditor/eve")), id="user with slashes"),
        pytest.param(
            lambda: signed(claims(iat=int((now() + 2 * HOUR).timestamp()))), id="issued later"
        ),
        pytest.param(lambda: signed(claims(), "HS512"), id="other algorithm"),
        pytest.param(lambda: jwt.encode(claims(), key="", algorithm="none"), id="unsigned"),
        pytest.param(
            lambda: jwt.encode(claims(), "another-secret-of-at-least-32-chars!!", "HS256"),
            id="other key",
        ),
    ],
)
def test_a_token_that_does_not_hold_is_token_invalid(make_token: Callable[[], str]) -> None:
    assert reason_of(make_token()) == "token_invalid"


def test_minting_refuses_unknown_institutions_roles_users_and_empty_lifetimes() -> None:
    with pytest.raises(ValueError, match="institution"):
        mint_token(SETTINGS, "anna", "atlantis", "coordinator", HOUR)
    with pytest.raises(ValueError, match="admin"):
        mint_token(SETTINGS, "anna", "rav", "admin", HOUR)
    with pytest.raises(ValueError, match="user"):
        mint_token(SETTINGS, "a/b", "rav", "coordinator", HOUR)
    with pytest.raises(ValueError, match="ttl"):
        mint_token(SETTINGS, "anna", "rav", "coordinator", dt.timedelta(0))


def test_a_token_of_another_deployment_does_not_verify_here() -> None:
    other = CoordinationSettings(
        environment="test", coordination_jwt_secret=SecretStr("x" * 40), coordination_jwt_issuer="x"
    )
    assert reason_of(mint_token(other, "anna", "rav", "coordinator", HOUR)) == "token_invalid"


# ----- command line ----------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "IIZ_ENVIRONMENT",
        "IIZ_COORDINATION_JWT_SECRET",
        "IIZ_COORDINATION_JWT_ISSUER",
        "IIZ_COORDINATION_JWT_AUDIENCE",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_cli_prints_a_token_the_api_accepts(
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


def test_the_cli_refuses_the_development_key_in_production(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("IIZ_ENVIRONMENT", "production")
    clean_env.setenv("IIZ_PSEUDONYM_KEY", "p" * 40)
    clean_env.setenv("IIZ_IDENTITY_KEY", Fernet.generate_key().decode())

    code = main(["mint", "--institution", "rav", "--role", "coordinator", "--user", "anna"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "IIZ_COORDINATION_JWT_SECRET" in err


def test_the_cli_refuses_an_unknown_institution_and_a_long_lifetime(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = main(["mint", "--institution", "atlantis", "--role", "coordinator", "--user", "a"])
    too_long = main(
        [
            "mint",
            "--institution",
            "rav",
            "--role",
            "coordinator",
            "--user",
            "a",
            "--ttl-hours",
            "72",
        ]
    )

    assert (unknown, too_long) == (2, 2)
    assert capsys.readouterr().out == ""


# ----- the dependency at the HTTP edge (no infrastructure: the lifespan does not run) -----------


async def test_the_api_answers_401_problems_before_touching_any_resource() -> None:
    app = create_api(SETTINGS)
    expired = mint_token(SETTINGS, "anna", "rav", "coordinator", HOUR, now=now() - 3 * HOUR)
    valid = mint_token(SETTINGS, "anna", "rav", "coordinator", HOUR)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://coordination.test"
    ) as client:
        path = "/v1/cases/IIZ-2026-000001"
        answers = {
            "token_missing": await client.get(path),
            "token_missing ": await client.get(path, headers={"Authorization": "Basic YTpi"}),
            "token_invalid": await client.get(path, headers={"Authorization": "Bearer x.y.z"}),
            "token_expired": await client.get(path, headers={"Authorization": f"Bearer {expired}"}),
        }
        authenticated = await client.get(path, headers={"Authorization": f"Bearer {valid}"})

    for reason, response in answers.items():
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'Bearer realm="iiz-coordination"'
        assert response.json()["reason"] == reason.strip()
        assert response.json()["type"] == f"https://iiz.bl.ch/problems/{reason.strip()}"
    assert authenticated.status_code == 503  # past authentication; the service is not started
