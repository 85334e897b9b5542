"""Realistic bad Kafka records, one or more per reason code, shared by the codec and leak tests.

Every case starts from a valid record of a real event (whose person carries the official
sample AHV number) and breaks exactly one thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from schemas.codec import DEFAULT_MAX_EVENT_BYTES, KafkaRecord, to_kafka
from schemas.errors import ContractError, ReasonCode
from schemas.events import MeasureEnded
from schemas.events.base import PersonRef
from tests.factories import OFFICIAL_SAMPLE_AHV, sample_event

WRONG_CHECK_DIGIT_AHV = "756.9217.0769.84"
AHV_DIGIT_GROUPS = ("9217", "0769")


def good_record() -> KafkaRecord:
    event = sample_event(
        MeasureEnded,
        person=PersonRef(ahv_number=OFFICIAL_SAMPLE_AHV, case_ref="RAV-2025-0815"),
        partitionkey="RAV-2025-0815",
    )
    return to_kafka(event)


def with_header(record: KafkaRecord, name: str, value: bytes | None) -> KafkaRecord:
    """Replace (or, with ``None``, drop) a header; add it when absent."""
    headers = [(k, v) for k, v in record.headers if k != name]
    if value is not None:
        headers.append((name, value))
    return replace(record, headers=tuple(headers))


def with_data(record: KafkaRecord, change: Callable[[dict[str, Any]], None]) -> KafkaRecord:
    data = json.loads(record.value)
    change(data)
    return replace(record, value=json.dumps(data).encode())


def _set_ahv(value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["person"]["ahv_number"] = value

    return change


def _drop(field: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        del data[field]

    return change


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[field] = value

    return change


def _set_case_ref(value: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["person"]["case_ref"] = value

    return change


def _replaced_in_value(old: bytes, new: bytes) -> KafkaRecord:
    record = good_record()
    assert old in record.value
    return replace(record, value=record.value.replace(old, new))


@dataclass(frozen=True)
class BadInput:
    name: str
    reason: ReasonCode
    build: Callable[[], KafkaRecord]
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES
    message_mentions: str | None = None


def _padded_over_default_limit() -> KafkaRecord:
    record = good_record()
    # Valid JSON, just huge: whitespace is allowed between tokens.
    return replace(record, value=record.value[:-1] + b" " * DEFAULT_MAX_EVENT_BYTES + b"}")


BAD_INPUTS: tuple[BadInput, ...] = (
    BadInput(
        "ahv number with a wrong check digit",
        ReasonCode.INVALID_AHV,
        lambda: with_data(good_record(), _set_ahv(WRONG_CHECK_DIGIT_AHV)),
        message_mentions="data.person.ahv_number",
    ),
    BadInput(
        "ahv number with a letter",
        ReasonCode.INVALID_AHV,
        lambda: with_data(good_record(), _set_ahv("756.9217.O769.85")),
        message_mentions="data.person.ahv_number",
    ),
    BadInput(
        "ahv number as a JSON number",
        ReasonCode.INVALID_AHV,
        lambda: with_data(good_record(), _set_ahv(7569217076985)),
        message_mentions="data.person.ahv_number",
    ),
    BadInput(
        "type not in the catalogue",
        ReasonCode.UNKNOWN_TYPE,
        lambda: with_header(good_record(), "ce_type", b"ch.bl.iiz.case.reopened.v1"),
        message_mentions="ch.bl.iiz.case.reopened.v1",
    ),
    BadInput(
        "type that is an AHV number",
        ReasonCode.UNKNOWN_TYPE,
        lambda: with_header(good_record(), "ce_type", OFFICIAL_SAMPLE_AHV.encode()),
    ),
    BadInput(
        "required data field missing",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: with_data(good_record(), _drop("measure_id")),
        message_mentions="data.measure_id",
    ),
    BadInput(
        "enum value not in the vocabulary",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: with_data(good_record(), _set("kind", "yoga-retreat")),
        message_mentions="data.kind",
    ),
    BadInput(
        "negative cost",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: with_data(good_record(), _set("cost_chf", "-10.00")),
        message_mentions="data.cost_chf",
    ),
    BadInput(
        "misspelt data field",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: with_data(good_record(), _set("financed_bye", "rav")),
        message_mentions="data.financed_bye",
    ),
    BadInput(
        "NUL character in a data string that holds an AHV number",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: with_data(good_record(), _set_case_ref(f"{OFFICIAL_SAMPLE_AHV}\x00")),
        message_mentions="data.person.case_ref",
    ),
    BadInput(
        "escaped lone surrogate in a data string",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: _replaced_in_value(b'"RAV-2025-0815"', b'"RAV-\\ud800"'),
        message_mentions="data.person.case_ref",
    ),
    BadInput(
        "unknown data field named like an AHV number",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: with_data(good_record(), _set(OFFICIAL_SAMPLE_AHV, True)),
    ),
    BadInput(
        "data is a JSON array",
        ReasonCode.SCHEMA_VIOLATION,
        lambda: replace(good_record(), value=b"[]"),
    ),
    BadInput(
        "no ce_id",
        ReasonCode.MISSING_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_id", None),
        message_mentions="id",
    ),
    BadInput(
        "no ce_source",
        ReasonCode.MISSING_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_source", None),
        message_mentions="source",
    ),
    BadInput(
        "empty ce_time",
        ReasonCode.MISSING_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_time", b""),
        message_mentions="time",
    ),
    BadInput(
        "ce_id not a UUID",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_id", b"order-4711"),
        message_mentions="id",
    ),
    BadInput(
        "ce_id that is an AHV number",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_id", OFFICIAL_SAMPLE_AHV.encode()),
        message_mentions="id",
    ),
    BadInput(
        "ce_time not a timestamp",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_time", b"yesterday afternoon"),
        message_mentions="time",
    ),
    BadInput(
        "ce_time without a time zone",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_time", b"2025-03-14T09:30:00"),
        message_mentions="time",
    ),
    BadInput(
        "NUL character in a header",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_correlationid", b"7569217076985\x00"),
        message_mentions="correlationid",
    ),
    BadInput(
        "ce_subject that is an AHV number instead of a pseudonym",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_subject", OFFICIAL_SAMPLE_AHV.encode()),
        message_mentions="subject",
    ),
    BadInput(
        "unknown extension named like an AHV number",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "ce_7569217076985", b"x"),
    ),
    BadInput(
        "content-type not JSON",
        ReasonCode.INVALID_ATTRIBUTE,
        lambda: with_header(good_record(), "content-type", b"application/xml"),
        message_mentions="content-type",
    ),
    BadInput(
        "value over a small max_bytes",
        ReasonCode.TOO_LARGE,
        good_record,
        max_bytes=200,
        message_mentions="200",
    ),
    BadInput(
        "value over the default limit",
        ReasonCode.TOO_LARGE,
        _padded_over_default_limit,
        message_mentions=str(DEFAULT_MAX_EVENT_BYTES),
    ),
    BadInput(
        "value is truncated JSON",
        ReasonCode.NOT_JSON,
        lambda: replace(good_record(), value=good_record().value[:-20]),
    ),
    BadInput("value is empty", ReasonCode.NOT_JSON, lambda: replace(good_record(), value=b"")),
    BadInput(
        "value is Latin-1, not UTF-8",
        ReasonCode.NOT_UTF8,
        lambda: replace(good_record(), value='{"note": "Gemeinde Münchenstein"}'.encode("latin-1")),
        message_mentions="value",
    ),
    BadInput(
        "a header is not UTF-8",
        ReasonCode.NOT_UTF8,
        lambda: with_header(good_record(), "ce_correlationid", "Münchenstein".encode("latin-1")),
        message_mentions="header",
    ),
    BadInput(
        "the key is not UTF-8 (and no ce_partitionkey header)",
        ReasonCode.NOT_UTF8,
        lambda: replace(with_header(good_record(), "ce_partitionkey", None), key=b"\xff\xfe"),
    ),
)


def decode(case: BadInput) -> ContractError:
    """Run the case through ``from_kafka`` and return the error it raised."""
    from schemas.codec import from_kafka

    record = case.build()
    try:
        from_kafka(record.key, record.value, record.headers, max_bytes=case.max_bytes)
    except ContractError as error:
        return error
    raise AssertionError(f"{case.name}: from_kafka accepted the record")
