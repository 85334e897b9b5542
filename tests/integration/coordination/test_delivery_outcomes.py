"""Coordination records notifications' delivery outcomes in the audit trail, once each."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import CloudEvent
from schemas.outcomes import DeliveryChannel, DeliveryOutcome, OutcomeStatus
from schemas.topics import COORDINATION_REJECTED, DELIVERY_OUTCOMES
from services.common.kafka_clients import create_admin, create_producer, end_offsets
from services.coordination import audit
from services.coordination.settings import CoordinationSettings
from tests.integration.coordination.conftest import eventually
from tests.kafka_tools import read_until


def outcome(delivery_id: uuid.UUID, status: OutcomeStatus, attempt: int) -> KafkaRecord:
    return to_kafka(
        CloudEvent[DeliveryOutcome](
            id=DeliveryOutcome.id_for(delivery_id, status, attempt),
            source="/iiz/bl/notifications",
            type=DeliveryOutcome.cloud_event_type(),
            subject="psn:k1:" + "ab" * 16,
            time=dt.datetime.now(dt.UTC),
            datacategory=DeliveryOutcome.default_category,
            partitionkey=str(delivery_id),
            data=DeliveryOutcome(
                delivery_id=delivery_id,
                recipient="berufsbildung",
                channel=DeliveryChannel.WEBHOOK,
                status=status,
                attempt=attempt,
                message_type="ch.bl.iiz.measure.started.v1",
                error="HTTP 503" if status is not OutcomeStatus.DELIVERED else None,
            ),
        )
    )


async def send(producer: AIOKafkaProducer, records: list[KafkaRecord]) -> None:
    for r in records:
        await producer.send_and_wait(DELIVERY_OUTCOMES, r.value, key=r.key, headers=list(r.headers))


async def committed_past(settings: CoordinationSettings, ends: dict[TopicPartition, int]) -> bool:
    """Whether the outcome consumer's group has committed every partition up to ``ends``."""
    admin = create_admin(settings)
    await admin.start()
    try:
        group = f"{settings.coordination_group_id}-outcomes"
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return all(tp in committed and committed[tp].offset >= end for tp, end in ends.items())


async def test_each_reported_outcome_is_audited_once_even_when_reported_twice(
    running_coordination: CoordinationSettings, db: asyncpg.Pool
) -> None:
    delivery_id = uuid.uuid4()
    failed = outcome(delivery_id, OutcomeStatus.FAILED, 1)
    delivered = outcome(delivery_id, OutcomeStatus.DELIVERED, 2)
    rejected_start = await end_offsets(running_coordination, [COORDINATION_REJECTED])
    producer = create_producer(running_coordination)
    await producer.start()
    try:
        await send(producer, [failed, delivered, failed])  # a repeated report, same outcome id
        await producer.send_and_wait(
            DELIVERY_OUTCOMES,
            b"{not json",
            key=str(delivery_id).encode(),  # same partition: read after the repeated report
            headers=[("ce_type", DeliveryOutcome.cloud_event_type().encode())],
        )
    finally:
        await producer.stop()

    ends = await end_offsets(running_coordination, [DELIVERY_OUTCOMES])
    await eventually(lambda: committed_past(running_coordination, ends))  # all four handled
    rows = await db.fetch(
        "SELECT detail FROM audit_log WHERE action = 'delivery-outcome' AND object = $1"
        " ORDER BY seq",
        str(delivery_id),
    )
    dead = await read_until(
        running_coordination,
        rejected_start,
        lambda rs: any(r.key == str(delivery_id).encode() for r in rs),
    )

    details = [json.loads(r["detail"]) for r in rows]
    assert [(d["status"], d["attempt"]) for d in details] == [("failed", 1), ("delivered", 2)]
    assert details[0]["error"] == "HTTP 503"
    stored = await db.fetchval(
        "SELECT count(*) FROM delivery_outcomes WHERE delivery_id = $1", delivery_id
    )
    assert stored == 2
    letter = next(r for r in dead if r.key == str(delivery_id).encode())
    assert dict(letter.headers)["iiz_reason"] == b"unreadable-delivery-outcome"
    assert (await audit.verify(db)).intact
