"""Text PostgreSQL cannot store (U+0000, unpaired surrogates) is refused by the codec.

``validate_event`` is the one place every door and coordination's decoder go through, so a
string that would later fail in a ``text`` or ``jsonb`` column never becomes an event: in
``data`` it is a ``schema_violation``, in an attribute an ``invalid_attribute``. The message
names the place, never the value.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from schemas.codec import KafkaRecord, from_kafka, to_kafka, validate_event
from schemas.errors import (
    ContractError,
    InvalidAttributeError,
    NotJsonError,
    SchemaViolationError,
)
from schemas.events import CaseOpened, ConsentGranted
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import OFFICIAL_SAMPLE_AHV, sample_event
from tests.unit.schemas.codec_cases import AHV_DIGIT_GROUPS, good_record, with_header

NUL = "\x00"
CANNOT_BE_STORED = "contains a character that cannot be stored"


def _parts(cls: type[Any] = CaseOpened, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Attributes and data of a valid event, as the codec gets them from a door."""
    record = to_kafka(sample_event(cls, **overrides))
    attributes = {
        k.removeprefix("ce_"): v.decode() for k, v in record.headers if k != "content-type"
    }
    return attributes, json.loads(record.value)


def _with_reason_json(escaped: str) -> KafkaRecord:
    """A case.opened record whose ``reason`` is the given JSON string content, as written."""
    record = to_kafka(sample_event(CaseOpened, reason="PLACEHOLDER"))
    return replace(record, value=record.value.replace(b"PLACEHOLDER", escaped.encode()))


def _refusal(attributes: dict[str, Any], data: Any) -> ContractError:
    with pytest.raises(ContractError) as caught:
        validate_event(attributes, data)
    return caught.value


def _assert_no_value_shown(error: ContractError, *values: str) -> None:
    for shown in (str(error), repr(error), error.message):
        assert NUL not in shown
        assert find_valid_ahv_numbers(shown) == []
        for group in AHV_DIGIT_GROUPS:
            assert group not in shown
        for value in values:
            assert value not in shown


def test_a_nul_character_in_the_data_is_refused_as_a_schema_violation() -> None:
    attributes, data = _parts()
    data["reason"] = "a\x00b"

    error = _refusal(attributes, data)

    assert isinstance(error, SchemaViolationError)
    assert error.message == f"data.reason: {CANNOT_BE_STORED} (U+0000)"


def test_a_nul_character_in_a_nested_data_string_names_the_nested_place() -> None:
    attributes, data = _parts()
    data["person"]["case_ref"] = "RAV-1\x00"

    error = _refusal(attributes, data)

    assert isinstance(error, SchemaViolationError)
    assert error.message == f"data.person.case_ref: {CANNOT_BE_STORED} (U+0000)"


def test_a_nul_character_in_a_list_item_names_the_item() -> None:
    attributes, data = _parts(ConsentGranted)
    data["institutions"] = ["rav", "iv\x00"]

    error = _refusal(attributes, data)

    assert isinstance(error, SchemaViolationError)
    assert error.message == f"data.institutions.1: {CANNOT_BE_STORED} (U+0000)"


def test_a_nul_character_in_a_key_of_the_data_is_refused_without_showing_the_key() -> None:
    attributes, data = _parts()
    data["person"]["case\x00ref_secret"] = "x"

    error = _refusal(attributes, data)

    assert isinstance(error, SchemaViolationError)
    assert error.message == f"data.person: a key {CANNOT_BE_STORED} (U+0000)"
    _assert_no_value_shown(error, "secret")


def test_a_nul_character_in_an_attribute_is_refused_as_an_invalid_attribute() -> None:
    attributes, data = _parts()
    attributes["correlationid"] = "order\x004711"

    error = _refusal(attributes, data)

    assert isinstance(error, InvalidAttributeError)
    assert error.message == f"correlationid: {CANNOT_BE_STORED} (U+0000)"
    _assert_no_value_shown(error, "4711")


