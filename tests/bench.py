"""`make bench`: throughput and memory of the services on the real broker and database, each
against the raw floor of the same run.

``IIZ_BENCH`` picks, comma-separated, from ``floor``, ``intake``, ``coordination`` (with the
rebuild from its log), ``notifications``, ``timeline`` (the timeline API under 100 clients,
tests/bench_timeline.py) and ``metrics`` (default: all). ``floor`` (tests/bench_floor.py) measures
aiokafka produce (acks=all, idempotence), plain consume and consume + COPY into PostgreSQL +
commit per batch on the same secured broker and database, once per event count: each figure is
compared with a floor of exactly its own number of events (intake and notifications with
produce, coordination with consume + COPY + commit), each floor the median of three runs
(IIZ_BENCH_FLOOR_REPEATS). Alone, it measures IIZ_BENCH_EVENTS.
The others: tests/bench_coordination.py, tests/bench_notifications.py, tests/bench_metrics.py;
the end-to-end latency comes from the end-to-end test (test-artifacts/e2e-latency.json).

Intake: submits N events (default 20 000, IIZ_BENCH_EVENTS) to three institutions' intake
topics, runs the intake Kafka door in this process on a fresh consumer group, intake schema and
person-registry schema (``person_db_schema``: every run creates all its persons, so runs compare),
and measures the time until every canonical event is committed on iiz.case-events.v1.

Prints the Markdown rows for docs/benchmarks.md and, per figure, one JSON line (value, floor,
ratio; tests/bench_report.py). Measures; asserts nothing.
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
from tests.bench_floor import Floor, Floors, measure_floors
from tests.bench_metrics import bench_metrics
from tests.bench_notifications import bench_notifications
from tests.bench_report import figure_line
from tests.bench_timeline import print_timeline
from tests.factories import sample_event, valid_ahv
from tests.kafka_tools import prime_group_at_end, read_until


async def bench_intake(events: int) -> dict[str, float]:
    suffix = uuid.uuid4().hex[:8]
    settings = IntakeSettings(
        intake_db_schema=f"bench_{suffix}",
        person_db_schema=f"bench_persons_{suffix}",  # every run creates all its persons
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


FIGURES = ("floor", "intake", "coordination", "notifications", "timeline", "metrics")


class FloorsOfTheRun:
    """The floors measured in this run, by event count: each figure is compared with a floor of
    exactly its own number of events (measured once per count, printed when measured)."""

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self._by_count: dict[int, Floors] = {}

    def of(self, events: int) -> Floors | None:
        if not self.wanted:
            return None
        if events not in self._by_count:
            repeats = int(os.environ.get("IIZ_BENCH_FLOOR_REPEATS", "3"))
            floors = asyncio.run(measure_floors(events, repeats))
            self._by_count[events] = floors
            print_floors(floors)
        return self._by_count[events]

    def produce(self, events: int) -> Floor | None:
        floors = self.of(events)
        return None if floors is None else floors.produce

    def copy_commit(self, events: int) -> Floor | None:
        floors = self.of(events)
        return None if floors is None else floors.copy_commit


def print_floors(f: Floors) -> None:
    print(
        "| floor, same run, same broker and database | events | bytes per record | seconds"
        f" | events/s (median of {f.repeats}) | range (events/s) | group join (s) |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = (
        ("produce", "aiokafka produce, acks=all + idempotence, 6 partitions", f.produce),
        ("consume", "plain consume, fresh group, batches of 500", f.consume),
        (
            "consume + COPY + commit",
            "consume + COPY into PostgreSQL + commit per batch of 500",
            f.copy_commit,
        ),
    )
    for _, label, floor in rows:
        join = "" if floor.join_seconds is None else f"{floor.join_seconds:.1f}"
        spread = f"{floor.low or 0:.0f}\N{EN DASH}{floor.high or 0:.0f}"
        print(
            f"| {label} | {floor.events} | {f.record_bytes} | {floor.seconds:.2f}"
            f" | {floor.per_second:.0f} | {spread} | {join} |"
        )
    for name, _, floor in rows:
        print(figure_line(f"floor: {name}", floor.per_second, "events/s", events=floor.events))


def print_intake(floors: FloorsOfTheRun) -> None:
    events = int(os.environ.get("IIZ_BENCH_EVENTS", "20000"))
    result = asyncio.run(bench_intake(events))
    print("| benchmark | events | seconds | events/s | peak RSS (MiB, whole process) |")
    print("|---|---|---|---|---|")
    print(
        f"| intake Kafka door, batch 500, one transaction per batch | {result['events']:.0f}"
        f" | {result['seconds']:.1f} | {result['per_second']:.0f}"
        f" | {result['peak_rss_mib']:.0f} |"
    )
    print_figure("intake", result["per_second"], "events/s", floors.produce(events), events)
    print(figure_line("intake: peak RSS", result["peak_rss_mib"], "MiB"))


def print_coordination(floors: FloorsOfTheRun) -> None:
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
    print(
        f"| rebuild of the projections from that log, batches of 2,000 | {c['persons']:.0f}"
        f" | {c['rebuilt']:.0f} | {c['rebuild_seconds']:.1f} | {c['rebuild_per_second']:.0f}"
        " | | | | |"
    )
    events = int(c["events"])
    copy_commit = floors.copy_commit(events)
    print_figure("coordination", c["per_second"], "events/s", copy_commit, events)
    print_figure("rebuild", c["rebuild_per_second"], "events/s", copy_commit, events)
    print(figure_line("coordination: peak RSS", c["peak_rss_mib"], "MiB"))


def print_notifications(floors: FloorsOfTheRun) -> None:
    count = int(os.environ.get("IIZ_BENCH_DELIVERIES", "20000"))
    d = asyncio.run(bench_notifications(count))
    print("| benchmark | deliveries | seconds | deliveries/s | peak RSS (MiB, whole process) |")
    print("|---|---|---|---|---|")
    print(
        f"| notifications router lane, batch 500, partner topics + outcomes"
        f" | {d['deliveries']:.0f} | {d['seconds']:.1f} | {d['per_second']:.0f}"
        f" | {d['peak_rss_mib']:.0f} |"
    )
    print_figure("notifications", d["per_second"], "deliveries/s", floors.produce(count), count)
    print(figure_line("notifications: peak RSS", d["peak_rss_mib"], "MiB"))


def print_metrics() -> None:
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
        scope = f"metrics {per_year} cases/year"
        print(figure_line(f"{scope}: compute", m["compute_seconds"], "s"))
        print(figure_line(f"{scope}: publish", m["publish_seconds"], "s"))
        print(figure_line(f"{scope}: peak RSS", m["peak_rss_mib"], "MiB"))


def print_figure(figure: str, value: float, unit: str, floor: Floor | None, events: int) -> None:
    """The figure's JSON line, against the floor of the same run and the same event count."""
    print(
        figure_line(figure, value, unit, None if floor is None else floor.per_second, events=events)
    )


def main() -> None:
    if not os.environ.get("IIZ_KAFKA_BOOTSTRAP_SERVERS"):  # `make bench`: the local instance
        os.environ.update(local_environment())
    # The services run in this process: any free health port, as in the tests (another
    # instance on this machine may hold the services' own).
    os.environ.setdefault("IIZ_HEALTH_PORT", "0")
    wanted = os.environ.get("IIZ_BENCH", ",".join(FIGURES)).split(",")
    floors = FloorsOfTheRun("floor" in wanted)
    if "intake" in wanted:
        print_intake(floors)
    if "coordination" in wanted:
        print_coordination(floors)
    if "notifications" in wanted:
        print_notifications(floors)
    if "timeline" in wanted:
        print_timeline()
    if "floor" in wanted and not {"intake", "coordination", "notifications"} & set(wanted):
        floors.of(int(os.environ.get("IIZ_BENCH_EVENTS", "20000")))
    if "metrics" in wanted:
        print_metrics()


if __name__ == "__main__":
    main()
