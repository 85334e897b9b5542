"""The timeline API under concurrent readers: one case of 1,000 events, 100 clients at once.

The case's events are sealed as intake writes them and folded by the coordination worker (as
deployed) into a schema of the run's own. The API then runs as its own process
(``python -m services.coordination api``, uvicorn, the test identity provider's key set), and
this process reads the first page of the case's timeline (``limit`` 50, the API's default) as a
coordinator of the RAV: first one client alone (the floor of one request at a time), then 100
clients at once, each reading ``IIZ_BENCH_TIMELINE_READS`` times without a pause (the worst
case: latency is then the queue of 100 requests), then the 100 clients each reading once a
second (100 coordinators at work: 100 reads/s offered, latency from when a read was due).
Every read is checked (HTTP 200 with entries) and audited by the API, as in production.
Latency ends when the whole answer is read. The API, PostgreSQL and the clients share the
machine's two cores.
``IIZ_BENCH_TIMELINE_WORKERS`` sets the API's processes (``IIZ_COORDINATION_API_WORKERS``, 1).
``IIZ_BENCH_TIMELINE_PROFILE=<file>`` runs the API under py-spy (collapsed stacks). Measures;
asserts nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import NewTopic
from faststream import TestApp

from schemas.events import (
    AppointmentScheduled,
    CaseOpened,
    ConsentGranted,
    MeasureEnded,
    MeasureStarted,
)
from schemas.vocabulary import AppointmentKind, DataCategory, MeasureKind, MeasureResult
from services.common.database import asyncpg_dsn, create_pool
from services.common.kafka_clients import create_admin
from services.coordination.ops.migrate import migrate
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from tests.bench_coordination import (
    registry_intake_schema,
    sealed_records,
    send_all,
    until_true,
)
from tests.bench_report import figure_line
from tests.case_story import CaseStory
from tests.infra import replication_factor
from tests.kafka_tools import prime_group_at_end
from tests.tokens import jwks_url, mint_token

REPO = Path(__file__).resolve().parents[1]
STORY_START = dt.datetime(2023, 1, 2, 8, 0, tzinfo=dt.UTC)  # a day per event: over by 2025


def long_story(events: int) -> CaseStory:
    """RAV's case with the IV-Stelle consented in, then measures and appointments, in turns."""
    s = CaseStory(person_seed=900_001, start=STORY_START)
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    s.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
        valid_from=dt.date(2023, 1, 1),
        document_ref="BENCH-TIMELINE",
    )
    while len(s.events) < events:
        measure = s.rav(MeasureStarted, kind=MeasureKind.COACHING)
        s.rav(
            AppointmentScheduled,
            kind=next(iter(AppointmentKind)),
            scheduled_for=s.clock + dt.timedelta(days=3),
            institutions=["rav", "iv"],
        )
        s.rav(
            MeasureEnded,
            measure_id=measure.data.measure_id,
            kind=MeasureKind.COACHING,
            result=MeasureResult.COMPLETED,
        )
    del s.events[events:]
    return s


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def fold_case(settings: CoordinationSettings, events: int) -> str:
    """The story on a log of its own, through the worker; the case's number."""
    admin = create_admin(settings)
    await admin.start()
    replicas = await replication_factor(admin)
    topic = settings.coordination_case_events_topic
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=replicas)])
    await admin.close()
    await migrate(settings)
    await prime_group_at_end(
        settings, f"{settings.coordination_group_id}-outcomes", ["iiz.delivery-outcomes.v1"]
    )
    records = await sealed_records(settings, [long_story(events)])
    await send_all(settings, topic, records)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        async with TestApp(create_app(settings)):
            query = "SELECT count(*) >= $1 FROM processed_events"
            await until_true(pool, query, len(records))
        number: str = await pool.fetchval("SELECT case_number FROM cases")
        return number
    finally:
        await pool.close()


