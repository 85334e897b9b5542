"""Without a webhook partner in the registry no HTTP client is built at start (it cost 1-2.6 s)
and the webhook lane, which then only skips records, reads batches as large as the router's.
With one, both are as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import services.notifications.app as app
from services.notifications.app import NotificationsRuntime, notification_edges
from services.notifications.settings import NotificationsSettings
from simulator.channels import registry_with_webhook


class FakeProducer:
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class FakeDigest:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def run_supervised(self, stop: Any) -> None:
        await stop.wait()


def _settings(registry: Path | None) -> NotificationsSettings:
    return NotificationsSettings(
        notifications_registry_file=registry,
        notifications_batch_size=400,
        notifications_webhook_batch_size=40,
    )


@pytest.fixture(autouse=True)
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app, "create_producer", lambda settings: FakeProducer())
    monkeypatch.setattr(app, "DigestWorker", FakeDigest)


async def test_no_webhook_partner_no_client_and_router_sized_batches() -> None:
    runtime = NotificationsRuntime(_settings(None))
    await runtime.start()
    try:
        assert runtime.client is None
        assert runtime.lanes is not None
        assert runtime.lanes.webhooks is None
        sizes = {e.config.name: e.config.max_records for e in notification_edges(runtime)}
        assert sizes == {"router": 400, "webhooks": 400}
    finally:
        await runtime.stop()


async def test_a_webhook_partner_gets_the_client_and_small_batches(tmp_path: Path) -> None:
    registry = registry_with_webhook(tmp_path / "institutions.yaml", "https://partner.example")
    runtime = NotificationsRuntime(_settings(registry))
    await runtime.start()
    try:
        assert runtime.client is not None
        assert runtime.lanes is not None
        assert runtime.lanes.webhooks is not None
        sizes = {e.config.name: e.config.max_records for e in notification_edges(runtime)}
        assert sizes == {"router": 400, "webhooks": 40}
    finally:
        await runtime.stop()
