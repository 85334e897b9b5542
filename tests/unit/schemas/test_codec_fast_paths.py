"""The codec's quicker ``from_kafka``, ``validate_event``, ``KafkaRecord.header``, ``to_kafka``
and ``binary_headers`` against the straightforward versions they replaced, kept here as the
reference: same events, same refusals (type and text), same bytes. Records come from every
reason-code case and from random changes to good records: duplicate, mixed-case and
non-UTF-8 headers, keys, escapes, U+0000 and lone surrogates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.ahv import mask_ahv_like
from schemas.codec import (
    CE_PREFIX,
    CONTENT_TYPE,
    DEFAULT_MAX_EVENT_BYTES,
    JSON_CONTENT_TYPE,
    REQUIRED_ATTRIBUTES,
    KafkaRecord,
    _contract_error,
    _refuse_unstorable,
    binary_headers,
    from_kafka,
    read_binary_headers,
    to_kafka,
    validate_event,
)
from schemas.envelope import ANY_EVENT_ADAPTER, CloudEvent
from schemas.errors import (
    InvalidAttributeError,
    MissingAttributeError,
    NotJsonError,
    NotUtf8Error,
    SchemaViolationError,
    TooLargeError,
    UnknownTypeError,
)
from schemas.events.catalogue import DATA_CLASS_BY_TYPE, EVENT_DATA_CLASSES
from tests.factories import sample_event
from tests.unit.schemas.codec_cases import BAD_INPUTS, good_record

# --- the reference: the codec as it was before it was made quicker ---------------------------


def ref_header(record: KafkaRecord, name: str) -> bytes | None:
    return next((v for k, v in record.headers if k == name), None)


def ref_binary_headers(
    attributes: Mapping[str, str], *, errors: str = "strict"
) -> tuple[tuple[str, bytes], ...]:
    return tuple(
        (
            CONTENT_TYPE if name == "datacontenttype" else f"{CE_PREFIX}{name}",
            text.encode("utf-8", errors),
        )
        for name, text in attributes.items()
    )


def ref_to_kafka(event: CloudEvent[Any]) -> KafkaRecord:
    attributes = {name: str(value) for name, value in event.attributes().items()}
    content_type = attributes.pop("datacontenttype", JSON_CONTENT_TYPE)
    headers = ref_binary_headers({**attributes, "datacontenttype": content_type})
    value = event.data.model_dump_json(exclude_none=True).encode()
    key = event.partitionkey.encode() if event.partitionkey else None
    return KafkaRecord(key=key, value=value, headers=headers)


def ref_from_kafka(
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes]],
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> CloudEvent[Any]:
    headers = list(headers)
    value = value or b""
    size = len(value) + sum(len(k) + len(v) for k, v in headers) + len(key or b"")
    if size > max_bytes:
        raise TooLargeError(f"message has {size} bytes; the limit is {max_bytes}")
    attributes: dict[str, Any] = read_binary_headers(headers)
    if key is not None and "partitionkey" not in attributes:
        try:
            attributes["partitionkey"] = key.decode("utf-8")
        except UnicodeDecodeError:
            raise NotUtf8Error("the key is not valid UTF-8") from None
    content_type = attributes.get("datacontenttype", JSON_CONTENT_TYPE)
    if content_type.split(";")[0].strip() != JSON_CONTENT_TYPE:
        raise InvalidAttributeError(f"content-type must be {JSON_CONTENT_TYPE}")
    attributes["datacontenttype"] = JSON_CONTENT_TYPE
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise NotUtf8Error("the message value is not valid UTF-8") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotJsonError(f"the message value is not JSON ({error.msg})") from None
    except RecursionError:
        raise NotJsonError("the message value is nested too deeply to be read") from None
    return ref_validate_event(attributes, data)


def ref_validate_event(attributes: dict[str, Any], data: Any) -> CloudEvent[Any]:
    _refuse_unstorable(attributes, data)
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise MissingAttributeError(f"required attribute(s) missing: {', '.join(missing)}")
    if attributes["type"] not in DATA_CLASS_BY_TYPE:
        raise UnknownTypeError(mask_ahv_like(f"unknown event type {attributes['type']!r}"))
    if not isinstance(data, dict):
        raise SchemaViolationError("data must be a JSON object")
    attributes.setdefault("datacategory", DATA_CLASS_BY_TYPE[attributes["type"]].default_category)
    try:
        return ANY_EVENT_ADAPTER.validate_python({**attributes, "data": data})
    except ValidationError as error:
        raise _contract_error(error) from None


# --- comparing -----------------------------------------------------------------------------


def _outcome(decode: Any, *args: Any, **kwargs: Any) -> Any:
    """What a call gives: the event as JSON with its type, or the refusal's type and text."""
    try:
        event = decode(*args, **kwargs)
    except Exception as error:  # the refusal itself is compared
        return ("refused", type(error), str(error), getattr(error, "reason", None))
    return ("event", type(event), event.model_dump_json())


