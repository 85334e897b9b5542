"""The HTTP door's refusals: its reason codes, their titles and statuses, and how a refusal is
answered (problem+json through ``services.common.problems``, with the request id)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import ConfigDict, Field

from schemas.errors import ReasonCode
from schemas.receipts import Receipt
from services.common.problems import Problem, ProblemError, problem


class HttpReason(StrEnum):
    """Reason codes that only the HTTP door gives (no receipt: nothing was submitted).

    The contract's reason codes (``schemas.errors.ReasonCode``) apply to HTTP unchanged.
    """

    UNKNOWN_SENDER = "unknown_sender"  # no, an unknown or a revoked bearer token
    RATE_LIMITED = "rate_limited"  # over the institution's events per minute
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # not structured/batch CloudEvents JSON
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAVAILABLE = "unavailable"  # Kafka or PostgreSQL not reachable: send again later
    INTERNAL_ERROR = "internal_error"


TITLES: dict[str, str] = {
    ReasonCode.INVALID_AHV: "Invalid AHV number",
    ReasonCode.UNKNOWN_TYPE: "Unknown event type",
    ReasonCode.SCHEMA_VIOLATION: "Data does not match its schema",
    ReasonCode.UNKNOWN_SOURCE: "Unknown source",
    ReasonCode.SOURCE_MISMATCH: "Source is not the sending institution",
    ReasonCode.MISSING_ATTRIBUTE: "Required attribute missing",
    ReasonCode.INVALID_ATTRIBUTE: "Invalid attribute",
    ReasonCode.TOO_LARGE: "Request too large",
    ReasonCode.NOT_JSON: "Body is not JSON",
    ReasonCode.NOT_UTF8: "Body is not UTF-8",
    HttpReason.UNKNOWN_SENDER: "Unknown sender",
    HttpReason.RATE_LIMITED: "Too many events",
    HttpReason.UNSUPPORTED_MEDIA_TYPE: "Unsupported media type",
    HttpReason.NOT_FOUND: "Not found",
    HttpReason.METHOD_NOT_ALLOWED: "Method not allowed",
    HttpReason.UNAVAILABLE: "Service unavailable",
    HttpReason.INTERNAL_ERROR: "Internal error",
}

STATUS_BY_REASON: dict[ReasonCode, int] = {
    ReasonCode.SCHEMA_VIOLATION: 422,
    ReasonCode.INVALID_AHV: 422,
    ReasonCode.UNKNOWN_TYPE: 422,
    ReasonCode.MISSING_ATTRIBUTE: 422,
    ReasonCode.INVALID_ATTRIBUTE: 422,
    ReasonCode.SOURCE_MISMATCH: 403,
    ReasonCode.UNKNOWN_SOURCE: 403,
    ReasonCode.NOT_JSON: 400,
    ReasonCode.NOT_UTF8: 400,
    ReasonCode.TOO_LARGE: 413,
}

# Starlette's own HTTP errors: status -> (reason, title).
REASONS_BY_HTTP_STATUS: dict[int, tuple[str, str]] = {
    status: (reason, TITLES[reason])
    for status, reason in (
        (404, HttpReason.NOT_FOUND),
        (405, HttpReason.METHOD_NOT_ALLOWED),
        (413, ReasonCode.TOO_LARGE),
        (415, HttpReason.UNSUPPORTED_MEDIA_TYPE),
    )
}


class SubmissionProblem(Problem):
    """RFC 9457 problem details, with the reason code and (for a rejected event) its receipt."""

    model_config = ConfigDict(title="Problem")

    type: str = Field(
        description="https://iiz.bl.ch/problems/<reason>",
        examples=["https://iiz.bl.ch/problems/invalid_ahv"],
    )
    reason: str = Field(
        description=(
            "Stable reason code: one of the contract's codes (docs/contract.md 7.2) or an "
            "HTTP-only code (unknown_sender, rate_limited, unsupported_media_type, not_found, "
            "method_not_allowed, unavailable, internal_error)."
        )
    )
    instance: str | None = Field(default=None, description="urn:uuid:<request id>")
    receipt: Receipt | None = Field(
        default=None, description="The rejection receipt, when an event was submitted."
    )


class RequestRefusedError(ProblemError):
    """A request the HTTP door refuses: status, reason code and detail (never personal data)."""

    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        receipt: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.title = TITLES.get(reason, "Error")
        self.headers = headers
        self.receipt = receipt


def refused(refusal: RequestRefusedError, request_id: str | None = None) -> JSONResponse:
    """The problem+json answer to a refusal, with the request id when there is one."""
    extra: dict[str, Any] = {}
    headers = dict(refusal.headers or {})
    if request_id is not None:
        extra["instance"] = f"urn:uuid:{request_id}"
        headers["X-Request-ID"] = request_id
    if refusal.receipt is not None:
        extra["receipt"] = refusal.receipt
    return problem(
        refusal.status, refusal.reason, refusal.title, refusal.detail, headers, extra=extra
    )


def refuse_invalid_request(_request: Request, _exc: Exception) -> Response:
    """FastAPI's request validation (outside ``POST /v1/events``, which reads its own body)."""
    return refused(
        RequestRefusedError(422, ReasonCode.SCHEMA_VIOLATION, "the request does not match the API")
    )
