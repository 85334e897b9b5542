"""``POST /v1/events``: partners without a Kafka client submit one event or a batch.

Every event that comes in here is turned (by ``schemas.codec``) into exactly the Kafka record a
partner would have written in binary content mode and goes through the one intake pipeline, so
validation, reason codes, receipts and dead letters are identical to the Kafka door.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from schemas.codec import CONTENT_TYPE, JSON_CONTENT_TYPE, KafkaRecord, record_from_structured
from schemas.errors import ReasonCode
from schemas.registry.institutions import Institution
from services.common.outages import is_fatal, log_failure
from services.intake.answers import receipt
from services.intake.http_door.events_openapi import BATCH_MEDIA_TYPE, STRUCTURED_MEDIA_TYPES
from services.intake.http_door.limits import BodyTooLargeError, read_capped
from services.intake.http_door.reasons import (
    STATUS_BY_REASON,
    HttpReason,
    RequestRefusedError,
    refused,
)
from services.intake.http_door.state import HttpIntake, intake_of
from services.intake.pipeline import Answered
from services.intake.settings import IntakeSettings
from services.intake.submission import Rejected, Submission

log = structlog.get_logger("intake.http")


async def post_events(request: Request) -> Response:
    """Authenticate, read, charge the rate limit, submit, answer with receipts or a problem."""
    intake = intake_of(request)
    request_id = str(uuid.uuid4())
    try:
        sender = await _sender_of(request, intake)
        items, is_batch = await _events_of(request, intake.settings)
        _charge(intake, sender, max(len(items), 1))
        if not items:
            return _receipts([], request_id)
        submissions = [
            Submission(
                sender=sender,
                record=record,
                channel=f"http:{request_id}/{index}" if is_batch else f"http:{request_id}",
            )
            for index, record in enumerate(items)
        ]
        answered = await _process(request, intake, submissions, request_id)
        return _answer(answered, is_batch, sender, request_id)
    except RequestRefusedError as refusal:
        return refused(refusal, request_id)


async def _sender_of(request: Request, intake: HttpIntake) -> Institution:
    token = _bearer_token(request)
    sender = None if token is None else await intake.tokens.institution_for(token)
    if sender is None:
        raise RequestRefusedError(
            401,
            HttpReason.UNKNOWN_SENDER,
            "send an access token of your institution as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="iiz-intake"'},
        )
    return sender


async def _events_of(request: Request, settings: IntakeSettings) -> tuple[list[KafkaRecord], bool]:
    if _media_type(request) not in (*STRUCTURED_MEDIA_TYPES, BATCH_MEDIA_TYPE):
        raise RequestRefusedError(
            415,
            HttpReason.UNSUPPORTED_MEDIA_TYPE,
            "send application/cloudevents+json, application/cloudevents-batch+json or "
            "application/json",
        )
    try:
        body = await read_capped(request, settings.intake_max_request_bytes)
    except BodyTooLargeError as error:
        raise RequestRefusedError(413, ReasonCode.TOO_LARGE, str(error)) from None
    items, is_batch = records_of_body(body)
    if is_batch and len(items) > settings.intake_max_batch_events:
        raise RequestRefusedError(
            413,
            ReasonCode.TOO_LARGE,
            f"the batch has {len(items)} events; the limit is {settings.intake_max_batch_events}",
        )
    return items, is_batch


def _charge(intake: HttpIntake, sender: Institution, count: int) -> None:
    wait = intake.limiter.take(sender.id, count)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise RequestRefusedError(
            429,
            HttpReason.RATE_LIMITED,
            f"over {intake.settings.intake_rate_per_minute} events per minute for {sender.id}; "
            f"send again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


async def _process(
    request: Request, intake: HttpIntake, submissions: Sequence[Submission], request_id: str
) -> list[Answered]:
    try:
        return await intake.process(submissions)
    except Exception as error:
        if is_fatal(error):  # a successor with this instance id took over: make way for it
            log.error("intake HTTP door fenced", error=type(error).__name__)
            if (stop := getattr(request.app.state, "on_fenced", None)) is not None:
                stop()
        else:
            log_failure(log, "publishing an HTTP submission failed", error, request_id=request_id)
        raise RequestRefusedError(
            503,
            HttpReason.UNAVAILABLE,
            "the submission could not be recorded; nothing was accepted, send it again later",
            headers={"Retry-After": "10"},
        ) from None


def _answer(
    answered: list[Answered], is_batch: bool, sender: Institution, request_id: str
) -> Response:
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
        raise RequestRefusedError(
            STATUS_BY_REASON.get(refusal.reason, 422),
            refusal.reason.value,
            refusal.message,
            receipt=receipts[0],
        )
    return _receipts(receipts, request_id)


def _receipts(receipts: list[dict[str, Any]], request_id: str) -> JSONResponse:
    return JSONResponse(
        {"receipts": receipts}, status_code=202, headers={"X-Request-ID": request_id}
    )


def receipt_body(answered: Answered, now: dt.datetime) -> dict[str, Any]:
    """The receipt's data as JSON, as the partner also finds it on its delivery topic."""
    body: dict[str, Any] = receipt(
        answered.outcome, duplicate=answered.duplicate, now=now
    ).data.model_dump(mode="json", exclude_none=True)
    return body


def records_of_body(body: bytes) -> tuple[list[KafkaRecord], bool]:
    """The records of a body (one per array element, or the single event), and whether it was
    a batch.

    A body that is not UTF-8 JSON (or nested too deeply to be read) is passed on whole as one
    record's value, so the pipeline rejects it (not_utf8, not_json) with a receipt and a dead
    letter like on Kafka.
    """
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        whole = KafkaRecord(
            key=None, value=body, headers=((CONTENT_TYPE, JSON_CONTENT_TYPE.encode()),)
        )
        return [whole], False
    if isinstance(parsed, list):
        return [record_from_structured(item) for item in parsed], True
    return [record_from_structured(parsed)], False


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def _bearer_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
