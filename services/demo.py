"""README command 1: the bus as far as it is built, driven by synthetic partners.

Starts intake's Kafka and HTTP doors as their own processes, lets the RAV submit over Kafka and
the social services of Liestal over HTTP (one with a mistyped AHV number), waits for every receipt
and prints a summary. Coordination folds what intake accepted into the case timeline and
decides the deliveries; notifications joins with issue 6.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codec import to_kafka
from schemas.registry import load_institutions
from schemas.topics import planned_topics
from services import demo_coordination
from services.common.database import asyncpg_dsn, create_pool
from services.common.kafka_clients import create_reader, end_offsets
from services.common.migrations import upgrade
from services.coordination.settings import CoordinationSettings
from services.demo_simulation import SyntheticPartners
from services.intake.settings import IntakeSettings
from services.intake.tokens import TokenStore

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / ".infra" / "logs"
REGISTRY = load_institutions()
RAV, LIESTAL = REGISTRY.by_id["rav"], REGISTRY.by_id["sozialhilfe-2829"]


async def check_infrastructure(settings: IntakeSettings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        cluster, existing = await admin.describe_cluster(), set(await admin.list_topics())
    finally:
        await admin.close()
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        pg_version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    missing = [t.name for t in planned_topics() if t.name not in existing]
    print(f"Kafka      {settings.kafka_bootstrap_servers}  cluster {cluster['cluster_id']}")
    print(f"PostgreSQL {pg_version}   institutions in the registry: {len(REGISTRY.institutions)}")
    if missing:
        raise SystemExit(f"missing topics: {', '.join(missing[:5])}; run `infra/local up`")


def start_service(args: list[str], settings: IntakeSettings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IIZ_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "IIZ_DATABASE_URL": settings.database_url,
        "IIZ_LOG_JSON": "true",
    }
    with log.open("ab") as sink:
        return subprocess.Popen(  # noqa: S603 - our own modules, run with our own interpreter
            [sys.executable, "-m", *args], cwd=REPO, env=env, stdout=sink, stderr=sink
        )


def stop_service(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_until_ready(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit(f"{url} did not become ready; see {LOGS}")


async def collect_receipts(
    settings: IntakeSettings, start: dict[TopicPartition, int], ours: set[str]
) -> list[dict[str, Any]]:
    """Receipts for our submissions (the topics may also answer older ones intake caught up on)."""
    expected = len(ours)
    consumer = create_reader(settings)
    await consumer.start()
    receipts: dict[str, dict[str, Any]] = {}
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline, shown = time.monotonic() + 120, -1
        while len(receipts) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for answer in (json.loads(r.value) for r in records if r.value):
                    if answer.get("original_id") in ours:
                        receipts[answer["original_id"]] = answer
            if len(receipts) != shown:
                shown, done = len(receipts), int(30 * len(receipts) / expected)
                print(f"\r  receipts [{'#' * done}{'.' * (30 - done)}] {shown}/{expected}", end="")
    finally:
        await consumer.stop()
    print()
    if len(receipts) < expected:
        raise SystemExit(f"only {len(receipts)} of {expected} receipts arrived; see {LOGS}")
    return list(receipts.values())


async def submit_over_kafka(
    settings: IntakeSettings, partners: SyntheticPartners, n: int
) -> set[str]:
    events = partners.rav_job_seekers(RAV, n)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for event in events:
            record = to_kafka(event)
            await producer.send(
                RAV.intake_topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()
    return {str(e.id) for e in events}


async def submit_over_http(base: str, token: str, bodies: list[dict[str, Any]]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for body in bodies:
            answer = await client.post(
                "/v1/events", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            statuses[answer.status_code] += 1
    return statuses


async def run_demo(settings: IntakeSettings, persons: int) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    migrations = REPO / "services" / "intake" / "migrations"
    await upgrade(migrations, settings.database_url, settings.intake_db_schema)
    pool = await create_pool(settings.database_url, settings.intake_db_schema)
    token = await TokenStore(pool, REGISTRY).create(LIESTAL.id, "demo: Fallführung Liestal")
    await pool.close()
    start = await end_offsets(settings, [RAV.delivery_topic, LIESTAL.delivery_topic])
    kafka_door = start_service(
        ["faststream", "run", "--factory", "services.intake.kafka_door:create_app"],
        settings,
        LOGS / "intake-kafka.log",
    )
    http_door = start_service(["services.intake.http_door"], settings, LOGS / "intake-http.log")
    coordination = CoordinationSettings()
    await demo_coordination.prepare(coordination)
    worker = start_service(["services.coordination", "worker"], settings, LOGS / "coordination.log")
    base = f"http://127.0.0.1:{settings.intake_http_port}"
    seed = int(os.environ.get("IIZ_DEMO_SEED", str(time.time_ns() % 1_000_000)))
    print(f"Synthetic partners with seed {seed} (IIZ_DEMO_SEED={seed} repeats this run)")
    partners = SyntheticPartners(seed=seed)
    try:
        await wait_until_ready(f"{base}/readyz")
        sent = await submit_over_kafka(settings, partners, persons)
        bodies = partners.municipal_referrals(LIESTAL, max(3, persons // 4))
        print(f"Simulation: {len(sent)} RAV events over Kafka, {len(bodies)} referrals over HTTP")
        statuses = await submit_over_http(base, token, bodies)
        ours = sent | {str(b["id"]) for b in bodies}
        receipts = await collect_receipts(settings, start, ours)
        accepted = [str(r["canonical_id"]) for r in receipts if r["status"] == "accepted"]
        timeline = await demo_coordination.wait_for_timeline(coordination, accepted)
        summarise(receipts, statuses, base)
        await demo_coordination.report(timeline, coordination, accepted)
    finally:
        for process in (kafka_door, http_door, worker):
            stop_service(process)
    print(f"\n  logs: {LOGS}   stop the infrastructure: make infra-down")


def summarise(receipts: list[dict[str, Any]], statuses: Counter[int], base: str) -> None:
    by_status = Counter(r["status"] for r in receipts)
    reasons = Counter(r["reason"] for r in receipts if r.get("reason"))
    print("\nSummary")
    print(f"  receipts by status: {dict(by_status)}; rejection reasons: {dict(reasons) or '-'}")
    print(f"  HTTP status codes: {dict(sorted(statuses.items()))}")
    print("  AHV numbers were replaced by pseudonyms before anything reached iiz.case-events.v1.")
    print("\nWhere to look")
    print(f"  HTTP intake: python -m services.intake.http_door, then {base}/docs")
    print(f"  web form for social services: {base}/formular, with a token from")
    print("    python -m services.intake.tokens create --institution sozialhilfe-2829 --label me")
    print("  topics: iiz.case-events.v1 (canonical), iiz.deliver.<institution>.v1 (receipts),")
    print("          iiz.deliveries.v1 (authorised deliveries and alerts)")


def main() -> None:
    # Ctrl-C or a SIGTERM still runs the `finally` that stops the services started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = IntakeSettings()
    asyncio.run(check_infrastructure(settings))
    asyncio.run(run_demo(settings, int(os.environ.get("IIZ_DEMO_PERSONS", "40"))))


if __name__ == "__main__":
    main()
