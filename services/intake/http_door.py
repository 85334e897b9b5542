"""The HTTP door: ``POST /v1/events`` for partners without a Kafka client, and the web form.

Every event that comes in here is turned into exactly the Kafka record a partner would have
written in binary content mode and goes through the one intake pipeline, so validation, reason
codes, receipts and dead letters are identical to the Kafka door.

Run it with ``python -m services.intake.http_door`` (uvicorn on 127.0.0.1:$IIZ_INTAKE_HTTP_PORT)
or ``uvicorn --factory services.intake.http_door:create_http_app``.

The rate limit is a token bucket per institution **in the memory of one instance**: with n
instances behind a load balancer an institution may send up to n times the configured rate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from schemas.codec import CE_PREFIX, CONTENT_TYPE, KafkaRecord
from schemas.errors import ReasonCode
from schemas.receipts import Receipt
from schemas.storable import SURROGATE, unstorable_code_point
from services.common.logging import configure_logging, redact_ahv_numbers
from services.common.outages import is_fatal, log_failure
from services.intake.answers import receipt
from services.intake.pipeline import Answered, IntakePipeline
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Rejected, Submission
from services.intake.tokens import TokenStore

log = structlog.get_logger("intake.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://iiz.bl.ch/problems/"
STRUCTURED_MEDIA_TYPES = ("application/cloudevents+json", "application/json")
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
READINESS_TIMEOUT_SECONDS = 3.0


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


UNKNOWN_SENDER = HttpReason.UNKNOWN_SENDER
RATE_LIMITED = HttpReason.RATE_LIMITED

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

_REASON_BY_HTTP_STATUS = {
    404: HttpReason.NOT_FOUND,
    405: HttpReason.METHOD_NOT_ALLOWED,
    413: ReasonCode.TOO_LARGE,
    415: HttpReason.UNSUPPORTED_MEDIA_TYPE,
}


# ---------------------------------------------------------------------------------------------
# Response models (for the OpenAPI description; responses are built as plain JSON)


class Problem(BaseModel):
    """RFC 9457 problem details, with the reason code and (for a rejected event) its receipt."""

    type: str = Field(
        description="https://iiz.bl.ch/problems/<reason>",
        examples=["https://iiz.bl.ch/problems/invalid_ahv"],
    )
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="Explanation for a human; never contains personal data.")
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


class ReceiptList(BaseModel):
    """One receipt per submitted event, in the order of the request."""

    receipts: list[Receipt]


# ---------------------------------------------------------------------------------------------
# Building blocks


def problem(
    status: int,
    reason: str,
    detail: str,
    *,
    request_id: str | None = None,
    receipt_body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; ``detail`` is redacted once more (defence in depth)."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_TYPE_BASE}{reason}",
        "title": TITLES.get(reason, "Error"),
        "status": status,
        "detail": redact_ahv_numbers(detail)[:1000],
        "reason": reason,
    }
    if request_id is not None:
        body["instance"] = f"urn:uuid:{request_id}"
    if receipt_body is not None:
        body["receipt"] = receipt_body
    all_headers = {**(headers or {}), **({"X-Request-ID": request_id} if request_id else {})}
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=all_headers
    )


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Token bucket per institution: ``per_minute`` events, refilled continuously.

    In memory of this instance only (documented limitation: n instances allow n times the rate).
    A request larger than the bucket is charged the full bucket, so it passes when it is full.
    """

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key: str, count: int) -> float | None:
        """Charge ``count`` events; ``None`` if allowed, else the seconds until it would be."""
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.setdefault(key, _Bucket(float(self.per_minute), now))
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        needed = float(min(count, self.per_minute))
        if bucket.tokens >= needed:
            bucket.tokens -= needed
            return None
        return (needed - bucket.tokens) / rate


class BodyTooLargeError(Exception):
    pass


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, refused early by ``Content-Length`` and cut off at ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"the request has {int(declared)} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLargeError(f"the request exceeds the limit of {limit} bytes")
    return bytes(body)


def _encode(text: str) -> bytes:
    # An attribute may carry a lone surrogate (JSON "\ud800"); as a header it becomes invalid
    # UTF-8, which the codec then rejects as not_utf8 like a Kafka header that is not UTF-8.
    return text.encode("utf-8", "surrogatepass")


