"""Binary and structured content mode: the codec converts between them, both ways, losslessly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.codec import (
    CONTENT_TYPE,
    binary_headers,
    from_kafka,
    read_binary_headers,
    record_from_structured,
    structured_event,
    to_kafka,
)
from schemas.errors import NotUtf8Error
from schemas.events import MeasureEnded, ReferralRequested
from tests.factories import OFFICIAL_SAMPLE_AHV, sample_event


def _structured(**attributes: Any) -> dict[str, Any]:
    record = to_kafka(sample_event(ReferralRequested, **attributes))
    return structured_event(read_binary_headers(record.headers), json.loads(record.value))


def test_a_record_and_its_structured_form_decode_to_the_same_event() -> None:
    event = sample_event(MeasureEnded, partitionkey="RAV-2025-0815", correlationid="c-1")
    record = to_kafka(event)

    structured = structured_event(read_binary_headers(record.headers), json.loads(record.value))
    again = record_from_structured(json.loads(json.dumps(structured)))

    assert from_kafka(again.key, again.value, again.headers) == event
    assert again.key == record.key


def test_structured_mode_puts_datacontenttype_and_data_last() -> None:
    structured = _structured()

    assert list(structured)[-2:] == ["datacontenttype", "data"]
    assert structured["datacontenttype"] == "application/json"
    assert structured["specversion"] == "1.0"


def test_without_a_partitionkey_the_key_is_the_senders_case_reference() -> None:
    event = _structured()
    event["data"]["person"] = {"ahv_number": OFFICIAL_SAMPLE_AHV, "case_ref": "SH-2026-0042"}

    record = record_from_structured(event)

    assert record.key == b"SH-2026-0042"
    assert record.header(CONTENT_TYPE) == b"application/json"
    assert record.header("ce_data") is None


def test_a_case_reference_that_cannot_be_stored_makes_no_key() -> None:
    event = _structured()
    event["data"]["person"] = {"ahv_number": OFFICIAL_SAMPLE_AHV, "case_ref": "SH-\x00-1"}

    assert record_from_structured(event).key is None


def test_attributes_that_are_not_text_become_their_json_text() -> None:
    record = record_from_structured({"id": 7, "flag": True, "ratio": 0.5, "tags": ["a"]})

    assert dict(record.headers) == {
        "ce_id": b"7",
        "ce_flag": b"true",
        "ce_ratio": b"0.5",
        "ce_tags": b'["a"]',
    }
    assert record.value == b"null"


def test_something_that_is_not_an_object_becomes_the_value_and_is_refused_later() -> None:
    record = record_from_structured(["not", "an", "event"])

    assert record.key is None
    assert record.headers == ()
    assert json.loads(record.value) == ["not", "an", "event"]


def test_a_lone_surrogate_in_an_attribute_becomes_a_header_that_is_not_utf8() -> None:
    record = record_from_structured({"id": "a\ud800b", "data": {}})

    with pytest.raises(NotUtf8Error, match="header ce_id"):
        read_binary_headers(record.headers)


def test_a_lone_surrogate_in_data_stays_the_json_escape_the_sender_wrote() -> None:
    record = record_from_structured({"data": {"note": "a\udc00b"}})

    assert record.value == b'{"note":"a\\udc00b"}'


def test_reading_headers_ignores_other_headers_and_lowercases_names() -> None:
    headers = [
        ("CE_Type", b"ch.bl.iiz.case.opened.v1"),
        ("Content-Type", b"application/json"),
        ("traceparent", b"\xff\xfe"),
    ]

    assert read_binary_headers(headers) == {
        "type": "ch.bl.iiz.case.opened.v1",
        "datacontenttype": "application/json",
    }


def test_a_header_name_shaped_like_an_ahv_number_is_masked_when_named() -> None:
    with pytest.raises(NotUtf8Error) as caught:
        read_binary_headers([("ce_7569217076985", b"\xff")])

    assert "7569217076985" not in caught.value.message


def test_attributes_become_headers_in_their_order_with_the_content_type_by_its_own_name() -> None:
    headers = binary_headers({"id": "x", "datacontenttype": "application/json", "type": "t"})

    assert headers == (
        ("ce_id", b"x"),
        (CONTENT_TYPE, b"application/json"),
        ("ce_type", b"t"),
    )
