"""Notifications on the real broker: a private deliveries topic, unique consumer groups, a
registry whose Berufsbildung takes webhooks from a local server, and a local SMTP server."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.codec import KafkaRecord
from schemas.envelope import CloudEvent
from services.common.kafka_clients import create_producer
from services.coordination.domain.alerts import AlertIntent
from services.coordination.domain.policy import Basis, BasisKind, Decision
from services.coordination.worker.deliveries import alert_delivery, delivery
from services.notifications.settings import NotificationsSettings
from simulator.channels import registry_with_webhook
from simulator.mailbox import LocalSmtpServer
from simulator.webhook_partner import WebhookServer, serve_webhooks
from tests.infra import Infra

WEBHOOK_SECRET = base64.b64encode(b"berufsbildung-test-secret-32-bytes!").decode()


class Clock:
    """The wall clock, moved forward by tests (to close digest hours without waiting)."""

    def __init__(self) -> None:
        self.ahead = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.ahead


@pytest.fixture
async def webhook_partner() -> AsyncIterator[WebhookServer]:
    async with serve_webhooks(WEBHOOK_SECRET) as server:
        yield server


@pytest.fixture
async def smtp() -> AsyncIterator[LocalSmtpServer]:
    async with LocalSmtpServer() as server:
        yield server


@pytest.fixture
async def notifications_settings(
    infra: Infra,
    tmp_path: Path,
    webhook_partner: WebhookServer,
    smtp: LocalSmtpServer,
    new_topic: Callable[..., Coroutine[Any, Any, str]],
) -> NotificationsSettings:
    suffix = uuid.uuid4().hex[:10]
    settings = NotificationsSettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
        notifications_deliveries_topic=await new_topic("iiz.deliveries.test", partitions=6),
        notifications_digest_topic=await new_topic("iiz.notifications.digest.test", partitions=3),
        notifications_dead_letter_topic=await new_topic("iiz.notifications.dead.test"),
        notifications_group_id=f"iiz-notifications-test-{suffix}",
        notifications_registry_file=registry_with_webhook(
            tmp_path / "institutions.yaml", webhook_partner.url
        ),
        notifications_webhook_attempts=3,
        notifications_webhook_base_delay_seconds=0.01,
        notifications_webhook_max_delay_seconds=0.05,
        notifications_webhook_timeout_seconds=2.0,
        notifications_smtp_port=smtp.port,
        notifications_digest_grace_seconds=0,
        notifications_digest_check_seconds=0.2,
        log_json=True,
    )
    return settings


SECRETS = {"IIZ_WEBHOOK_SECRET_BERUFSBILDUNG": WEBHOOK_SECRET}


@pytest.fixture
async def deliveries_producer(
    notifications_settings: NotificationsSettings,
) -> AsyncIterator[Callable[[list[KafkaRecord]], Coroutine[Any, Any, None]]]:
    """Publishes records to the private deliveries topic, as coordination's relay would."""
    producer: AIOKafkaProducer = create_producer(notifications_settings)
    await producer.start()

    async def publish(records: list[KafkaRecord]) -> None:
        topic = notifications_settings.notifications_deliveries_topic
        for record in records:
            await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
        await producer.flush()

    yield publish
    await producer.stop()


def authorised(
    event: CloudEvent[Any], recipient: str, *, withheld: frozenset[str] = frozenset()
) -> KafkaRecord:
    """What coordination's outbox holds for an allowed decision (built by its own code)."""
    decision = Decision(
        recipient=recipient,
        allowed=True,
        basis=Basis(BasisKind.CONSENT, consent_ids=(uuid.uuid4(),)),
        withheld=withheld,
    )
    built = delivery(
        event,
        decision,
        pseudonym=str(event.subject),
        case_number="IIZ-2026-000042",
        recipient_case_ref=f"{recipient.upper()}-77",
        lanes=6,
    )
    return built.record


def alert_for(recipient: str, audience: Any, *, pseudonym: str, message: str) -> KafkaRecord:
    from schemas.alerts import AlertKind

    intent = AlertIntent(
        alert_id=uuid.uuid4(),
        kind=AlertKind.PARALLEL_PLANNING,
        recipient=recipient,
        audience=audience,
        message=message,
        due=dt.date(2026, 12, 15),
        about=uuid.uuid4(),
        institutions=("rav", recipient),
    )
    return alert_delivery(
        intent,
        pseudonym=pseudonym,
        case_number="IIZ-2026-000042",
        recipient_case_ref=None,
        at=dt.datetime.now(dt.UTC),
        lanes=6,
    ).record
