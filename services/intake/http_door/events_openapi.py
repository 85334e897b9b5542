"""How ``POST /v1/events`` is described in the OpenAPI document: request body, example, answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from schemas.receipts import Receipt
from services.common.problems import problem_response

STRUCTURED_MEDIA_TYPES = ("application/cloudevents+json", "application/json")
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"


class ReceiptList(BaseModel):
    """One receipt per submitted event, in the order of the request."""

    receipts: list[Receipt]


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

POST_EVENTS_SUMMARY = "Submit one event or a batch of events"
POST_EVENTS_DESCRIPTION = (
    "Send one CloudEvent in structured JSON mode (`application/cloudevents+json` or "
    "`application/json`) or a batch (`application/cloudevents-batch+json`, or any JSON "
    "array). A single accepted or duplicate event and every batch are answered `202` "
    "with receipts. A single rejected event is answered with a 4xx problem whose "
    "`receipt` is the rejection receipt; it is dead-lettered like on Kafka. The event's "
    "`source` must be the token's institution."
)

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
    400: problem_response("The body is not JSON (not_json) or not UTF-8 (not_utf8)."),
    401: problem_response("No, an unknown or a revoked bearer token (unknown_sender)."),
    403: problem_response(
        "The event's source is not the token's institution (source_mismatch) or is no "
        "registered institution (unknown_source)."
    ),
    413: problem_response("The request or the event is too large, or the batch too long."),
    415: problem_response("Not a CloudEvents JSON media type (unsupported_media_type)."),
    422: problem_response(
        "The single event was rejected: schema_violation, invalid_ahv, unknown_type, "
        "missing_attribute or invalid_attribute. The body carries the rejection receipt."
    ),
    429: problem_response(
        "Over the institution's events per minute (rate_limited). Send again after "
        "Retry-After seconds with the same ids (a repeat is answered as duplicate)."
    ),
    503: problem_response("Kafka or PostgreSQL unreachable (unavailable); send again later."),
}