def _same_decoding(record: KafkaRecord, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
    expected = _outcome(
        ref_from_kafka, record.key, record.value, record.headers, max_bytes=max_bytes
    )
    got = _outcome(from_kafka, record.key, record.value, record.headers, max_bytes=max_bytes)
    assert got == expected
    # Any iterable of headers, not only a tuple.
    listed = _outcome(
        from_kafka, record.key, record.value, list(record.headers), max_bytes=max_bytes
    )
    assert listed == expected


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.name)
def test_every_reason_code_case_is_refused_as_by_the_reference(case: Any) -> None:
    record = case.build()
    _same_decoding(record, case.max_bytes)
    assert (
        _outcome(from_kafka, record.key, record.value, record.headers, max_bytes=case.max_bytes)[0]
        == "refused"
    )


@pytest.mark.parametrize("cls", EVENT_DATA_CLASSES, ids=lambda c: c.cloud_event_type())
def test_every_event_type_round_trips_as_with_the_reference(cls: Any) -> None:
    event = sample_event(cls)
    record = to_kafka(event)
    assert record == ref_to_kafka(event)
    _same_decoding(record)
    assert from_kafka(record.key, record.value, record.headers) == event


header_names = st.one_of(
    st.sampled_from(
        [
            "ce_id",
            "CE_ID",
            "Ce_Type",
            "ce_type",
            "ce_time",
            "ce_source",
            "ce_subject",
            "ce_correlationid",
            "ce_CorrelationId",
            "ce_datacategory",
            "ce_partitionkey",
            "content-type",
            "Content-Type",
            "CONTENT-TYPE",
            "ce_datacontenttype",
            "ce_data",
            "ce_unknownext",
            "ce_",
            "ce_\x00",
            "ce_\ud800",
            "ce_é",
            "x-trace",
            "iiz_sealed",
            "ce_7569217076985",
            "ce_ch.bl.iiz.measure.ended.v1",
        ]
    ),
    st.text(max_size=12).map(lambda t: f"ce_{t}"),
    st.text(max_size=12),
)
header_values = st.one_of(
    st.sampled_from(
        [
            b"",
            b"1.0",
            b"\xff\xfe",
            b"M\xfcnchenstein",
            b"application/json",
            b"application/json; charset=utf-8",
            b"text/plain",
            b"a\x00b",
            b"\xed\xa0\x80",
            b"2025-03-14T09:30:00Z",
            b"/iiz/bl/rav",
            b"ch.bl.iiz.measure.ended.v1",
            b"756.9217.0769.85",
            "Zürich".encode(),
        ]
    ),
    st.binary(max_size=20),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
headers = st.tuples(header_names, header_values)
value_changes = st.sampled_from(
    [
        lambda v: v,
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\\u0000"'),
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\\ud800"'),
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\\ud83d\\ude00"'),
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\\\\u0000"'),
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\\u00e9"'),
        lambda v: v.replace(b'"RAV-2025-0815"', '"RAV-Zürich"'.encode()),
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\x00"'),
        lambda v: v.replace(b'"RAV-2025-0815"', b'"RAV-\xff"'),
        lambda v: v.replace(b'"case_ref"', b'"case\\u0000ref"'),
        lambda v: v.replace(b'"case_ref"', b'"case\\ud800ref"'),
        lambda v: b"[1, 2]",
        lambda v: b'"text"',
        lambda v: b"",
        lambda v: b"{not json",
        lambda v: b"[" * 100_000,
        lambda v: v[:-1] + b',"extra":"\\u0000"}',
    ]
)
keys = st.one_of(
    st.none(), st.just(b""), st.binary(max_size=8), st.just(b"\xff"), st.just(b"RAV-1\x00")
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    added=st.lists(headers, max_size=4),
    dropped=st.sets(st.integers(0, 8), max_size=2),
    change=value_changes,
    key=st.one_of(st.just("keep"), keys),
    prepend=st.booleans(),
    max_bytes=st.sampled_from([DEFAULT_MAX_EVENT_BYTES, 400, 900]),
)
def test_changed_records_decode_as_with_the_reference(
    added: list[tuple[str, bytes]],
    dropped: set[int],
    change: Any,
    key: Any,
    prepend: bool,
    max_bytes: int,
) -> None:
    record = good_record()
    kept = tuple(h for i, h in enumerate(record.headers) if i not in dropped)
    new_headers = (*added, *kept) if prepend else (*kept, *added)
    record = KafkaRecord(
        key=record.key if key == "keep" else key, value=change(record.value), headers=new_headers
    )
    _same_decoding(record, max_bytes)


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(headers, max_size=10),
    asked=st.lists(header_names, max_size=6),
)
def test_header_is_the_first_exact_match_as_by_a_scan(
    headers: list[tuple[str, bytes]], asked: list[str]
) -> None:
    record = KafkaRecord(key=None, value=b"", headers=tuple(headers))
    for name in [*asked, *(k for k, _ in headers), *(k.upper() for k, _ in headers)]:
        assert record.header(name) == ref_header(record, name)
    # A replaced record reads its own headers.
    changed = replace(record, headers=(("ce_id", b"other"), *record.headers))
    assert changed.header("ce_id") == b"other"
    assert record.header("ce_id") == ref_header(record, "ce_id")
    assert changed == KafkaRecord(key=None, value=b"", headers=changed.headers)


