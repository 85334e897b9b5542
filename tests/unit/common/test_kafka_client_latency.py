"""The factories' latency settings: a producer does not linger (its callers hand whole batches
over and then wait for the acks), a consumer's fetch waits 50 ms at most, and the safe settings
stay as they were."""

from __future__ import annotations

import pytest

from services.common.kafka_clients import create_consumer, create_producer
from services.common.settings import CommonSettings


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> CommonSettings:
    for name in ("IIZ_KAFKA_SECURITY_PROTOCOL", "IIZ_KAFKA_USERNAME", "IIZ_KAFKA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return CommonSettings(kafka_bootstrap_servers="127.0.0.1:9092")


async def test_a_producer_sends_without_lingering_and_stays_safe(settings: CommonSettings) -> None:
    for producer in (
        create_producer(settings),
        create_producer(settings, transactional_id="iiz-intake-t"),
    ):
        accumulator = producer._message_accumulator
        assert accumulator._linger_time == 0
        assert accumulator._batch_size == 512 * 1024
        assert producer._sender._acks == -1  # acks=all
        assert producer._txn_manager is not None  # idempotent (a transaction manager always)


async def test_a_consumer_still_reads_committed_records_only_and_never_commits_itself(
    settings: CommonSettings,
) -> None:
    consumer = create_consumer(settings, "a.topic", group_id="g")
    assert consumer._isolation_level == "read_committed"
    assert consumer._enable_auto_commit is False
    assert consumer._fetch_max_wait_ms == 50  # not aiokafka's 500 (see create_consumer)
    overridden = create_consumer(settings, "a.topic", group_id="g", fetch_max_wait_ms=500)
    assert overridden._fetch_max_wait_ms == 500


async def test_a_consumer_buffers_at_most_a_few_batches_ahead_of_its_handler(
    settings: CommonSettings,
) -> None:
    consumer = create_consumer(settings, "a.topic", group_id="g")
    assert consumer._max_partition_fetch_bytes == 1024 * 1024  # a producer batch fits
    assert consumer._fetch_max_bytes == 4 * 1024 * 1024  # aiokafka: 50 MiB
