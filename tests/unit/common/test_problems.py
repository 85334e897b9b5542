"""The one problem+json module: the body every HTTP edge answers with, and its handlers."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from schemas.errors import ReasonCode
from services.common.problems import (
    PROBLEM_MEDIA_TYPE,
    STANDARD_REASONS,
    Problem,
    ProblemError,
    install_problem_handlers,
    problem,
    with_problem_schema,
)
from services.intake.http_door.reasons import REASONS_BY_HTTP_STATUS, HttpReason
from tests.factories import OFFICIAL_SAMPLE_AHV

SNAKE_CASE = re.compile(r"[a-z][a-z0-9_]*")


class GoneError(ProblemError):
    status = 410
    reason = "case_gone"
    title = "Case gone"


def _refuse_validation(_request: Request, _exc: Exception) -> Response:
    return problem(422, "invalid_request", "Invalid request", "the request does not fit")


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app, _refuse_validation)

    @app.get("/gone")
    async def gone() -> None:
        raise GoneError("closed in 2024")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError(f"secret {OFFICIAL_SAMPLE_AHV}")

    @app.get("/number/{n}")
    async def number(n: int) -> int:
        return n

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def test_a_problem_has_the_rfc_9457_members_and_a_redacted_detail() -> None:
    response = problem(
        409,
        "already_there",
        "Already there",
        f"person {OFFICIAL_SAMPLE_AHV} again",
        {"Retry-After": "3"},
        extra={"instance": "urn:uuid:1"},
    )

    assert response.media_type == PROBLEM_MEDIA_TYPE
    assert response.headers["retry-after"] == "3"
    body = response.body.decode()
    assert OFFICIAL_SAMPLE_AHV not in body
    assert list(Problem.model_fields) == ["type", "title", "status", "detail", "reason"]
    assert body.startswith(
        '{"type":"https://iiz.bl.ch/problems/already_there","title":"Already there",'
        '"status":409,"detail":"person '
    )
    assert body.endswith('"reason":"already_there","instance":"urn:uuid:1"}')


def test_a_long_detail_is_cut_to_a_thousand_characters() -> None:
    response = problem(400, "too_long", "Too long", "x" * 5000)

    assert '"detail":"' + "x" * 1000 + '"' in response.body.decode()


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/gone", 410, "case_gone"),
        ("/nowhere", 404, "not_found"),
        ("/number/seven", 422, "invalid_request"),
        ("/crash", 500, "internal_error"),
    ],
)
async def test_every_error_is_answered_as_problem_json(path: str, status: int, reason: str) -> None:
    response = await _get(path)

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["reason"] == reason
    assert response.json()["type"] == f"https://iiz.bl.ch/problems/{reason}"
    assert OFFICIAL_SAMPLE_AHV not in response.text


def test_the_openapi_document_gets_the_problem_schema() -> None:
    schema = with_problem_schema({"openapi": "3.1.0"})

    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "reason",
    ]


def test_reason_codes_of_the_http_edges_are_snake_case() -> None:
    codes = {
        *(code.value for code in ReasonCode),
        *(code.value for code in HttpReason),
        *(reason for reason, _ in STANDARD_REASONS.values()),
        *(reason for reason, _ in REASONS_BY_HTTP_STATUS.values()),
    }

    assert sorted(c for c in codes if not SNAKE_CASE.fullmatch(c)) == []
