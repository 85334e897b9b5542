"""The Kafka door: every institution's intake topic, through the consumer edge.

Ack and dead-letter policy (written down once, here):
- A batch's offsets are committed inside the same Kafka transaction as its canonical events,
  receipts and dead letters (``IntakePipeline.process``); the edge commits the consumer's
  position after that only to move past transaction markers.
- A bad message is never an exception: it becomes a dead letter plus a rejection receipt in that
  transaction, so it neither blocks the messages after it nor disappears. Raw bytes reach
  ``assess``: a header that is not UTF-8 is answered ``not_utf8`` like any other fault.
- A message that makes the pipeline fail on its own (a bug, not the message's contract) is found
  by the edge and answered ``processing_failed`` (dead letter and receipt, with its offset).
- If the broker or the database is away, the edge rewinds the unsettled rest of the batch and
  retries it after a backoff; a transaction that committed is never redone.
Run: ``python -m services.intake kafka`` (after ``python -m services.intake migrate``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition
from faststream import FastStream

from schemas.codec import KafkaRecord
from schemas.registry.institutions import InstitutionRegistry
from services.common.consumer_edge import ConsumedRecord, ConsumerEdge, EdgeConfig
from services.common.logging import configure_logging
from services.common.worker import Worker, probe, worker_application
from services.intake.pipeline import ConsumedOffsets, IntakePipeline
from services.intake.runtime import IntakeRuntime
from services.intake.settings import IntakeSettings
from services.intake.submission import Submission

HEALTH_PORT = 8091


def submissions_of(
    records: Sequence[ConsumedRecord], registry: InstitutionRegistry
) -> list[Submission]:
    """The topic a record came from names its sender: only that institution may write there."""
    return [
        Submission(
            sender=registry.by_intake_topic[r.topic],
            record=KafkaRecord(key=r.key, value=r.value or b"", headers=r.headers),
            channel=f"kafka:{r.where}",
        )
        for r in records
    ]


def next_offsets(records: Sequence[ConsumedRecord]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets


class IntakeTopicsHandler:
    def __init__(self, runtime: IntakeRuntime) -> None:
        self._runtime = runtime

    def _pipeline(self) -> IntakePipeline:
        assert self._runtime.pipeline is not None, "the runtime starts before the edge"
        return self._runtime.pipeline

    def _consumed(self, records: Sequence[ConsumedRecord]) -> ConsumedOffsets:
        return ConsumedOffsets(self._runtime.settings.intake_group_id, next_offsets(records))

    async def handle(self, records: Sequence[ConsumedRecord]) -> None:
        submissions = submissions_of(records, self._runtime.registry)
        await self._pipeline().process(submissions, self._consumed(records))

    async def reject(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        [submission] = submissions_of([record], self._runtime.registry)
        await self._pipeline().refuse(submission, detail, self._consumed([record]))

    async def probe(self) -> None:
        await probe(self._runtime.pool, self._runtime.producer)


def intake_edge(runtime: IntakeRuntime) -> ConsumerEdge:
    s = runtime.settings
    return ConsumerEdge(
        s,
        EdgeConfig(
            name="intake-topics",
            topics=tuple(i.intake_topic for i in runtime.registry.institutions),
            group_id=s.intake_group_id,
            max_records=s.intake_batch_size,
        ),
        IntakeTopicsHandler(runtime),
    )


def create_app(settings: IntakeSettings | None = None) -> FastStream:
    """Factory for ``faststream run --factory services.intake.kafka_door:create_app``."""
    settings = settings or IntakeSettings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = IntakeRuntime(settings)
    worker = Worker(settings, [intake_edge(runtime)], HEALTH_PORT)

    async def start_runtime() -> None:
        await runtime.start("kafka")

    # Resources go only after the edge has stopped consuming (after_shutdown): closing them
    # under a running batch would fail it and stall the shutdown and the next rebalance.
    return worker_application(
        settings, worker, start_resources=[start_runtime], stop_resources=[runtime.stop]
    )
