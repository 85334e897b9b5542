"""Intake's Kafka door on the real broker: canonical events, receipts and dead letters."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas.ahv import AhvNumber
from schemas.codec import KafkaRecord, from_kafka, to_kafka
from schemas.events import CaseOpened, MeasureStarted, ReferralRequested
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.intake.settings import IntakeSettings
from services.intake.submission import canonical_id
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import sample_event, valid_ahv
from tests.kafka_tools import Record, end_offsets, read_until
from tests.sealed_records import opened, registry_subject

REGISTRY = load_institutions()


async def _submit(producer: AIOKafkaProducer, institution: str, record: KafkaRecord) -> None:
    topic = REGISTRY.by_id[institution].intake_topic
    await producer.send_and_wait(topic, record.value, key=record.key, headers=list(record.headers))


def _ce_id(record: Record) -> str:
    return dict(record.headers)["ce_id"].decode()


def _receipt(record: Record) -> dict[str, Any]:
    return json.loads(record.value)


async def test_events_of_two_institutions_arrive_keyed_by_pseudonym_in_order_per_sender(
    running_intake: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    settings = running_intake
    ahv = valid_ahv(7)
    person = {"ahv_number": ahv, "case_ref": "RAV-2026-17"}
    # Partners key their submissions by their own case reference (docs/contract.md), which is
    # what keeps one sender's events about one person in order on its intake topic.
    rav_events = [
        sample_event(CaseOpened, person=person, partitionkey="RAV-2026-17"),
        sample_event(MeasureStarted, person=person, partitionkey="RAV-2026-17"),
        sample_event(
            ReferralRequested, person=person, to_institution="iv", partitionkey="RAV-2026-17"
        ),
    ]
    iv_event = sample_event(
        CaseOpened,
        source="/iiz/bl/iv",
        person={**person, "case_ref": "IV-88"},
        partitionkey="IV-88",
    )
    start = await end_offsets(settings, [CASE_EVENTS])
    for event in rav_events:
        await _submit(partner_producer, "rav", to_kafka(event))
    await _submit(partner_producer, "iv", to_kafka(iv_event))
    expected = {canonical_id(e.source, str(e.id)) for e in [*rav_events, iv_event]}

    records = await read_until(
        settings, start, lambda rs: expected <= {uuid.UUID(_ce_id(r)) for r in rs}
    )

    ours = [r for r in records if uuid.UUID(_ce_id(r)) in expected]
    # Keyed by the person's random subject from the registry, not by anything of the AHV number.
    pseudonym = await registry_subject(settings, AhvNumber(ahv))
    assert pseudonym.startswith("prs:")
    assert {r.key for r in ours} == {pseudonym.encode()}
    assert len({r.partition for r in ours}) == 1
    plain = await opened(settings, ours)
    rav_order = [
        from_kafka(r.key, r.value, r.headers).type
        for r in plain
        if b"/iiz/bl/rav" in dict(r.headers)["ce_source"]
    ]
    assert rav_order == [e.type for e in rav_events]
    assert all(find_valid_ahv_numbers(r.value.decode()) == [] for r in plain)
    canonical = from_kafka(plain[0].key, plain[0].value, plain[0].headers)
    assert canonical.subject == pseudonym
    assert canonical.data.person.ahv_number is None
    assert canonical.data.person.sealed_ahv is not None


async def test_a_poison_message_between_two_valid_ones_is_dead_lettered_and_answered(
    running_intake: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    settings = running_intake
    delivery = REGISTRY.by_id["rav"].delivery_topic
    first = sample_event(CaseOpened, person={"ahv_number": valid_ahv(1), "case_ref": "A-1"})
    last = sample_event(CaseOpened, person={"ahv_number": valid_ahv(2), "case_ref": "A-2"})
    poison = to_kafka(
        sample_event(CaseOpened, person={"ahv_number": valid_ahv(3), "case_ref": "A-3"})
    )
    poison = KafkaRecord(poison.key, b"\xff\xfe not json", poison.headers)
    start = await end_offsets(settings, [CASE_EVENTS, INTAKE_REJECTED, delivery])
    await _submit(partner_producer, "rav", to_kafka(first))
    await _submit(partner_producer, "rav", poison)
    await _submit(partner_producer, "rav", to_kafka(last))
    poison_id = dict(poison.headers)["ce_id"].decode()
    wanted = {str(canonical_id(e.source, str(e.id))) for e in (first, last)}

    def complete(rs: list[Record]) -> bool:
        receipts = [r for r in rs if r.topic == delivery]
        dead = [r for r in rs if r.topic == INTAKE_REJECTED]
        canon = {_ce_id(r) for r in rs if r.topic == CASE_EVENTS}
        return len(receipts) >= 3 and len(dead) >= 1 and wanted <= canon

    records = await read_until(settings, start, complete)

    dead = [r for r in records if r.topic == INTAKE_REJECTED]
    dead_headers = dict(dead[0].headers)
    assert dead_headers["iiz_reason"] == b"not_utf8"
    assert dead_headers["iiz_original_id"].decode() == poison_id
    assert dead_headers["iiz_channel"].startswith(b"kafka:iiz.intake.rav.v1/")
    receipts = [_receipt(r) for r in records if r.topic == delivery]
    statuses = {(r["original_id"], r["status"], r.get("reason")) for r in receipts}
    assert (poison_id, "rejected", "not_utf8") in statuses
    assert (str(first.id), "accepted", None) in statuses
    assert (str(last.id), "accepted", None) in statuses


async def test_resubmitting_an_event_yields_the_same_canonical_id_and_a_duplicate_receipt(
    running_intake: IntakeSettings, partner_producer: AIOKafkaProducer
) -> None:
    settings = running_intake
    delivery = REGISTRY.by_id["rav"].delivery_topic
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(9), "case_ref": "D-1"})
    start = await end_offsets(settings, [CASE_EVENTS, delivery])

    def receipts_of_ours(records: list[Record]) -> list[dict[str, Any]]:
        """Ours only, in the order they were written: other records may reach RAV's topic
        meanwhile, and a read across partitions does not keep the order of writing."""
        on_topic = sorted((r for r in records if r.topic == delivery), key=lambda r: r.timestamp)
        receipts = [_receipt(r) for r in on_topic]
        return [r for r in receipts if r.get("original_id") == str(event.id)]

    await _submit(partner_producer, "rav", to_kafka(event))
    await read_until(settings, start, lambda rs: len(receipts_of_ours(rs)) >= 1)
    await _submit(partner_producer, "rav", to_kafka(event))

    records = await read_until(settings, start, lambda rs: len(receipts_of_ours(rs)) >= 2)

    ours = receipts_of_ours(records)
    expected_id = str(canonical_id(event.source, str(event.id)))
    assert [(r["status"], r["canonical_id"]) for r in ours] == [
        ("accepted", expected_id),
        ("duplicate", expected_id),
    ]
    canonical = [r for r in records if r.topic == CASE_EVENTS and _ce_id(r) == expected_id]
    assert len(canonical) == 1
