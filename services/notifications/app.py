"""The notifications service: two consumer lanes over ``iiz.deliveries.v1`` and the digest worker.

Run: ``python -m services.notifications`` (or ``faststream run --factory
services.notifications.app:create_app``). Any number of instances may run: each lane is one
consumer group read through the consumer edge (``services.common.consumer_edge``), so the
partitions are shared, and a batch's offsets are committed only after its effects are
acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer
from faststream import FastStream

from schemas.codec import KafkaRecord
from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.consumer_edge import ConsumedRecord, ConsumerEdge, EdgeConfig
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_producer
from services.common.logging import configure_logging
from services.common.mailer import Mailer, SmtpSettings
from services.common.worker import Worker, worker_application
from services.notifications.breaker import BreakerPolicy, CircuitBreakers
from services.notifications.digest_worker import DigestWorker
from services.notifications.lanes import Lanes
from services.notifications.settings import NotificationsSettings
from services.notifications.shaping import webhook_recipients
from services.notifications.webhook import RetryPolicy, WebhookSender


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def has_webhook_partners(registry: InstitutionRegistry) -> bool:
    return bool(webhook_recipients(registry))


@dataclass
class NotificationsRuntime:
    settings: NotificationsSettings
    clock: Callable[[], dt.datetime] | None = None  # tests move time; default: the wall clock
    secrets: Mapping[str, str] | None = None  # webhook secrets by env name; default: environ
    registry: InstitutionRegistry = field(init=False)
    producer: AIOKafkaProducer | None = None
    client: httpx.AsyncClient | None = None
    lanes: Lanes | None = None
    digest: DigestWorker | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registry = load_institutions(self.settings.notifications_registry_file)

    async def start(self) -> None:
        s = self.settings
        seal = IdentitySeal.from_settings(s)
        self.producer = create_producer(s)
        await self.producer.start()
        retry = RetryPolicy(
            max_attempts=s.notifications_webhook_attempts,
            base_delay=s.notifications_webhook_base_delay_seconds,
            max_delay=s.notifications_webhook_max_delay_seconds,
            timeout=s.notifications_webhook_timeout_seconds,
        )
        breakers = CircuitBreakers(
            BreakerPolicy(
                failure_threshold=s.notifications_breaker_failures,
                cooldown=s.notifications_breaker_cooldown_seconds,
            )
        )
        webhooks: WebhookSender | None = None
        if has_webhook_partners(self.registry):
            # Only then: the client costs 1-2.6 s at start (httpcore's import, a TLS context).
            self.client = httpx.AsyncClient(timeout=retry.timeout, follow_redirects=False)
            webhooks = WebhookSender(self.client, retry, breakers)
        self.lanes = Lanes(
            registry=self.registry,
            seal=seal,
            producer=self.producer,
            webhooks=webhooks,
            breakers=breakers,
            secrets=dict(os.environ if self.secrets is None else self.secrets),
            clock=self.clock or wall_clock,
            outcomes_topic=s.notifications_outcomes_topic,
            digest_topic=s.notifications_digest_topic,
            dead_letter_topic=s.notifications_dead_letter_topic,
        )
        mailer = Mailer(
            SmtpSettings(
                host=s.notifications_smtp_host,
                port=s.notifications_smtp_port,
                sender=s.notifications_smtp_sender,
                starttls=s.notifications_smtp_starttls,
            )
        )
        self.digest = DigestWorker(s, self.producer, mailer, clock=self.clock or wall_clock)
        self._tasks.append(asyncio.create_task(self.digest.run_supervised(self._stop)))
        self._stop.clear()

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        if self.client is not None:
            await self.client.aclose()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None


WEBHOOK_POLL_INTERVAL_MS = 60 * 60 * 1000
HEALTH_PORT = 8093


def kafka_records(records: Sequence[ConsumedRecord]) -> list[KafkaRecord]:
    return [KafkaRecord(r.key, r.value or b"", r.headers) for r in records]


@dataclass
class LaneHandler:
    """One lane's batches through the consumer edge."""

    runtime: NotificationsRuntime
    take: Callable[[Lanes, list[KafkaRecord]], Awaitable[None]]

    def _lanes(self) -> Lanes:
        assert self.runtime.lanes is not None, "the runtime starts before the edges"
        return self.runtime.lanes

    async def handle(self, records: Sequence[ConsumedRecord]) -> None:
        await self.take(self._lanes(), kafka_records(records))

    async def reject(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        await self._lanes().reject(kafka_records([record])[0], reason, detail)

    async def probe(self) -> None:
        producer = self.runtime.producer
        if producer is None or not await producer.client.force_metadata_update():
            raise ConnectionError("the Kafka cluster does not answer")


def notification_edges(runtime: NotificationsRuntime) -> list[ConsumerEdge]:
    s = runtime.settings

    def lane(
        name: str,
        max_records: int,
        take: Callable[[Lanes, list[KafkaRecord]], Awaitable[None]],
        max_poll_interval_ms: int = 300_000,
    ) -> ConsumerEdge:
        return ConsumerEdge(
            s,
            EdgeConfig(
                name=name,
                topics=(s.notifications_deliveries_topic,),
                group_id=f"{s.notifications_group_id}-{name}",
                max_records=max_records,
                max_poll_interval_ms=max_poll_interval_ms,
                # a webhook batch may wait on partners for its whole retry schedule
                stall_seconds=max_poll_interval_ms / 1000,
            ),
            LaneHandler(runtime, take),
        )

    # Webhook batches wait on partners: fewer records, and a poll interval above the worst case
    # (every record of a batch to one slow recipient, each through its whole retry schedule).
    # Without a webhook partner in the registry no batch waits on one: it only skips records
    # (headers only), so it takes the router's batch size and commits as seldom.
    webhook_batch = (
        s.notifications_webhook_batch_size
        if has_webhook_partners(runtime.registry)
        else s.notifications_batch_size
    )
    return [
        lane("router", s.notifications_batch_size, Lanes.route_batch),
        lane(
            "webhooks",
            webhook_batch,
            Lanes.webhook_batch,
            WEBHOOK_POLL_INTERVAL_MS,
        ),
    ]


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> FastStream:
    """Factory for ``faststream run --factory services.notifications.app:create_app``."""
    return build(settings or NotificationsSettings(), clock=clock, secrets=secrets)[0]


def build(
    settings: NotificationsSettings,
    *,
    clock: Callable[[], dt.datetime] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> tuple[FastStream, NotificationsRuntime]:
    """The application and its runtime (tests look at the runtime's counters)."""
    configure_logging(settings.log_level, settings.log_json)
    runtime = NotificationsRuntime(settings, clock=clock, secrets=secrets)
    worker = Worker(settings, notification_edges(runtime), HEALTH_PORT)
    app = worker_application(
        settings, worker, start_resources=[runtime.start], stop_resources=[runtime.stop]
    )
    return app, runtime
