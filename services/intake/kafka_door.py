"""The Kafka door: consumes every institution's intake topic in batches.

Ack and dead-letter policy (written down once, here):
- The subscriber never auto-commits (``AckPolicy.MANUAL``). A batch's offsets are committed
  inside the same Kafka transaction as its canonical events, receipts and dead letters.
- A bad message is never an exception: it becomes a dead letter plus a rejection receipt in that
  transaction, so it neither blocks the messages after it nor disappears.
- If the batch cannot be published (broker or database down), ``nack`` rewinds every partition
  of the batch to its first record and the error propagates: the batch is redone, never skipped
  (a later commit cannot jump over it; FastStream issue #2618).
"""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.codec import KafkaRecord
from schemas.registry.institutions import InstitutionRegistry
from services.common.kafka_clients import create_broker
from services.common.logging import configure_logging
from services.intake.pipeline import ConsumedOffsets
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Submission


def submissions_of(
    records: tuple[ConsumerRecord[bytes, bytes], ...], registry: InstitutionRegistry
) -> list[Submission]:
    """The topic a record came from names its sender: only that institution may write there."""
    return [
        Submission(
            sender=registry.by_intake_topic[r.topic],
            record=KafkaRecord(key=r.key, value=r.value or b"", headers=tuple(r.headers)),
            channel=f"kafka:{r.topic}/{r.partition}/{r.offset}",
        )
        for r in records
    ]


def next_offsets(records: tuple[ConsumerRecord[bytes, bytes], ...]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets


async def _leave_undecoded(_message: object) -> None:
    """FastStream would JSON-decode bodies; intake judges raw bytes itself (poison included)."""
    return None


def register_intake_subscriber(broker: KafkaBroker, runtime: IntakeRuntime) -> None:
    settings = runtime.settings
    topics = [i.intake_topic for i in runtime.registry.institutions]

    @broker.subscriber(
        *topics,
        group_id=settings.intake_group_id,
        batch=True,
        max_records=settings.intake_batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=_leave_undecoded,
    )
    async def on_intake_topics(message: KafkaMessage) -> None:
        records = message.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        assert runtime.pipeline is not None, "the runtime starts before the subscriber"
        try:
            await runtime.pipeline.process(
                submissions_of(batch, runtime.registry),
                ConsumedOffsets(settings.intake_group_id, next_offsets(batch)),
            )
        except Exception:
            await message.nack()
            raise


def create_app(settings: IntakeSettings | None = None) -> FastStream:
    """Factory for ``faststream run --factory services.intake.kafka_door:create_app``."""
    settings = settings or IntakeSettings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = IntakeRuntime(settings)
    broker = create_broker(settings)
    register_intake_subscriber(broker, runtime)

    async def start_runtime() -> None:
        await runtime.start("kafka")

    # Resources go only after the broker has stopped consuming (after_shutdown): closing them
    # under a running batch would fail it and stall the shutdown and the next rebalance.
    return FastStream(broker, on_startup=[start_runtime], after_shutdown=[runtime.stop])
