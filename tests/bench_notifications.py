"""`IIZ_BENCH=notifications`: how fast the router lane turns authorised deliveries into partner
records, on the real broker. Measures; asserts nothing.

N deliveries (default 20 000, ``IIZ_BENCH_DELIVERIES``), built by coordination's own code for
five recipients, half of them with the AHV number sealed for opening, go to a private deliveries
topic of six partitions. One notifications instance (router lane, webhook lane, digest worker)
starts on fresh consumer groups; the clock runs until the router group has committed the whole
topic, i.e. every partner record and every outcome report is acknowledged.
"""

from __future__ import annotations

import asyncio
import resource
import time
import uuid

from aiokafka.admin import NewTopic
from faststream import TestApp

from schemas.events import CaseOpened
from services.common.kafka_clients import create_admin, create_producer, end_offsets
from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from tests.case_story import CaseStory
from tests.infra import replication_factor
from tests.integration.notifications.conftest import authorised

RECIPIENTS = ("rav", "iv", "assessmentcenter", "sozialhilfe-2829", "zif")
IDENTITY = frozenset({"person.ahv_number", "person.sealed_ahv"})


async def bench_notifications(deliveries: int) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    topic = f"bench.deliveries.{suffix}"
    settings = NotificationsSettings(
        log_level="WARNING",
        notifications_deliveries_topic=topic,
        notifications_group_id=f"bench-notifications-{suffix}",
    )
    admin = create_admin(settings)
    await admin.start()
    replicas = await replication_factor(admin)
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=replicas)])
    producer = create_producer(settings)
    await producer.start()
    for n in range(deliveries):
        story = CaseStory(person_seed=900_000 + n // len(RECIPIENTS))
        event = story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
        withheld = frozenset() if n % 2 else IDENTITY
        record = authorised(event, RECIPIENTS[n % len(RECIPIENTS)], withheld=withheld)
        await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
    await producer.flush()
    await producer.stop()
    ends = await end_offsets(settings, [topic])

    began = time.perf_counter()
    async with TestApp(create_app(settings)):
        group = f"{settings.notifications_group_id}-router"
        while True:
            committed = await admin.list_consumer_group_offsets(group)
            if all(tp in committed and committed[tp].offset >= end for tp, end in ends.items()):
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - began
    await admin.delete_topics([topic])
    await admin.close()
    return {
        "deliveries": deliveries,
        "seconds": elapsed,
        "per_second": deliveries / elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
