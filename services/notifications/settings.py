"""Notifications' settings (``IIZ_NOTIFICATIONS_*`` plus the shared ``IIZ_*``)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from schemas.topics import (
    DELIVERIES,
    DELIVERY_OUTCOMES,
    DIGEST_QUEUE,
    NOTIFICATIONS_DEAD_LETTERS,
)
from services.common.settings import CommonSettings


class NotificationsSettings(CommonSettings):
    uses_database: ClassVar[bool] = False  # Kafka and SMTP only

    notifications_deliveries_topic: str = Field(
        default=DELIVERIES, description="what coordination authorised (other names only for tests)"
    )
    notifications_outcomes_topic: str = Field(default=DELIVERY_OUTCOMES)
    notifications_digest_topic: str = Field(default=DIGEST_QUEUE)
    notifications_dead_letter_topic: str = Field(default=NOTIFICATIONS_DEAD_LETTERS)
    notifications_group_id: str = Field(
        default="iiz-notifications",
        description="prefix of the consumer groups: <prefix>-router, -webhooks, -digest",
    )
    notifications_instance_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}"
    )
    notifications_registry_file: Path | None = Field(
        default=None, description="institution registry with channel settings (default: packaged)"
    )
    notifications_batch_size: int = Field(default=500, ge=1, le=10_000)
    # Webhooks (docs/webhooks.md)
    notifications_webhook_batch_size: int = Field(default=50, ge=1, le=500)
    notifications_webhook_attempts: int = Field(default=6, ge=1, le=50)
    notifications_webhook_base_delay_seconds: float = Field(default=0.5, gt=0)
    notifications_webhook_max_delay_seconds: float = Field(default=30.0, gt=0)
    notifications_webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    notifications_breaker_failures: int = Field(default=5, ge=1)
    notifications_breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # Coordinator e-mail digest
    notifications_smtp_host: str = Field(default="127.0.0.1")
    notifications_smtp_port: int = Field(default=8025, ge=1, le=65535)
    notifications_smtp_sender: str = Field(default="iiz-bus@example.org")
    notifications_smtp_starttls: bool = Field(default=False)
    notifications_smtp_attempts: int = Field(default=5, ge=1)
    notifications_digest_minutes: int = Field(
        default=60, ge=1, le=60, description="digest period; divides the hour (60: hourly)"
    )
    notifications_digest_grace_seconds: float = Field(
        default=60.0, ge=0, description="wait after the hour ends for late alerts"
    )
    notifications_digest_check_seconds: float = Field(default=15.0, gt=0)
    notifications_case_page_url: str | None = Field(
        default="http://127.0.0.1:8082/fall", description="linked from the digest, per case number"
    )
    notifications_inbox_url: str | None = Field(
        default="http://127.0.0.1:8082/posteingang",
        description="the Posteingang, linked from the notice that something new waits there",
    )
