"""`make bench`: intake and coordination throughput and memory on the real broker and database.

``IIZ_BENCH=intake``, ``IIZ_BENCH=coordination``, ``IIZ_BENCH=notifications`` or
``IIZ_BENCH=metrics`` runs one of them (tests/bench_coordination.py, tests/bench_notifications.py,
tests/bench_metrics.py); the end-to-end latency comes
from the end-to-end test (test-artifacts/e2e-latency.json).

Submits N events (default 20 000, IIZ_BENCH_EVENTS) to three institutions' intake topics, runs
the intake Kafka door in this process on a fresh consumer group and schema, and measures the
time until every canonical event is committed on iiz.case-events.v1. Prints a Markdown row for
docs/benchmarks.md. Measures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
import uuid

from faststream import TestApp

from schemas.codec import to_kafka
from schemas.events import CaseOpened
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS
from services.common.kafka_clients import create_producer, end_offsets
from services.intake.kafka_door import create_app
from services.intake.migrate import migrate
from services.intake.settings import IntakeSettings
from simulator.credentials import local_environment
from tests.bench_coordination import bench_coordination
from tests.bench_metrics import bench_metrics
from tests.bench_notifications import bench_notifications
from tests.factories import sample_event, valid_ahv
from tests.kafka_tools import prime_group_at_end, read_until


async def bench_intake(events: int) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    settings = IntakeSettings(
        intake_db_schema=f"bench_{suffix}",
        intake_group_id=f"bench-{suffix}",
        intake_instance_id=f"bench-{suffix}",
        log_level="WARNING",
    )
    registry = load_institutions()
    senders = [registry.by_id[i] for i in ("rav", "iv", "sozialhilfe-2829")]
    await migrate(settings)
    await prime_group_at_end(
        settings, settings.intake_group_id, [i.intake_topic for i in registry.institutions]
    )
    submissions = [
        to_kafka(
            sample_event(
                CaseOpened,
                source=senders[n % 3].source,
                person={"ahv_number": valid_ahv(n), "case_ref": f"B-{n}"},
                partitionkey=f"B-{n}",
            )
        )
        for n in range(events)
    ]
    producer = create_producer(settings)  # as the partners' own principals would
    await producer.start()
    for n, record in enumerate(submissions):
        topic = senders[n % 3].intake_topic
        await producer.send(topic, record.value, key=record.key, headers=list(record.headers))
    await producer.flush()
    await producer.stop()
    start = await end_offsets(settings, [CASE_EVENTS])
    began = time.perf_counter()
    async with TestApp(create_app(settings)):
        seen = await read_until(settings, start, lambda rs: len(rs) >= events, within=600)
    elapsed = time.perf_counter() - began
    return {
        "events": events,
        "seconds": elapsed,
        "per_second": len(seen) / elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    if not os.environ.get("IIZ_KAFKA_BOOTSTRAP_SERVERS"):  # `make bench`: the local instance
        os.environ.update(local_environment())
    wanted = os.environ.get("IIZ_BENCH", "intake,coordination,notifications,metrics").split(",")
    if "intake" in wanted:
        events = int(os.environ.get("IIZ_BENCH_EVENTS", "20000"))
        result = asyncio.run(bench_intake(events))
        print("| benchmark | events | seconds | events/s | peak RSS (MiB, whole process) |")
        print("|---|---|---|---|---|")
        print(
            f"| intake Kafka door, batch 500, one transaction per batch | {result['events']:.0f}"
            f" | {result['seconds']:.1f} | {result['per_second']:.0f}"
            f" | {result['peak_rss_mib']:.0f} |"
        )
    if "coordination" in wanted:
        persons = int(os.environ.get("IIZ_BENCH_PERSONS", "1500"))
        c = asyncio.run(bench_coordination(persons))
        print(
            "| benchmark | persons | events | seconds | events/s | decisions | deliveries"
            " | all relayed after (s) | peak RSS (MiB) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| coordination worker, batch 500, one PG transaction per batch | {c['persons']:.0f}"
            f" | {c['events']:.0f} | {c['seconds']:.1f} | {c['per_second']:.0f}"
            f" | {c['decisions']:.0f} | {c['deliveries']:.0f} | {c['relayed_seconds']:.1f}"
            f" | {c['peak_rss_mib']:.0f} |"
        )
    if "notifications" in wanted:
        count = int(os.environ.get("IIZ_BENCH_DELIVERIES", "20000"))
        d = asyncio.run(bench_notifications(count))
        print("| benchmark | deliveries | seconds | deliveries/s | peak RSS (MiB, whole process) |")
        print("|---|---|---|---|---|")
        print(
            f"| notifications router lane, batch 500, partner topics + outcomes"
            f" | {d['deliveries']:.0f} | {d['seconds']:.1f} | {d['per_second']:.0f}"
            f" | {d['peak_rss_mib']:.0f} |"
        )
    if "metrics" in wanted:
        print(
            "| benchmark | cases/year | cases | rows | cells | compute (s) | publish (s) | blank"
            " | counts perturbed | peak RSS (MiB) |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for per_year in (500, 1_000, 5_000):
            m = bench_metrics(per_year)
            print(
                f"| committee figures, 3 years x 6 scopes, quarters and years | {per_year}"
                f" | {m['cases']:.0f} | {m['rows']:.0f} | {m['cells']:.0f}"
                f" | {m['compute_seconds']:.2f} | {m['publish_seconds']:.2f}"
                f" | {m['blank_share']:.1%} | {m['perturbed_share']:.1%}"
                f" | {m['peak_rss_mib']:.0f} |"
            )


if __name__ == "__main__":
    main()