def _json_value(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8, as a partner would write the record's value.

    A lone surrogate stays the JSON escape the sender wrote (``\\ud800``), so the value is
    valid UTF-8 and the codec refuses the string at its place (schema_violation), as on Kafka.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return SURROGATE.sub(_escaped, text).encode("utf-8")


def _escaped(found: re.Match[str]) -> str:
    return f"\\u{ord(found.group()):04x}"


def _attribute_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def record_from_structured(event: Any) -> KafkaRecord:
    """A structured-mode CloudEvent (parsed JSON) as the binary-mode Kafka record it stands for.

    Attributes become ``ce_<name>`` headers, ``datacontenttype`` the ``content-type`` header,
    ``data`` the JSON value; the key is ``partitionkey`` or else ``data.person.case_ref``.
    Anything that is not an object is passed on as the value, and the codec rejects it.
    """
    if not isinstance(event, dict):
        return KafkaRecord(key=None, value=_json_value(event), headers=())
    headers: list[tuple[str, bytes]] = []
    for name, value in event.items():
        if name == "data" or value is None:
            continue
        text = _encode(_attribute_text(value))
        headers.append(
            (CONTENT_TYPE, text) if name == "datacontenttype" else (CE_PREFIX + name, text)
        )
    data = event.get("data")
    key: str | None = None
    if isinstance(event.get("partitionkey"), str):
        key = event["partitionkey"]
    elif isinstance(data, dict) and isinstance(data.get("person"), dict):
        key = _key_of_case_ref(data["person"].get("case_ref"))
    return KafkaRecord(
        key=None if key is None else _encode(key), value=_json_value(data), headers=tuple(headers)
    )


def _key_of_case_ref(case_ref: Any) -> str | None:
    # Text that cannot be stored makes no key: the codec refuses it where it was written.
    if isinstance(case_ref, str) and unstorable_code_point(case_ref) is None:
        return case_ref
    return None


@dataclass
class HttpIntake:
    """What the HTTP door and the web form share: pipeline, token store, rate limiter."""

    runtime: IntakeRuntime
    pipeline: IntakePipeline
    tokens: TokenStore
    limiter: RateLimiter
    # One transactional producer runs one transaction at a time: requests take turns.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def settings(self) -> IntakeSettings:
        return self.runtime.settings

    async def process(self, submissions: Sequence[Submission]) -> list[Answered]:
        async with self.lock:
            return await self.pipeline.process(submissions)

    async def ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            assert self.runtime.pool is not None
            await asyncio.wait_for(
                self.runtime.pool.fetchval("SELECT 1"), READINESS_TIMEOUT_SECONDS
            )
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unreachable"
        try:
            assert self.runtime.producer is not None
            await asyncio.wait_for(
                self.runtime.producer.client.fetch_all_metadata(), READINESS_TIMEOUT_SECONDS
            )
            checks["kafka"] = "ok"
        except Exception:
            checks["kafka"] = "unreachable"
        return checks


def intake_of(request: Request) -> HttpIntake:
    found: HttpIntake = request.app.state.intake
    return found


def receipt_body(answered: Answered, now: dt.datetime) -> dict[str, Any]:
    body: dict[str, Any] = receipt(
        answered.outcome, duplicate=answered.duplicate, now=now
    ).data.model_dump(mode="json", exclude_none=True)
    return body


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def _bearer_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


# ---------------------------------------------------------------------------------------------
# The endpoint

REQUEST_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "A CloudEvent in structured JSON mode: the context attributes (specversion, id, source, "
        "type, time, and optionally subject, dataschema, datacategory, partitionkey, "
        "correlationid, causationid) and `data`, the event data as in docs/contract.md."
    ),
    "required": ["specversion", "id", "source", "type", "time", "data"],
    "properties": {
        "specversion": {"type": "string", "const": "1.0"},
        "id": {"type": "string", "format": "uuid"},
        "source": {"type": "string", "examples": ["/iiz/bl/sozialhilfe/2829"]},
        "type": {"type": "string", "examples": ["ch.bl.iiz.referral.requested.v1"]},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "const": "application/json"},
        "data": {"type": "object"},
    },
    "additionalProperties": True,
}
EXAMPLE_EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "6f1c1f9e-2b1a-4f56-9d7c-3b6f0a9d2e11",
    "source": "/iiz/bl/sozialhilfe/2829",
    "type": "ch.bl.iiz.referral.requested.v1",
    "time": "2026-03-02T09:15:00+01:00",
    "datacontenttype": "application/json",
    "data": {
        "person": {"ahv_number": "756.9217.0769.85", "case_ref": "SH-2026-0042"},
        "referral_id": "0c2a3f4e-5d6b-4c7a-8e9f-a0b1c2d3e4f5",
        "to_institution": "zif",
        "purpose": "zif-first-interview",
    },
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


POST_EVENTS_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "One event (structured mode) or a batch (a JSON array of events, at most "
            "IIZ_INTAKE_MAX_BATCH_EVENTS). Binary mode (ce-* HTTP headers) is not supported."
        ),
        "content": {
            "application/cloudevents+json": {
                "schema": REQUEST_BODY_SCHEMA,
                "example": EXAMPLE_EVENT,
            },
            "application/json": {"schema": REQUEST_BODY_SCHEMA},
            BATCH_MEDIA_TYPE: {
                "schema": {"type": "array", "items": REQUEST_BODY_SCHEMA},
                "example": [EXAMPLE_EVENT],
            },
        },
    }
}

