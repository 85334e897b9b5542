"""Coordination's worker: ``iiz.case-events.v1`` and notifications' delivery reports, through the
consumer edge (``services.common.consumer_edge``).

Each batch of case events goes through ``BatchProcessor.process`` (one database transaction);
the edge commits offsets only after it returned, isolates a record that fails on its own (it is
dead-lettered through ``BatchProcessor.reject``) and backs off while PostgreSQL or Kafka is away.
Run: ``python -m services.coordination worker`` (after ``python -m services.coordination
migrate``), or ``faststream run --factory services.coordination.worker.consumer:create_app``;
the outbox relay on its own: ``python -m services.coordination relay`` (``create_relay_app``).
"""

from __future__ import annotations

from collections.abc import Sequence

from faststream import FastStream

from schemas.codec import KafkaRecord
from services.common.consumer_edge import ConsumedRecord, ConsumerEdge, EdgeConfig
from services.common.logging import configure_logging
from services.common.worker import Worker, probe, worker_application
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime

HEALTH_PORT = 8092
RELAY_HEALTH_PORT = 8095


def bus_records(records: Sequence[ConsumedRecord]) -> list[BusRecord]:
    return [BusRecord(r.topic, r.partition, r.offset, r.key, r.value, r.headers) for r in records]


def kafka_record(record: ConsumedRecord) -> KafkaRecord:
    return KafkaRecord(record.key, record.value or b"", record.headers)


class CaseEventsHandler:
    """Folds, decides and stores a batch of canonical events."""

    def __init__(self, runtime: CoordinationRuntime) -> None:
        self._runtime = runtime

    async def handle(self, records: Sequence[ConsumedRecord]) -> None:
        await self._runtime.processor().process(bus_records(records))

    async def reject(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        await self._runtime.processor().reject(bus_records([record])[0], reason, detail)

    async def probe(self) -> None:
        await probe(self._runtime.pool, self._runtime.producer)


class DeliveryOutcomesHandler:
    """Notifications' delivery reports, into the audit trail."""

    def __init__(self, runtime: CoordinationRuntime) -> None:
        self._runtime = runtime

    async def handle(self, records: Sequence[ConsumedRecord]) -> None:
        await self._runtime.outcome_recorder().record([kafka_record(r) for r in records])

    async def reject(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        await self._runtime.outcome_recorder().dead_letter(kafka_record(record), reason, detail)

    async def probe(self) -> None:
        await probe(self._runtime.pool, self._runtime.producer)


def coordination_edges(runtime: CoordinationRuntime) -> list[ConsumerEdge]:
    s = runtime.settings
    return [
        ConsumerEdge(
            s,
            EdgeConfig(
                name="case-events",
                topics=(s.coordination_case_events_topic,),
                group_id=s.coordination_group_id,
                max_records=s.coordination_batch_size,
            ),
            CaseEventsHandler(runtime),
        ),
        ConsumerEdge(
            s,
            EdgeConfig(
                name="delivery-outcomes",
                topics=(s.coordination_outcomes_topic,),
                group_id=f"{s.coordination_group_id}-outcomes",
                max_records=s.coordination_batch_size,
            ),
            DeliveryOutcomesHandler(runtime),
        ),
    ]


def create_app(settings: CoordinationSettings | None = None) -> FastStream:
    """Factory for ``faststream run --factory services.coordination.worker.consumer:create_app``.

    The schema must be migrated first (``python -m services.coordination migrate``)."""
    settings = settings or CoordinationSettings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = CoordinationRuntime(settings)
    worker = Worker(settings, coordination_edges(runtime), HEALTH_PORT)

    async def start_runtime() -> None:
        await runtime.start()
        runtime.start_background()

    return worker_application(
        settings, worker, start_resources=[start_runtime], stop_resources=[runtime.stop]
    )


def create_relay_app(settings: CoordinationSettings | None = None) -> FastStream:
    """The outbox relay alone, as a process of its own (``python -m services.coordination
    relay``): beside workers started with ``IIZ_COORDINATION_RUN_RELAY=false`` it publishes on
    its own core, event loop and connections instead of sharing the worker's. Several relays may
    run; each lane is published by one at a time (advisory locks)."""
    settings = settings or CoordinationSettings()
    configure_logging(settings.log_level, settings.log_json)
    runtime = CoordinationRuntime(settings)
    worker = Worker(settings, [], RELAY_HEALTH_PORT)

    async def start_relay() -> None:
        await runtime.start()
        runtime.start_relay()

    return worker_application(
        settings, worker, start_resources=[start_relay], stop_resources=[runtime.stop]
    )
