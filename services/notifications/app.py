"""The notifications service: two consumer lanes over ``iiz.deliveries.v1`` and the digest worker.

Run: ``python -m services.notifications`` (or ``faststream run --factory
services.notifications.app:create_app``). Any number of instances may run: each lane is one
consumer group, so the partitions are shared, and a batch's offsets are committed only after its
effects are acknowledged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.codec import KafkaRecord
from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_broker, create_producer
from services.common.logging import configure_logging
from services.notifications.breaker import BreakerPolicy, CircuitBreakers
from services.notifications.digest_worker import DigestWorker
from services.notifications.lanes import Lanes
from services.notifications.mailer import Mailer, SmtpSettings
from services.notifications.settings import NotificationsSettings
from services.notifications.webhook import RetryPolicy, WebhookSender


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
        seal = IdentitySeal(s.identity_key.get_secret_value(), s.identity_key_id)
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
        self.client = httpx.AsyncClient(timeout=retry.timeout, follow_redirects=False)
        self.lanes = Lanes(
            registry=self.registry,
            seal=seal,
            producer=self.producer,
            webhooks=WebhookSender(self.client, retry, breakers),
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


def kafka_records(message: KafkaMessage) -> list[KafkaRecord]:
    raw = message.raw_message
    batch: tuple[ConsumerRecord[bytes, bytes], ...] = raw if isinstance(raw, tuple) else (raw,)
    return [KafkaRecord(r.key, r.value or b"", tuple(r.headers)) for r in batch]


async def _leave_undecoded(_message: object) -> None:
    return None


def register_lanes(broker: KafkaBroker, runtime: NotificationsRuntime) -> None:
    s = runtime.settings

    def lane(
        name: str, max_records: int, max_poll_interval_ms: int = 300_000
    ) -> Callable[[Callable[[KafkaMessage], Awaitable[None]]], object]:
        return broker.subscriber(
            s.notifications_deliveries_topic,
            group_id=f"{s.notifications_group_id}-{name}",
            batch=True,
            max_records=max_records,
            max_poll_interval_ms=max_poll_interval_ms,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,
            decoder=_leave_undecoded,
        )

    @lane("router", s.notifications_batch_size)
    async def on_deliveries(message: KafkaMessage) -> None:
        assert runtime.lanes is not None
        try:
            await runtime.lanes.route_batch(kafka_records(message))
        except Exception:
            await message.nack()
            raise
        await message.ack()

    # Webhook batches wait on partners: fewer records, and a poll interval above the worst case
    # (every record of a batch to one slow recipient, each through its whole retry schedule).
    @lane("webhooks", s.notifications_webhook_batch_size, WEBHOOK_POLL_INTERVAL_MS)
    async def on_webhook_deliveries(message: KafkaMessage) -> None:
        assert runtime.lanes is not None
        try:
            await runtime.lanes.webhook_batch(kafka_records(message))
        except Exception:
            await message.nack()
            raise
        await message.ack()


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
    broker = create_broker(settings)
    register_lanes(broker, runtime)
    app = FastStream(broker, on_startup=[runtime.start], after_shutdown=[runtime.stop])
    return app, runtime
