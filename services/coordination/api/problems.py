"""The timeline API's errors: one base with a stable reason code, answered as problem+json.

The body, the response helper and the handlers are the project's one problem+json module
(``services.common.problems``); this module holds the API's reason codes. Details are fixed
texts or built from names, never from submitted values (an AHV number must not be echoed).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ConfigDict, Field

from services.common import problems
from services.common.problems import ProblemError, problem

# Starlette's own HTTP errors: status -> (reason, title), as the API has always answered them.
REASONS_BY_HTTP_STATUS = {
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Not allowed"),
}


class Problem(problems.Problem):
    """RFC 9457 problem details with the API's stable reason code."""

    model_config = ConfigDict(title="Problem")

    reason: str = Field(
        description=(
            "Stable reason code: token_missing, token_invalid, token_expired, "
            "token_wrong_issuer, token_no_institution, "
            "role_not_allowed, case_not_found, referral_not_found, referral_not_open, "
            "notice_not_found, "
            "invalid_ahv, ahv_in_text, invalid_request, not_found, method_not_allowed, "
            "unavailable, internal_error."
        )
    )


class ApiError(ProblemError):
    """Base of the API's errors; subclasses fix status, reason and title."""


class CaseNotFoundError(ApiError):
    """Unknown case, or one the caller may not see: the answer is the same (no oracle)."""

    status = 404
    reason = "case_not_found"
    title = "Case not found"

    def __init__(self) -> None:
        super().__init__("no case with this number or person is visible to you")


class ReferralNotFoundError(ApiError):
    """No referral with this id addressed to the caller in the case (one to another
    institution is answered the same way: only the addressee answers)."""

    status = 404
    reason = "referral_not_found"
    title = "Referral not found"

    def __init__(self) -> None:
        super().__init__("no referral with this id is addressed to your institution in this case")


class ReferralNotOpenError(ApiError):
    """The referral was answered otherwise already (accepted, declined or completed)."""

    status = 409
    reason = "referral_not_open"
    title = "Referral not open"


class NoticeNotFoundError(ApiError):
    """No notice with this id that the caller's institution must send (another institution's
    is answered the same way)."""

    status = 404
    reason = "notice_not_found"
    title = "Notice not found"

    def __init__(self) -> None:
        super().__init__("no notice with this id is one your institution must send")


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


def install_problem_handlers(app: FastAPI) -> None:
    problems.install_problem_handlers(app, _of_validation_error, REASONS_BY_HTTP_STATUS)
