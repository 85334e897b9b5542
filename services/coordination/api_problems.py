"""The timeline API's errors: one base with a stable reason code, answered as problem+json.

Every error leaves as ``application/problem+json`` (RFC 9457) with ``type``, ``title``,
``status``, ``detail`` and ``reason``, like intake's HTTP door. Details are fixed texts or
built from names, never from submitted values (an AHV number must not be echoed).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.logging import redact_ahv_numbers

log = structlog.get_logger("coordination.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://iiz.bl.ch/problems/"


class Problem(BaseModel):
    """RFC 9457 problem details with the API's stable reason code."""

    type: str = Field(description="https://iiz.bl.ch/problems/<reason>")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="Explanation for a human; never contains personal data.")
    reason: str = Field(
        description=(
            "Stable reason code: token_missing, token_invalid, token_expired, "
            "role_not_allowed, case_not_found, invalid_ahv, ahv_in_text, invalid_request, "
            "not_found, method_not_allowed, unavailable, internal_error."
        )
    )


class ApiError(Exception):
    """Base of the API's errors; subclasses fix status, reason and title."""

    status = 500
    reason = "internal_error"
    title = "Internal error"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CaseNotFoundError(ApiError):
    """Unknown case, or one the caller may not see: the answer is the same (no oracle)."""

    status = 404
    reason = "case_not_found"
    title = "Case not found"

    def __init__(self) -> None:
        super().__init__("no case with this number or person is visible to you")


class RoleNotAllowedError(ApiError):
    status = 403
    reason = "role_not_allowed"
    title = "Role not allowed"


class InvalidAhvNumberError(ApiError):
    status = 422
    reason = "invalid_ahv"
    title = "Invalid AHV number"


class AhvInTextError(ApiError):
    status = 422
    reason = "ahv_in_text"
    title = "AHV number in free text"


class InvalidRequestError(ApiError):
    status = 422
    reason = "invalid_request"
    title = "Request does not match the API"


class UnavailableError(ApiError):
    status = 503
    reason = "unavailable"
    title = "Service unavailable"


def problem(
    status: int, reason: str, title: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {
        "type": f"{PROBLEM_TYPE_BASE}{reason}",
        "title": title,
        "status": status,
        "detail": redact_ahv_numbers(detail)[:1000],
        "reason": reason,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a problem+json answer."""
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _of_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.reason, exc.title, exc.detail, exc.headers)


def _of_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    # Name where and what, never the input (it may be an AHV number).
    if any(e.get("type") == "invalid_ahv" for e in errors):
        first = next(e for e in errors if e.get("type") == "invalid_ahv")
        return problem(
            422, InvalidAhvNumberError.reason, InvalidAhvNumberError.title, _describe([first])
        )
    return problem(422, InvalidRequestError.reason, InvalidRequestError.title, _describe(errors))


def _describe(errors: Any) -> str:
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(p) for p in error.get("loc", ())) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


_REASON_BY_STATUS = {404: ("not_found", "Not found"), 405: ("method_not_allowed", "Not allowed")}


def _of_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    reason, title = _REASON_BY_STATUS.get(exc.status_code, ("internal_error", "Error"))
    return problem(exc.status_code, reason, title, str(exc.detail), getattr(exc, "headers", None))


def _of_crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", error_type=type(exc).__name__, path=request.url.path)
    return problem(500, "internal_error", "Internal error", "internal error")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _of_api_error)
    app.add_exception_handler(RequestValidationError, _of_validation_error)
    app.add_exception_handler(StarletteHTTPException, _of_http_exception)
    app.add_exception_handler(Exception, _of_crash)