def test_a_nul_character_in_a_kafka_header_is_refused_as_an_invalid_attribute() -> None:
    record = with_header(good_record(), "ce_correlationid", b"order\x004711")

    with pytest.raises(InvalidAttributeError) as caught:
        from_kafka(record.key, record.value, record.headers)

    assert caught.value.message == f"correlationid: {CANNOT_BE_STORED} (U+0000)"


def test_a_nul_character_in_an_attribute_name_is_refused_as_an_invalid_attribute() -> None:
    record = with_header(good_record(), "ce_trace\x00id", b"x")

    with pytest.raises(InvalidAttributeError) as caught:
        from_kafka(record.key, record.value, record.headers)

    assert caught.value.message == f"an attribute name {CANNOT_BE_STORED} (U+0000)"


def test_a_nul_character_in_the_type_is_refused_before_the_type_is_echoed() -> None:
    attributes, data = _parts()
    attributes["type"] = "ch.bl.iiz.case.opened.v1\x00"

    error = _refusal(attributes, data)

    assert isinstance(error, InvalidAttributeError)
    assert error.message == f"type: {CANNOT_BE_STORED} (U+0000)"


@pytest.mark.parametrize("escape", ["\\ud800", "\\udbff", "\\udc00", "\\udfff"])
def test_a_lone_surrogate_escaped_in_the_json_is_refused_as_a_schema_violation(
    escape: str,
) -> None:
    record = _with_reason_json(f"x{escape}y")

    with pytest.raises(SchemaViolationError) as caught:
        from_kafka(record.key, record.value, record.headers)

    code_point = escape.removeprefix("\\u").upper()
    assert caught.value.message == f"data.reason: {CANNOT_BE_STORED} (U+{code_point})"


def test_a_lone_surrogate_in_an_attribute_is_refused_as_an_invalid_attribute() -> None:
    attributes, data = _parts()
    attributes["correlationid"] = "order-\ud800"

    error = _refusal(attributes, data)

    assert isinstance(error, InvalidAttributeError)
    assert error.message == f"correlationid: {CANNOT_BE_STORED} (U+D800)"


def test_an_escaped_surrogate_pair_is_one_ordinary_character_and_passes() -> None:
    record = _with_reason_json("Danke \\ud83d\\ude42")

    event = from_kafka(record.key, record.value, record.headers)

    assert event.data.reason == "Danke \U0001f642"


def test_a_valid_event_with_umlauts_and_other_ordinary_text_still_passes() -> None:
    reason = "Grüezi aus Münchenstein – Übertritt, Straße, naïve, « Œuvre » €"  # noqa: RUF001
    event = sample_event(CaseOpened, reason=reason)
    record = to_kafka(event)

    decoded = from_kafka(record.key, record.value, record.headers)

    assert decoded == event
    assert decoded.data.reason == reason


def test_a_refused_value_holding_an_ahv_number_is_not_echoed() -> None:
    attributes, data = _parts()
    data["reason"] = f"{OFFICIAL_SAMPLE_AHV}\x00"
    data["person"][OFFICIAL_SAMPLE_AHV] = "\x00"

    error = _refusal(attributes, data)

    assert isinstance(error, SchemaViolationError)
    _assert_no_value_shown(error, OFFICIAL_SAMPLE_AHV)


def test_a_key_named_like_an_ahv_number_is_masked_in_the_place_named() -> None:
    attributes, data = _parts()
    data["extra"] = {OFFICIAL_SAMPLE_AHV: {"note": "\x00"}}

    error = _refusal(attributes, data)

    assert error.message.startswith("data.extra.756.****.****.**.note: ")
    _assert_no_value_shown(error)


def test_a_deeply_nested_value_is_checked_without_exhausting_the_stack() -> None:
    attributes, data = _parts()
    nested: Any = "\x00"
    for _ in range(5000):
        nested = [nested]
    data["extra"] = nested

    error = _refusal(attributes, data)

    assert isinstance(error, SchemaViolationError)
    assert error.message.endswith(f"{CANNOT_BE_STORED} (U+0000)")


def test_json_nested_too_deeply_to_read_is_refused_as_not_json_instead_of_crashing() -> None:
    record = good_record()
    value = b'{"note": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"

    with pytest.raises(NotJsonError):
        from_kafka(record.key, value, record.headers)