POST_EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ReceiptList,
        "description": (
            "Received. One receipt per event: accepted, duplicate (sent before; nothing new "
            "happened) or — in a batch — rejected with its reason."
        ),
    },
    400: _problem_response("The body is not JSON (not_json) or not UTF-8 (not_utf8)."),
    401: _problem_response("No, an unknown or a revoked bearer token (unknown_sender)."),
    403: _problem_response(
        "The event's source is not the token's institution (source_mismatch) or is no "
        "registered institution (unknown_source)."
    ),
    413: _problem_response("The request or the event is too large, or the batch too long."),
    415: _problem_response("Not a CloudEvents JSON media type (unsupported_media_type)."),
    422: _problem_response(
        "The single event was rejected: schema_violation, invalid_ahv, unknown_type, "
        "missing_attribute or invalid_attribute. The body carries the rejection receipt."
    ),
    429: _problem_response(
        "Over the institution's events per minute (rate_limited). Send again after "
        "Retry-After seconds with the same ids (a repeat is answered as duplicate)."
    ),
    503: _problem_response("Kafka or PostgreSQL unreachable (unavailable); send again later."),
}


async def post_events(request: Request) -> Response:
    intake = intake_of(request)
    settings = intake.settings
    request_id = str(uuid.uuid4())

    token = _bearer_token(request)
    sender = None if token is None else await intake.tokens.institution_for(token)
    if sender is None:
        return problem(
            401,
            UNKNOWN_SENDER,
            "send an access token of your institution as 'Authorization: Bearer <token>'",
            request_id=request_id,
            headers={"WWW-Authenticate": 'Bearer realm="iiz-intake"'},
        )

    media_type = _media_type(request)
    if media_type not in (*STRUCTURED_MEDIA_TYPES, BATCH_MEDIA_TYPE):
        return problem(
            415,
            HttpReason.UNSUPPORTED_MEDIA_TYPE,
            "send application/cloudevents+json, application/cloudevents-batch+json or "
            "application/json",
            request_id=request_id,
        )
    try:
        body = await read_capped(request, settings.intake_max_request_bytes)
    except BodyTooLargeError as error:
        return problem(413, ReasonCode.TOO_LARGE, str(error), request_id=request_id)

    items, is_batch = _split(body)
    if is_batch and len(items) > settings.intake_max_batch_events:
        return problem(
            413,
            ReasonCode.TOO_LARGE,
            f"the batch has {len(items)} events; the limit is {settings.intake_max_batch_events}",
            request_id=request_id,
        )
    wait = intake.limiter.take(sender.id, max(len(items), 1))
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        return problem(
            429,
            RATE_LIMITED,
            f"over {settings.intake_rate_per_minute} events per minute for {sender.id}; "
            f"send again in {seconds} s",
            request_id=request_id,
            headers={"Retry-After": str(seconds)},
        )
    if not items:
        return JSONResponse({"receipts": []}, status_code=202, headers={"X-Request-ID": request_id})

    submissions = [
        Submission(
            sender=sender,
            record=record,
            channel=f"http:{request_id}/{index}" if is_batch else f"http:{request_id}",
        )
        for index, record in enumerate(items)
    ]
    try:
        answered = await intake.process(submissions)
    except Exception as error:
        if is_fatal(error):  # a successor with this instance id took over: make way for it
            log.error("intake HTTP door fenced", error=type(error).__name__)
            if (stop := getattr(request.app.state, "on_fenced", None)) is not None:
                stop()
        else:
            log_failure(log, "publishing an HTTP submission failed", error, request_id=request_id)
        return problem(
            503,
            HttpReason.UNAVAILABLE,
            "the submission could not be recorded; nothing was accepted, send it again later",
            request_id=request_id,
            headers={"Retry-After": "10"},
        )
    now = dt.datetime.now(dt.UTC)
    receipts = [receipt_body(a, now) for a in answered]
    log.info(
        "http submission",
        request_id=request_id,
        sender=sender.id,
        events=len(answered),
        rejected=sum(isinstance(a.outcome, Rejected) for a in answered),
    )
    if not is_batch and isinstance(answered[0].outcome, Rejected):
        refusal = answered[0].outcome.error
        return problem(
            STATUS_BY_REASON.get(refusal.reason, 422),
            refusal.reason.value,
            refusal.message,
            request_id=request_id,
            receipt_body=receipts[0],
        )
    return JSONResponse(
        {"receipts": receipts}, status_code=202, headers={"X-Request-ID": request_id}
    )


