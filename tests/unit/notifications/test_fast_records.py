"""The router's records written directly are the bytes the pydantic models wrote.

``outcome_record`` builds the outcome report's headers and JSON without the envelope;
``outcome_event`` + ``to_kafka`` is the long way it must match for every delivery (sealed
identity or not, alerts, refusals), every channel, status, attempt, error text and time.
``may_be_webhook`` lets the webhook lane skip records on their headers alone: it must never skip
one that ``read_delivery`` + ``route`` would send as a webhook.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from schemas.alerts import Audience
from schemas.codec import KafkaRecord, to_kafka
from schemas.events import CaseOpened
from schemas.outcomes import DeliveryChannel, DeliveryOutcome, OutcomeStatus
from schemas.refusals import RefusalReason
from schemas.registry.institutions import (
    Institution,
    InstitutionRegistry,
    WebhookChannel,
    load_institutions,
)
from services.coordination.domain.event_step import Refused
from services.coordination.worker.deliveries import refusal_delivery
from services.notifications.reports import outcome_event, outcome_id, outcome_record
from services.notifications.shaping import (
    Delivery,
    Lane,
    UnroutableError,
    may_be_webhook,
    read_delivery,
    route,
    webhook_recipients,
)
from tests.case_story import CaseStory
from tests.integration.notifications.conftest import alert_for, authorised

IDENTITY = frozenset({"person.ahv_number", "person.sealed_ahv"})
UTC_TIMES = (
    dt.datetime(2026, 12, 6, 11, 0, 51, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 6, 11, 0, 51, tzinfo=dt.UTC),
    dt.datetime(2026, 12, 6, 11, 0, 51, 1000, tzinfo=dt.UTC),
    dt.datetime(2026, 1, 6, 11, 0, 51, 5, tzinfo=ZoneInfo("UTC")),
    dt.datetime(2026, 1, 6, 11, 0, 51, tzinfo=dt.timezone(dt.timedelta(0), "X")),
)
OTHER_TIMES = (
    dt.datetime(2026, 12, 6, 11, 0, 51, 7, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    dt.datetime(2026, 7, 6, 11, 0, 51, tzinfo=ZoneInfo("Europe/Zurich")),
)
ERRORS = (
    None,
    "",
    "HTTP 503",
    "circuit open",
    'a "quoted" back\\slash / é ü 😀 \u2028 end',
    "line\nbreak\ttab\x00nul\x7fdel",
    "x" * 400,
    "InvalidToken",
)


def _deliveries() -> list[Delivery]:
    story = CaseStory(person_seed=4242)
    opened = story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    records = [
        authorised(opened, "iv"),
        authorised(opened, "zif", withheld=IDENTITY),
        authorised(opened, "sozialhilfe-2829"),
        alert_for(
            "sozialhilfe-2829",
            Audience.COORDINATOR,
            pseudonym=str(opened.subject),
            message="Parallel planning",
        ),
        alert_for("iv", Audience.INSTITUTION, pseudonym=str(opened.subject), message="Hallo"),
        refusal_delivery(
            opened,
            Refused("rav", next(iter(RefusalReason))),
            pseudonym=str(opened.subject),
            lanes=6,
        ).record,
    ]
    return [read_delivery(r) for r in records]


def _long_way(delivery: Delivery, *args: Any, **kwargs: Any) -> KafkaRecord:
    return to_kafka(outcome_event(delivery, *args, **kwargs))


@pytest.mark.parametrize("delivery", _deliveries(), ids=lambda d: f"{d.type}-{d.recipient}")
def test_outcome_records_are_the_envelopes_bytes(delivery: Delivery) -> None:
    cases = itertools.product(
        DeliveryChannel, OutcomeStatus, (1, 2, 6), ERRORS, UTC_TIMES + OTHER_TIMES
    )
    for channel, status, attempt, error, at in cases:
        fast = outcome_record(delivery, channel, status, attempt=attempt, at=at, error=error)
        slow = _long_way(delivery, channel, status, attempt=attempt, at=at, error=error)
        assert fast == slow, (channel, status, attempt, error, at)


def test_outcome_record_bytes_are_pinned() -> None:
    """One record written out, so a change to both ways at once is seen too."""
    delivery = _deliveries()[0]
    at = dt.datetime(2026, 12, 6, 11, 0, 51, 123456, tzinfo=dt.UTC)
    record = outcome_record(
        delivery, DeliveryChannel.WEBHOOK, OutcomeStatus.FAILED, attempt=2, at=at, error="HTTP 503"
    )
    delivery_id = delivery.attributes["id"]
    assert record.key == delivery_id.encode()
    assert json.loads(record.value) == {
        "delivery_id": delivery_id,
        "recipient": "iv",
        "channel": "webhook",
        "status": "failed",
        "attempt": 2,
        "message_type": delivery.type,
        "error": "HTTP 503",
    }
    expected_id = DeliveryOutcome.id_for(uuid.UUID(delivery_id), OutcomeStatus.FAILED, 2)
    assert [name for name, _ in record.headers] == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "ce_dataschema",
        "ce_datacategory",
        "ce_partitionkey",
        "ce_causationid",
        "ce_recipient",
        "content-type",
    ]
    assert record.header("ce_id") == str(expected_id).encode()
    assert record.header("ce_time") == b"2026-12-06T11:00:51.123456Z"


def test_odd_inputs_take_the_long_way_and_fail_or_match_as_before() -> None:
    delivery = _deliveries()[1]
    upper = Delivery(
        {**delivery.attributes, "id": delivery.attributes["id"].upper()},
        delivery.content_type,
        delivery.data,
        delivery.record,
    )
    at = UTC_TIMES[0]
    args = (DeliveryChannel.KAFKA, OutcomeStatus.DELIVERED)
    assert outcome_record(upper, *args, attempt=1, at=at) == _long_way(
        upper, *args, attempt=1, at=at
    )
    surrogate = "bad \ud800 text"
    with pytest.raises(ValidationError):
        _long_way(delivery, *args, attempt=1, at=at, error=surrogate)
    with pytest.raises(ValidationError):
        outcome_record(delivery, *args, attempt=1, at=at, error=surrogate)
    for bad in (
        {"attempt": 0, "at": at},
        {"attempt": 1, "at": dt.datetime(2026, 12, 6, 11, 0)},  # naive
    ):
        with pytest.raises(ValidationError):
            outcome_record(delivery, *args, **bad)  # type: ignore[arg-type]
    invalid = Delivery(
        {**delivery.attributes, "recipient": "Not An Id"},
        delivery.content_type,
        delivery.data,
        delivery.record,
    )
    with pytest.raises(ValidationError):
        outcome_record(invalid, *args, attempt=1, at=at)


def test_outcome_ids_are_the_uuid5_of_the_model() -> None:
    for _ in range(200):
        delivery_id = uuid.uuid4()
        for status, attempt in itertools.product(OutcomeStatus, (1, 3, 50)):
            expected = DeliveryOutcome.id_for(delivery_id, status, attempt)
            assert outcome_id(str(delivery_id), status, attempt) == str(expected)


# ----- the webhook lane's skip on headers ------------------------------------------------------


def _registry_with_webhook() -> InstitutionRegistry:
    packaged = load_institutions()
    channel = WebhookChannel.model_validate(
        {"kind": "webhook", "url": "https://partner.example/hook", "secret_env": "IIZ_SECRET"}
    )
    institutions: list[Institution] = [
        i.model_copy(update={"channel": channel}) if i.id in {"iv", "sozialhilfe-2829"} else i
        for i in packaged.institutions
    ]
    return InstitutionRegistry(version=packaged.version, institutions=tuple(institutions))


def _variants(record: KafkaRecord) -> list[KafkaRecord]:
    """The record, and what a partner or a bug could make of its headers."""
    headers = list(record.headers)
    without = [(n, v) for n, v in headers if n != "ce_recipient"]
    return [
        record,
        KafkaRecord(record.key, record.value, tuple(without)),
        KafkaRecord(record.key, record.value, (*without, ("CE_Recipient", b"iv"))),
        KafkaRecord(record.key, record.value, (*headers, ("ce_recipient", b"rav"))),
        KafkaRecord(record.key, record.value, (*without, ("ce_recipient", b"iv"), ("x", b"1"))),
        KafkaRecord(record.key, record.value, (*without, ("ce_recipient", b"\xffiv"))),
        KafkaRecord(record.key, record.value, (*without, ("ce_recipient", b"nobody"))),
        KafkaRecord(record.key, b"not json", record.headers),
        KafkaRecord(record.key, record.value, (*headers, ("ce_type", b"\xff"))),
    ]


def test_records_skipped_on_headers_would_never_be_webhooks() -> None:
    registry = _registry_with_webhook()
    webhook_ids = webhook_recipients(registry)
    assert webhook_ids == {b"iv", b"sozialhilfe-2829"}
    story = CaseStory(person_seed=77)
    opened = story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    originals = [authorised(opened, r) for r in ("iv", "rav", "sozialhilfe-2829", "zif")]
    originals.append(
        alert_for(
            "sozialhilfe-2829", Audience.COORDINATOR, pseudonym=str(opened.subject), message="x"
        )
    )
    seen_webhook = seen_skipped = 0
    for record in itertools.chain.from_iterable(_variants(r) for r in originals):
        try:
            is_webhook = route(read_delivery(record), registry).lane is Lane.WEBHOOK
        except UnroutableError:
            is_webhook = False
        if not may_be_webhook(record, webhook_ids):
            assert not is_webhook, record.headers
            seen_skipped += 1
        seen_webhook += is_webhook
    assert seen_webhook >= 4
    assert seen_skipped >= 10
    assert webhook_recipients(load_institutions()) == frozenset()
