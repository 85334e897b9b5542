"""Every reason code of the contract, sent through the real Kafka door, ends as a dead letter
plus a rejection receipt — and the valid submission behind them still gets through."""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer

from schemas.codec import KafkaRecord, to_kafka
from schemas.errors import ReasonCode
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.intake.settings import IntakeSettings
from services.intake.submission import canonical_id
from tests.factories import sample_event, valid_ahv
from tests.kafka_tools import Record, end_offsets, read_until
from tests.unit.schemas.codec_cases import BAD_INPUTS

RAV = load_institutions().by_id["rav"]
# No record's bytes cause it: the consumer edge answers it for a record the pipeline failed on
# alone (tests/integration/intake/test_poison_isolation.py).
NOT_FROM_THE_BYTES = {ReasonCode.PROCESSING_FAILED}


def _bad_records() -> list[tuple[ReasonCode, KafkaRecord]]:
    """One realistic record per reason code: the codec's cases plus the origin checks."""
    by_reason = {case.reason: case.build() for case in BAD_INPUTS if case.max_bytes >= 65536}
    by_reason[ReasonCode.SOURCE_MISMATCH] = to_kafka(sample_event(CaseOpened, source="/iiz/bl/iv"))
    by_reason[ReasonCode.UNKNOWN_SOURCE] = to_kafka(
        sample_event(CaseOpened, source="/iiz/bl/sozialhilfe/2701")
    )
    return sorted(by_reason.items())


async def test_every_reason_code_produces_a_dead_letter_and_a_rejection_receipt(
    running_intake: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    settings = running_intake
    bad = _bad_records()
    valid = sample_event(CaseOpened, person={"ahv_number": valid_ahv(77), "case_ref": "OK-1"})
    start = await end_offsets(settings, [CASE_EVENTS, INTAKE_REJECTED, RAV.delivery_topic])
    for _reason, record in [*bad, (None, to_kafka(valid))]:
        # Their own keys: one case breaks exactly the key (not UTF-8).
        await partner_producer.send(
            RAV.intake_topic, record.value, key=record.key, headers=list(record.headers)
        )
    await partner_producer.flush()
    valid_id = str(canonical_id(valid.source, str(valid.id)))

    def complete(records: list[Record]) -> bool:
        canonical = {dict(r.headers)["ce_id"].decode() for r in records if r.topic == CASE_EVENTS}
        rejected = [r for r in records if r.topic == INTAKE_REJECTED]
        receipts = [r for r in records if r.topic == RAV.delivery_topic]
        return valid_id in canonical and len(rejected) >= len(bad) and len(receipts) > len(bad)

    records = await read_until(settings, start, complete)

    dead_reasons = sorted(
        dict(r.headers)["iiz_reason"].decode() for r in records if r.topic == INTAKE_REJECTED
    )
    receipts = [json.loads(r.value) for r in records if r.topic == RAV.delivery_topic]
    receipt_reasons = sorted(r["reason"] for r in receipts if r["status"] == "rejected")
    assert dead_reasons == sorted(reason.value for reason, _record in bad)
    assert receipt_reasons == dead_reasons
    assert set(ReasonCode) - NOT_FROM_THE_BYTES == {reason for reason, _record in bad}
