"""Every submission in a batch is answered, whatever its neighbours hold (issue 13, finding 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faststream import TestApp

from schemas.codec import KafkaRecord, to_kafka
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.intake import pipeline
from services.intake.kafka_door import create_app
from services.intake.settings import IntakeSettings
from services.intake.submission import canonical_id
from tests.factories import sample_event, valid_ahv
from tests.kafka_tools import Record, end_offsets, read_until

RAV = load_institutions().by_id["rav"]


def _submission(seed: int, case_ref: str) -> tuple[KafkaRecord, str]:
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(seed), "case_ref": case_ref})
    return to_kafka(event), str(canonical_id(event.source, str(event.id)))


def _receipts(records: list[Record]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records if r.topic == RAV.delivery_topic]


async def _send_together(producer: AIOKafkaProducer, records: list[KafkaRecord]) -> None:
    """Into one partition without waiting in between, so the door takes them as one batch."""
    futures = [
        await producer.send(
            RAV.intake_topic, r.value, key=r.key, headers=list(r.headers), partition=0
        )
        for r in records
    ]
    for future in futures:
        await future


async def test_a_header_that_is_not_utf8_is_answered_not_utf8_and_its_neighbours_are_accepted(
    intake_settings: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    first, first_id = _submission(81, "RAV-81")
    last, last_id = _submission(83, "RAV-83")
    middle, _ = _submission(82, "RAV-82")
    bad = KafkaRecord(
        middle.key,
        middle.value,
        tuple((k, b"/iiz/bl/r\xe4v" if k == "ce_source" else v) for k, v in middle.headers),
    )
    start = await end_offsets(intake_settings, [CASE_EVENTS, INTAKE_REJECTED, RAV.delivery_topic])
    await _send_together(partner_producer, [first, bad, last])

    async with TestApp(create_app(intake_settings)):
        records = await read_until(
            intake_settings, start, lambda rs: len(_receipts(rs)) >= 3, within=60
        )

    receipts = sorted(_receipts(records), key=lambda r: r["channel"])
    assert [r["status"] for r in receipts] == ["accepted", "rejected", "accepted"]
    assert receipts[1]["reason"] == "not_utf8"
    canonical = {dict(r.headers)["ce_id"].decode() for r in records if r.topic == CASE_EVENTS}
    assert canonical == {first_id, last_id}
    letters = [r for r in records if r.topic == INTAKE_REJECTED]
    assert [dict(r.headers)["iiz_reason"] for r in letters] == [b"not_utf8"]


async def test_a_submission_the_pipeline_fails_on_alone_is_answered_and_the_rest_accepted(
    intake_settings: IntakeSettings,
    partner_producer: AIOKafkaProducer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug that only one submission triggers must not hold back, or lose, the others."""
    records = [_submission(90 + n, f"RAV-9{n}") for n in range(5)]
    cursed = json.loads(records[2][0].value)["person"]["case_ref"]
    real_check = pipeline.check

    def check_with_a_bug(submission: Any, **kwargs: Any) -> Any:
        if json.loads(submission.record.value)["person"]["case_ref"] == cursed:
            raise KeyError("a bug that only this submission triggers")
        return real_check(submission, **kwargs)

    monkeypatch.setattr(pipeline, "check", check_with_a_bug)
    start = await end_offsets(intake_settings, [CASE_EVENTS, INTAKE_REJECTED, RAV.delivery_topic])
    await _send_together(partner_producer, [r for r, _ in records])

    async with TestApp(create_app(intake_settings)):
        found = await read_until(
            intake_settings, start, lambda rs: len(_receipts(rs)) >= len(records), within=60
        )

    receipts = sorted(_receipts(found), key=lambda r: int(r["channel"].rsplit("/", 1)[1]))
    assert [r["status"] for r in receipts] == ["accepted"] * 2 + ["rejected"] + ["accepted"] * 2
    assert receipts[2]["reason"] == "processing_failed"
    canonical = {dict(r.headers)["ce_id"].decode() for r in found if r.topic == CASE_EVENTS}
    assert canonical == {cid for n, (_r, cid) in enumerate(records) if n != 2}
    letters = [r for r in found if r.topic == INTAKE_REJECTED]
    assert [dict(r.headers)["iiz_reason"] for r in letters] == [b"processing_failed"]


async def test_an_id_and_a_key_longer_than_a_receipt_holds_are_answered_and_hold_up_nothing(
    intake_settings: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    """A ce_id of 150 characters and a key of 300: the receipt could not be built, and the
    door retried the batch for ever. Now the receipt carries them cut to fit."""
    first, first_id = _submission(84, "RAV-84")
    last, last_id = _submission(86, "RAV-86")
    middle, _ = _submission(85, "RAV-85")
    long_id = b"x" * 150
    bad = KafkaRecord(
        b"k" * 300,
        middle.value,
        tuple((k, long_id if k == "ce_id" else v) for k, v in middle.headers),
    )
    start = await end_offsets(intake_settings, [CASE_EVENTS, INTAKE_REJECTED, RAV.delivery_topic])
    await _send_together(partner_producer, [first, bad, last])

    async with TestApp(create_app(intake_settings)):
        records = await read_until(
            intake_settings, start, lambda rs: len(_receipts(rs)) >= 3, within=60
        )

    by_id = {r.get("original_id"): r for r in _receipts(records)}
    assert by_id[long_id.decode()]["status"] == "rejected"
    canonical = {dict(r.headers)["ce_id"].decode() for r in records if r.topic == CASE_EVENTS}
    assert canonical == {first_id, last_id}
    cut = [r for r in records if r.topic == RAV.delivery_topic and r.key == b"k" * 200]
    assert [dict(r.headers)["ce_causationid"] for r in cut] == [b"x" * 100]