def _split(body: bytes) -> tuple[list[KafkaRecord], bool]:
    """The records of a body: one per array element, or the single event.

    A body that is not UTF-8 JSON (or nested too deeply to be read) is passed on whole as one
    record's value, so the pipeline rejects it (not_utf8, not_json) with a receipt and a dead
    letter like on Kafka.
    """
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return [
            KafkaRecord(key=None, value=body, headers=((CONTENT_TYPE, b"application/json"),))
        ], False
    if isinstance(parsed, list):
        return [record_from_structured(item) for item in parsed], True
    return [record_from_structured(parsed)], False


# ---------------------------------------------------------------------------------------------
# The app


def _problem_of_http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    reason = _REASON_BY_HTTP_STATUS.get(status, HttpReason.INTERNAL_ERROR)
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "internal error"
    return problem(status, reason, str(detail), headers=getattr(exc, "headers", None))


def _problem_of_validation_error(request: Request, exc: Exception) -> Response:
    return problem(422, ReasonCode.SCHEMA_VIOLATION, "the request does not match the API")


def _problem_of_crash(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", error_type=type(exc).__name__, path=request.url.path)
    return problem(500, HttpReason.INTERNAL_ERROR, "internal error")


def create_http_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Factory for ``uvicorn --factory``; nothing connects before the lifespan starts."""
    settings = settings or IntakeSettings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = IntakeRuntime(settings)
        try:
            pipeline = await runtime.start("http")
            assert runtime.pool is not None
            app.state.intake = HttpIntake(
                runtime=runtime,
                pipeline=pipeline,
                tokens=TokenStore(runtime.pool, runtime.registry),
                limiter=RateLimiter(settings.intake_rate_per_minute),
            )
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="IIZ intake",
        version="1.0.0",
        summary="Submit IIZ case events over HTTP (for partners without a Kafka client).",
        description=(
            "Events submitted here are validated exactly like events on the partner's Kafka "
            "intake topic (docs/contract.md): same reason codes, same receipts (also on the "
            "partner's delivery topic), same dead letters. Authenticate with a bearer token "
            "issued for your institution. Errors are `application/problem+json` (RFC 9457) "
            "with a stable `reason`. The rate limit is per institution and per service "
            "instance."
        ),
        lifespan=lifespan,
        openapi_tags=[
            {"name": "events", "description": "Submitting case events."},
            {"name": "operations", "description": "Liveness and readiness probes."},
        ],
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.intake_session_secret.get_secret_value(),
        session_cookie="iiz_formular",
        max_age=8 * 60 * 60,
        path="/formular",
        same_site="strict",
        https_only=settings.environment == "production",
    )
    app.add_exception_handler(StarletteHTTPException, _problem_of_http_exception)
    app.add_exception_handler(RequestValidationError, _problem_of_validation_error)
    app.add_exception_handler(Exception, _problem_of_crash)

    app.add_api_route(
        "/v1/events",
        post_events,
        methods=["POST"],
        tags=["events"],
        summary="Submit one event or a batch of events",
        description=(
            "Send one CloudEvent in structured JSON mode (`application/cloudevents+json` or "
            "`application/json`) or a batch (`application/cloudevents-batch+json`, or any JSON "
            "array). A single accepted or duplicate event and every batch are answered `202` "
            "with receipts. A single rejected event is answered with a 4xx problem whose "
            "`receipt` is the rejection receipt; it is dead-lettered like on Kafka. The event's "
            "`source` must be the token's institution."
        ),
        status_code=202,
        response_class=JSONResponse,
        responses=POST_EVENTS_RESPONSES,
        openapi_extra=POST_EVENTS_OPENAPI,
    )

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: PostgreSQL and Kafka are reachable",
        responses={503: _problem_response("A dependency is unreachable.")},
    )
    async def readyz(request: Request) -> Response:
        checks = await intake_of(request).ready()
        if all(value == "ok" for value in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        unreachable = ", ".join(name for name, value in checks.items() if value != "ok")
        return problem(503, HttpReason.UNAVAILABLE, f"unreachable: {unreachable}")

    from services.intake.web_form import install_web_form  # the form needs the app's state

    install_web_form(app, settings)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(problem_schema.pop("$defs", {}))
            components["Problem"] = problem_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def main() -> None:
    import uvicorn

    settings = IntakeSettings()
    app = create_http_app(settings)
    # Fenced by a successor with the same instance id: end this process (uvicorn shuts down
    # gracefully on SIGTERM) instead of answering 503 for ever.
    app.state.on_fenced = lambda: os.kill(os.getpid(), signal.SIGTERM)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=settings.intake_http_port,
        proxy_headers=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
