"""problem+json (RFC 9457) for every HTTP edge: one body, one response helper, one base error.

Every refusal leaves as ``application/problem+json`` with ``type``
(``https://iiz.bl.ch/problems/<reason>``), ``title``, ``status``, ``detail`` and ``reason``, a
stable snake_case code that clients program against (docs/architecture.md, "Reason codes").
Details are fixed texts or built from names, never from submitted values; they are redacted once
more here (defence in depth) and cut to 1000 characters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.logging import redact_ahv_numbers

log = structlog.get_logger("http.problems")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://iiz.bl.ch/problems/"
MAX_DETAIL_CHARS = 1000
INTERNAL_ERROR = ("internal_error", "Internal error")
# What Starlette's own HTTP errors are answered with: status -> (reason, title).
STANDARD_REASONS: Mapping[int, tuple[str, str]] = {
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
}

ExceptionHandler = Callable[[Request, Exception], Response | Awaitable[Response]]


class Problem(BaseModel):
    """RFC 9457 problem details with a stable reason code (services subclass it to list theirs)."""

    type: str = Field(description="https://iiz.bl.ch/problems/<reason>")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="Explanation for a human; never contains personal data.")
    reason: str = Field(description="Stable reason code (snake_case).")


class ProblemError(Exception):
    """Base of the errors an HTTP edge answers as problem+json; subclasses fix status, reason
    and title (a service has one subclass as its own base)."""

    status: int = 500
    reason: str = INTERNAL_ERROR[0]
    title: str = INTERNAL_ERROR[1]
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def problem(
    status: int,
    reason: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response; ``extra`` members follow the standard ones (e.g. ``instance``)."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{reason}",
        "title": title,
        "status": status,
        "detail": redact_ahv_numbers(detail)[:MAX_DETAIL_CHARS],
        "reason": reason,
        **(extra or {}),
    }
    return JSONResponse(
        body,
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=None if headers is None else dict(headers),
    )


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a problem+json answer."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def with_problem_schema(openapi: dict[str, Any], model: type[Problem] = Problem) -> dict[str, Any]:
    """``openapi`` with ``model`` as ``components.schemas.Problem`` (and the models it uses)."""
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["Problem"] = schema
    return openapi


def install_problem_handlers(
    app: FastAPI,
    on_validation_error: ExceptionHandler,
    reasons_by_status: Mapping[int, tuple[str, str]] = STANDARD_REASONS,
) -> None:
    """Answer every error as problem+json: ``ProblemError``s, request validation (the service
    decides how), Starlette's HTTP errors by ``reasons_by_status``, and anything else as 500."""

    def of_http_exception(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        reason, title = reasons_by_status.get(exc.status_code, INTERNAL_ERROR)
        return problem(exc.status_code, reason, title, str(exc.detail), exc.headers)

    app.add_exception_handler(ProblemError, _of_problem_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, of_http_exception)
    app.add_exception_handler(Exception, _of_crash)


def _of_problem_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem(exc.status, exc.reason, exc.title, exc.detail, exc.headers)


def _of_crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", error_type=type(exc).__name__, path=request.url.path)
    return problem(500, *INTERNAL_ERROR, "internal error")
