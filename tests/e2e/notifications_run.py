"""Notifications in an end-to-end run: the service in this process, a webhook partner
(Berufsbildung) and the coordinators' mailbox, all on the real broker."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from faststream import TestApp

from schemas.topics import DELIVERIES, DIGEST_QUEUE
from services.notifications.app import NotificationsRuntime, build
from services.notifications.settings import NotificationsSettings
from simulator.channels import WEBHOOK_SECRET_ENV, registry_with_webhook
from simulator.mailbox import LocalSmtpServer, ReceivedMail
from simulator.partners import ReceivedDelivery
from simulator.webhook_partner import WebhookServer, serve_webhooks
from tests.kafka_tools import prime_group_at_end

SECRET = base64.b64encode(b"end-to-end-secret-of-berufsbildung").decode()


@dataclass
class Notifications:
    runtime: NotificationsRuntime
    webhook: WebhookServer
    mailbox: LocalSmtpServer

    async def mails(self) -> list[ReceivedMail]:
        return self.mailbox.received

    def webhook_deliveries(self) -> list[ReceivedDelivery]:
        """What the webhook partner received, as records (attributes as ``ce_*`` headers)."""
        found = []
        for request in self.webhook.requests:
            if not request.signature_valid:
                continue
            event = json.loads(request.body)
            data = event.pop("data")
            headers = tuple((f"ce_{k}", str(v).encode()) for k, v in event.items())
            found.append(
                ReceivedDelivery(
                    topic="webhook:berufsbildung",
                    partition=0,
                    offset=len(found),
                    key=None,
                    value=json.dumps(data).encode(),
                    headers=headers,
                    received_at=dt.datetime.now(dt.UTC),
                )
            )
        return found


def ahead_of_the_hour() -> dt.datetime:
    """The digest worker's clock: two hours ahead, so every digest's hour is already over."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)


@asynccontextmanager
async def running_notifications(
    bootstrap: str, database_url: str, folder: Path
) -> AsyncIterator[Notifications]:
    async with serve_webhooks(SECRET) as webhook, LocalSmtpServer() as mailbox:
        settings = NotificationsSettings(
            environment="test",
            kafka_bootstrap_servers=bootstrap,
            database_url=database_url,
            notifications_group_id=f"iiz-notifications-e2e-{uuid.uuid4().hex[:10]}",
            notifications_registry_file=registry_with_webhook(folder / "reg.yaml", webhook.url),
            notifications_smtp_port=mailbox.port,
            notifications_digest_grace_seconds=0,
            notifications_digest_check_seconds=0.2,
            log_json=True,
        )
        prefix = settings.notifications_group_id
        for lane in ("router", "webhooks"):
            await prime_group_at_end(settings, f"{prefix}-{lane}", [DELIVERIES])
        await prime_group_at_end(settings, f"{prefix}-digest", [DIGEST_QUEUE])
        app, runtime = build(
            settings, clock=ahead_of_the_hour, secrets={WEBHOOK_SECRET_ENV: SECRET}
        )
        async with TestApp(app):
            yield Notifications(runtime, webhook, mailbox)
