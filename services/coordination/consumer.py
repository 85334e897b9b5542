"""The consumer of ``iiz.case-events.v1``: batches in, one database transaction per batch.

Offsets are committed (``ack``) only after ``BatchProcessor.process`` has committed the batch's
effects; on any failure ``nack`` rewinds every partition of the batch to its first record and
the batch is redone (the processed-event marks make the redo a no-op for what was stored).
Run: ``faststream run --factory services.coordination.consumer:create_app``.
"""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.codec import KafkaRecord
from services.common.kafka_clients import create_broker
from services.common.logging import configure_logging
from services.coordination.processor import BusRecord
from services.coordination.runtime import CoordinationRuntime, migrate
from services.coordination.settings import CoordinationSettings


def bus_records(records: tuple[ConsumerRecord[bytes, bytes], ...]) -> list[BusRecord]:
    return [
        BusRecord(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers)) for r in records
    ]


async def _leave_undecoded(_message: object) -> None:
    """The processor judges raw records itself (poison included)."""
    return None


def register_case_event_subscriber(broker: KafkaBroker, runtime: CoordinationRuntime) -> None:
    settings = runtime.settings

    @broker.subscriber(
        settings.coordination_case_events_topic,
        group_id=settings.coordination_group_id,
        batch=True,
        max_records=settings.coordination_batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_leave_undecoded,
    )
    async def on_case_events(message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        try:
            await runtime.processor().process(bus_records(batch))
        except Exception:
            await message.nack()
            raise
        await message.ack()


def register_outcome_subscriber(broker: KafkaBroker, runtime: CoordinationRuntime) -> None:
    """Notifications' delivery reports, into the audit trail (their own consumer group)."""
    settings = runtime.settings

    @broker.subscriber(
        settings.coordination_outcomes_topic,
        group_id=f"{settings.coordination_group_id}-outcomes",
        batch=True,
        max_records=settings.coordination_batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_leave_undecoded,
    )
    async def on_delivery_outcomes(message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        try:
            await runtime.outcome_recorder().record(
                [KafkaRecord(r.key, r.value or b"", tuple(r.headers)) for r in batch]
            )
        except Exception:
            await message.nack()
            raise
        await message.ack()


def create_app(settings: CoordinationSettings | None = None) -> FastStream:
    """Factory for ``faststream run --factory services.coordination.consumer:create_app``."""
    settings = settings or CoordinationSettings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = CoordinationRuntime(settings)
    broker = create_broker(settings)
    register_case_event_subscriber(broker, runtime)
    register_outcome_subscriber(broker, runtime)

    async def start_runtime() -> None:
        await migrate(settings)
        await runtime.start()
        runtime.start_background()

    return FastStream(broker, on_startup=[start_runtime], after_shutdown=[runtime.stop])