async def until_serving(http: httpx.AsyncClient, api: asyncio.subprocess.Process) -> None:
    while True:
        if api.returncode is not None:
            raise SystemExit(f"the API process ended (exit {api.returncode})")
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)


async def timed_reads(
    http: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    reads: int,
    *,
    every: float | None = None,
    offset: float = 0.0,
) -> list[float | None]:
    """``reads`` reads one after the other (``every`` None), or one every ``every`` seconds
    from ``offset`` on: then timed from when it was due, so a late start counts (no
    coordinated omission). A read whose connection broke is ``None``."""
    took: list[float | None] = []
    start = time.perf_counter() + offset
    for n in range(reads):
        began = time.perf_counter()
        if every is not None:
            due = start + n * every
            await asyncio.sleep(max(0.0, due - began))
            began = due
        try:
            answer = await http.get(path, headers=headers)
        except httpx.TransportError:  # the connection broke: counted as a failed read
            took.append(None)
            continue
        took.append(time.perf_counter() - began)
        if answer.status_code != 200 or not answer.json()["entries"]:
            raise SystemExit(f"timeline read failed: {answer.status_code} {answer.text[:200]}")
    return took


def percentiles(seconds: list[float | None]) -> dict[str, float]:
    ranked = sorted(s for s in seconds if s is not None)

    def at(share: float) -> float:
        return ranked[min(len(ranked) - 1, max(0, round(share * len(ranked)) - 1))] * 1000

    failed = sum(s is None for s in seconds)
    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": ranked[-1] * 1000, "failed": failed}


