"""``receipt_record`` writes the receipt's headers and JSON itself; these tests hold it to the
long way it replaced, ``to_kafka(receipt(...))`` (the validated ``CloudEvent[Receipt]``), byte
for byte: accepted, duplicate and rejected receipts, awkward texts, keys, ids and clocks. Where
the long way refuses its input, the direct way must refuse it with the same error."""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.codec import KafkaRecord, to_kafka
from schemas.errors import ContractError, ReasonCode
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from services.common.person_registry import PersonKey
from services.intake import answers
from services.intake.answers import receipt, receipt_record
from services.intake.submission import Accepted, Outcome, Rejected, Submission
from tests.factories import sample_event

REGISTRY = load_institutions()
SENDER = REGISTRY.by_id["rav"]
PERSON = PersonKey(subject="prs:" + "0" * 32, key=b"k" * 32)
NOW = dt.datetime(2026, 12, 6, 11, 0, 51, 123456, tzinfo=dt.UTC)
EVENT = sample_event(CaseOpened)
ERRORS = {code: type(f"E_{code.name}", (ContractError,), {"reason": code}) for code in ReasonCode}

texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=120)
awkward = st.sampled_from(
    [
        "",
        'quote " backslash \\ slash /',
        "line\nbreak\ttab\rcr\x00nul\x01\x1f\x7f del",
        "Münchenstein \u2013 Zürich “quoted” \u2028\u2029 \ufeff",
        "emoji 😀 and a lone surrogate \ud800",
        "756.9217.0769.85 and 7569217076985",
        "x" * 1500,
    ]
)
some_text = st.one_of(awkward, texts)
raw_ids = st.one_of(
    st.none(),
    st.just(b""),
    some_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=220),
    st.just(b"\xff\xfe not utf-8"),
    st.just(("y" * 101).encode()),
    st.just(("y" * 100).encode()),
)
raw_keys = st.one_of(
    st.none(),
    st.just(b""),
    st.binary(max_size=240),
    some_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.just(b"k" * 201),
    st.just(b"k" * 200),
)
zones = st.sampled_from(
    [
        dt.UTC,
        dt.timezone(dt.timedelta(0)),
        dt.timezone(dt.timedelta(hours=1)),
        zoneinfo.ZoneInfo("UTC"),
        zoneinfo.ZoneInfo("Europe/Zurich"),
        None,
    ]
)
clocks = st.one_of(
    st.just(NOW),
    st.just(NOW.replace(microsecond=0)),
    st.datetimes(timezones=zones),
)


def _submission(raw_id: bytes | None, key: bytes | None, channel: str) -> Submission:
    headers = () if raw_id is None else (("ce_id", raw_id),)
    record = KafkaRecord(key=key, value=b"{}", headers=headers)
    return Submission(SENDER, record, channel)


def _long_way(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> Any:
    try:
        return to_kafka(receipt(outcome, duplicate=duplicate, now=now))
    except Exception as error:  # the refusal itself is compared
        return (type(error), str(error))


def _direct_way(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> Any:
    try:
        return receipt_record(outcome, duplicate=duplicate, now=now)
    except Exception as error:
        return (type(error), str(error))


def _same(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> None:
    expected = _long_way(outcome, duplicate=duplicate, now=now)
    assert _direct_way(outcome, duplicate=duplicate, now=now) == expected


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw_id=raw_ids,
    key=raw_keys,
    channel=some_text,
    duplicate=st.booleans(),
    now=clocks,
    event_id=st.uuids(),
)
@example(
    raw_id=b"order-4711",
    key=b"RAV-1",
    channel="kafka:t/0/1",
    duplicate=False,
    now=NOW,
    event_id=uuid.UUID(int=0),
)
def test_accepted_and_duplicate_receipts_are_the_envelopes_bytes(
    raw_id: bytes | None,
    key: bytes | None,
    channel: str,
    duplicate: bool,
    now: dt.datetime,
    event_id: uuid.UUID,
) -> None:
    outcome = Accepted(
        _submission(raw_id, key, channel), EVENT.model_copy(update={"id": event_id}), PERSON
    )
    _same(outcome, duplicate=duplicate, now=now)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw_id=raw_ids,
    key=raw_keys,
    channel=some_text,
    reason=st.sampled_from(list(ReasonCode)),
    message=some_text,
    now=clocks,
)
def test_rejection_receipts_are_the_envelopes_bytes(
    raw_id: bytes | None,
    key: bytes | None,
    channel: str,
    reason: ReasonCode,
    message: str,
    now: dt.datetime,
) -> None:
    outcome = Rejected(_submission(raw_id, key, channel), ERRORS[reason](message))
    _same(outcome, duplicate=False, now=now)


def test_the_usual_receipts_are_written_directly_and_equal_the_envelopes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submission = _submission(b"order-4711", b"RAV-2025-0815", "kafka:rav-submissions/0/42")
    accepted = Accepted(submission, EVENT, PERSON)
    rejected = Rejected(submission, ERRORS[ReasonCode.INVALID_AHV]("data.person.ahv_number: x"))
    for outcome, duplicate in ((accepted, False), (accepted, True), (rejected, False)):
        with monkeypatch.context() as patched:  # the direct way, not the envelope
            patched.setattr(answers, "to_kafka", None)
            record = receipt_record(outcome, duplicate=duplicate, now=NOW)
        assert record == to_kafka(receipt(outcome, duplicate=duplicate, now=NOW))
        assert record.header("ce_causationid") == b"order-4711"
        assert record.key == b"RAV-2025-0815"


def test_a_submission_without_id_or_key_gets_a_receipt_without_them() -> None:
    outcome = Rejected(_submission(None, None, "http:req-1"), ERRORS[ReasonCode.NOT_JSON]("no"))
    record = receipt_record(outcome, duplicate=False, now=NOW)
    assert record == to_kafka(receipt(outcome, duplicate=False, now=NOW))
    assert record.key is None
    assert record.header("ce_causationid") is None
    assert record.header("ce_partitionkey") is None


def test_an_id_or_a_key_too_long_for_the_envelope_is_cut_to_fit_so_the_receipt_is_sent() -> None:
    long_ones = _submission(b"i" * 150, b"k" * 300, "kafka:rav/0/7")
    outcome = Rejected(long_ones, ERRORS[ReasonCode.NOT_JSON]("no"))
    record = receipt_record(outcome, duplicate=False, now=NOW)
    assert record == to_kafka(receipt(outcome, duplicate=False, now=NOW))
    assert record.header("ce_causationid") == b"i" * 100
    assert record.key == b"k" * 200
    assert json.loads(record.value)["original_id"] == "i" * 150


def test_what_the_envelope_refuses_is_still_refused_the_same_way() -> None:
    outcome = Accepted(_submission(b"i", b"RAV-1", "http:req-2"), EVENT, PERSON)
    naive = NOW.replace(tzinfo=None)
    _same(replace(outcome, submission=_submission(b"i", None, "x")), duplicate=False, now=naive)
