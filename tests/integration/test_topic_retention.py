"""On the real broker: the retention plan reaches topics that already exist (not only new ones),
and every planned topic carries it afterwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import planned_topics
from tests.infra import Infra
from tests.integration.coordination.conftest import eventually
from tests.topic_plan import create_topics

DAY_MS = 24 * 3600 * 1000


async def test_an_existing_topic_gets_the_planned_retention_and_keeps_its_other_settings(
    kafka_admin: AIOKafkaAdminClient, new_topic: Callable[..., Any]
) -> None:
    script = create_topics()
    name = await new_topic("iiz.retention-test")
    spec = script.TopicSpec(name, 1, 30 * DAY_MS, {"segment.ms": str(DAY_MS)})
    own = {"retention.ms": "-1", "max.message.bytes": "2000000"}
    resource = script.ConfigResource(script.ConfigResourceType.TOPIC, name, own)
    # An existing topic, kept forever, with a setting of its own (the broker may need a moment
    # after creating the topic before it takes configs for it).
    await eventually(lambda: _altered(kafka_admin, resource))
    before = (await script.dynamic_configs(kafka_admin, [name]))[name]

    failed = await script.apply_retention(kafka_admin, [spec])
    after = (await script.dynamic_configs(kafka_admin, [name]))[name]
    again = await script.apply_retention(kafka_admin, [spec])

    assert before["retention.ms"] == "-1"
    assert failed == 0
    assert again == 0
    assert after["retention.ms"] == str(30 * DAY_MS)
    assert after["segment.ms"] == str(DAY_MS)
    assert after["max.message.bytes"] == "2000000"  # AlterConfigs replaced the whole set: kept


async def _altered(admin: AIOKafkaAdminClient, resource: Any) -> bool:
    responses = await admin.alter_configs([resource])
    return all(r["error_code"] == 0 for x in responses for r in x.to_object()["resources"])


async def test_ensure_topics_leaves_every_planned_topic_on_its_retention_plan(
    infra: Infra, kafka_admin: AIOKafkaAdminClient
) -> None:
    script = create_topics()
    assert await script.ensure_topics(infra.kafka_bootstrap_servers) == 0

    dynamic = await script.dynamic_configs(kafka_admin, [p.name for p in planned_topics()])
    off_plan = {
        p.name: dynamic[p.name]
        for p in planned_topics()
        if dynamic[p.name].get("retention.ms") != str(p.retention_ms)
        or any(dynamic[p.name].get(k) != v for k, v in p.configs.items())
    }
    assert off_plan == {}