async def read_concurrently(
    base_url: str,
    path: str,
    headers: dict[str, str],
    clients: int,
    reads: int,
    every: float | None = None,
) -> tuple[list[float | None], float]:
    """Every client reads at once (``every`` None: without a pause, the worst case), or each
    once every ``every`` seconds, the clients spread evenly over that interval."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        await timed_reads(http, path, headers, 1)  # connections and caches warm
        began = time.perf_counter()
        per_client = await asyncio.gather(
            *(
                timed_reads(
                    http, path, headers, reads, every=every, offset=(every or 0) * c / clients
                )
                for c in range(clients)
            )
        )
        wall = time.perf_counter() - began
    return [t for took in per_client for t in took], wall


async def bench_timeline(events: int, clients: int, reads: int, workers: int) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    settings = CoordinationSettings(
        log_level="WARNING",
        environment="test",
        coordination_jwks_url=jwks_url(),
        coordination_db_schema=f"bench_api_{suffix}",
        coordination_group_id=f"bench-api-{suffix}",
        coordination_case_events_topic=f"bench.case-events.api-{suffix}",
        person_db_schema=f"bench_api_persons_{suffix}",
        coordination_api_port=free_port(),
        coordination_run_signals_summary=False,
        coordination_run_retention=False,
    )
    case_number = await fold_case(settings, events)
    env = {
        **os.environ,
        "IIZ_ENVIRONMENT": "test",
        "IIZ_LOG_LEVEL": "WARNING",
        "IIZ_COORDINATION_JWKS_URL": settings.coordination_jwks_url or "",
        "IIZ_COORDINATION_DB_SCHEMA": settings.coordination_db_schema,
        "IIZ_COORDINATION_CASE_EVENTS_TOPIC": settings.coordination_case_events_topic,
        "IIZ_PERSON_DB_SCHEMA": settings.person_db_schema,
        "IIZ_COORDINATION_API_PORT": str(settings.coordination_api_port),
        "IIZ_COORDINATION_API_WORKERS": str(workers),
    }
    env.pop("IIZ_MIGRATION_DATABASE_URL", None)
    command = [sys.executable, "-m", "services.coordination", "api"]
    profile = os.environ.get("IIZ_BENCH_TIMELINE_PROFILE")  # py-spy's collapsed stacks to here
    if profile:
        spy = str(Path(sys.executable).with_name("py-spy"))
        command = [
            spy,
            "record",
            "--idle",
            "--rate",
            "250",
            "--format",
            "raw",
            "-o",
            profile,
            "--",
            *command,
        ]
    api_log = Path(os.environ.get("IIZ_BENCH_TIMELINE_LOG", os.devnull)).open("ab")  # noqa: SIM115, ASYNC230 - closed below
    api = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=api_log,
    )
    base_url = f"http://127.0.0.1:{settings.coordination_api_port}"
    token = mint_token(settings, "eva", "rav", "coordinator", dt.timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/v1/cases/{case_number}/timeline"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            await until_serving(http, api)
            await timed_reads(http, path, headers, 5)  # warm
            alone = await timed_reads(http, path, headers, 200)
        together, wall = await read_concurrently(base_url, path, headers, clients, reads)
        paced, _ = await read_concurrently(base_url, path, headers, clients, reads, every=1.0)
    finally:
        api.send_signal(signal.SIGINT)  # uvicorn stops on it, and py-spy writes its samples
        await asyncio.wait_for(api.wait(), 60)
        api_log.close()
    await drop_schemas(settings)
    return {
        "events": events,
        "clients": clients,
        "workers": workers,
        "reads": len(together),
        "alone": percentiles(alone),
        "together": percentiles(together),
        "per_second": len(together) / wall,
        "paced": percentiles(paced),
    }


async def drop_schemas(settings: CoordinationSettings) -> None:
    owner = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        for schema in (
            settings.coordination_db_schema,
            settings.person_db_schema,
            registry_intake_schema(settings),
        ):
            await owner.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await owner.close()


def print_timeline() -> None:
    """The Markdown row and the JSON lines of the timeline API figure."""
    events = int(os.environ.get("IIZ_BENCH_TIMELINE_EVENTS", "1000"))
    clients = int(os.environ.get("IIZ_BENCH_TIMELINE_CLIENTS", "100"))
    reads = int(os.environ.get("IIZ_BENCH_TIMELINE_READS", "20"))
    workers = int(os.environ.get("IIZ_BENCH_TIMELINE_WORKERS", "1"))
    t = asyncio.run(bench_timeline(events, clients, reads, workers))
    a, c, u = t["alone"], t["together"], t["paced"]
    print(
        "| benchmark | case events | API processes | clients | reads each"
        " | one client p50 / p99 (ms)"
        " | all at once: p50 / p99 / max (ms) | all at once: reads/s"
        " | each once a second: p50 / p99 / max (ms) | reads whose connection broke |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| timeline API, first page (50 entries), audited | {t['events']} | {workers}"
        f" | {t['clients']}"
        f" | {reads} | {a['p50_ms']:.1f} / {a['p99_ms']:.1f}"
        f" | {c['p50_ms']:.1f} / {c['p99_ms']:.1f} / {c['max_ms']:.0f} | {t['per_second']:.0f}"
        f" | {u['p50_ms']:.1f} / {u['p99_ms']:.1f} / {u['max_ms']:.0f}"
        f" | {a['failed'] + c['failed'] + u['failed']:.0f} |"
    )
    print(figure_line("timeline API: one client p99", a["p99_ms"], "ms", events=events))
    print(figure_line(f"timeline API: {clients} clients p50", c["p50_ms"], "ms", events=events))
    print(figure_line(f"timeline API: {clients} clients p99", c["p99_ms"], "ms", events=events))
    print(figure_line(f"timeline API: {clients} clients", t["per_second"], "reads/s"))
    print(figure_line("timeline API: processes", workers, "processes"))
    paced = f"timeline API: {clients} clients, each once a second"
    print(figure_line(f"{paced}, p50", u["p50_ms"], "ms", events=events))
    print(figure_line(f"{paced}, p99", u["p99_ms"], "ms", events=events))
    broken = a["failed"] + c["failed"] + u["failed"]
    print(figure_line("timeline API: reads whose connection broke", broken, "reads"))