attribute_values = st.one_of(st.text(max_size=10), st.just("a\ud800"), st.just("\x00"))


@settings(max_examples=300, deadline=None)
@given(
    attributes=st.dictionaries(
        st.one_of(
            st.sampled_from(["id", "datacontenttype", "type", "recipient", "data", ""]),
            st.text(max_size=8),
        ),
        attribute_values,
        max_size=6,
    ),
    errors=st.sampled_from(["strict", "surrogatepass", "replace"]),
)
def test_binary_headers_are_the_references(attributes: dict[str, str], errors: str) -> None:
    expected = _outcome_of(ref_binary_headers, attributes, errors=errors)
    assert _outcome_of(binary_headers, attributes, errors=errors) == expected


def _outcome_of(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except Exception as error:
        return (type(error), str(error))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drop=st.sets(st.sampled_from(["id", "time", "datacategory", "type", "source"]), max_size=2),
    extra=st.dictionaries(
        st.sampled_from(["subject", "weird", "Name\x00", "n\ud800", "correlationid"]),
        st.one_of(attribute_values, st.integers(), st.none(), st.lists(st.integers(), max_size=1)),
        max_size=2,
    ),
    data_change=st.sampled_from([None, "list", "nul", "surrogate", "nul_key"]),
)
def test_validate_event_is_the_references(
    drop: set[str], extra: dict[str, Any], data_change: str | None
) -> None:
    record = good_record()
    attributes: dict[str, Any] = {
        k: v for k, v in read_binary_headers(record.headers).items() if k not in drop
    }
    attributes.update(extra)
    data: Any = json.loads(record.value)
    if data_change == "list":
        data = [data]
    elif data_change == "nul":
        data["person"]["case_ref"] = "a\x00"
    elif data_change == "surrogate":
        data["person"]["case_ref"] = "a\ud800"
    elif data_change == "nul_key":
        data["a\x00"] = 1
    mine, theirs = dict(attributes), dict(attributes)
    got = _outcome(validate_event, mine, data)
    expected = _outcome(ref_validate_event, theirs, data)
    assert got == expected
    assert mine == theirs  # the caller's dict gets the default category as before
