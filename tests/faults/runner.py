"""One run: fresh schemas and consumer groups, the services started, traffic and one fault at
once, then wait until everything expected arrived and nothing changes any more (or a generous
deadline), count, reconcile, stop."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import (
    CASE_EVENTS,
    COORDINATION_REJECTED,
    DELIVERIES,
    DELIVERY_OUTCOMES,
    DIGEST_QUEUE,
    INTAKE_REJECTED,
    NOTIFICATIONS_DEAD_LETTERS,
)
from services.common.database import asyncpg_dsn, create_pool
from services.common.kafka_clients import create_admin, end_offsets
from services.common.settings import CommonSettings
from simulator.credentials import SERVICE_PRINCIPALS, partner_settings, principal_environment
from simulator.mailbox import LocalSmtpServer
from simulator.population import build_population
from tests.faults.counting import Counts, count
from tests.faults.infra_control import REPO, SuiteInfra
from tests.faults.poison import PoisonFactory
from tests.faults.processes import RunIdentity, Services
from tests.faults.report import RunResult
from tests.faults.scenarios import FaultContext, Scenario
from tests.faults.tail import Tail
from tests.faults.traffic import Traffic
from tests.kafka_tools import prime_group_at_end

STABLE_SECONDS = 8.0  # nothing changed for this long (longer than the scheduler's 5 s)
DIFFERENCES = re.compile(r"^differences\s+(\d+)", re.MULTILINE)


class EventLog:
    """The run's own log: what the suite did when (also printed)."""

    def __init__(self, path: Path, name: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._name = name
        self._began = time.monotonic()

    def __call__(self, text: str) -> None:
        line = f"[{self._name} {time.monotonic() - self._began:7.1f}s] {text}"
        print(line, flush=True)
        with self._path.open("a", encoding="utf-8") as sink:
            sink.write(line + "\n")


def watched_topics(registry: InstitutionRegistry) -> list[str]:
    fixed = [
        CASE_EVENTS,
        DELIVERIES,
        DIGEST_QUEUE,
        INTAKE_REJECTED,
        COORDINATION_REJECTED,
        NOTIFICATIONS_DEAD_LETTERS,
    ]
    return fixed + sorted(i.delivery_topic for i in registry.institutions)


async def prime_groups(
    settings: CommonSettings, identity: RunIdentity, registry: InstitutionRegistry
) -> list[tuple[str, list[str]]]:
    """Every group of the run starts at the current end: earlier runs' records stay behind."""
    notifications = identity.notifications_group
    groups = [
        (identity.intake_group, sorted(i.intake_topic for i in registry.institutions)),
        (identity.coordination_group, [CASE_EVENTS]),
        (f"{identity.coordination_group}-outcomes", [DELIVERY_OUTCOMES]),
        (f"{notifications}-router", [DELIVERIES]),
        (f"{notifications}-webhooks", [DELIVERIES]),
        (f"{notifications}-digest", [DIGEST_QUEUE]),
    ]
    for group, topics in groups:
        await prime_group_at_end(settings, group, topics)
    return groups


async def group_lag(settings: CommonSettings, groups: list[tuple[str, list[str]]]) -> int | None:
    """Records the run's groups have not committed yet, summed (0 when all caught up)."""
    admin = create_admin(settings)
    try:
        await admin.start()
        total = 0
        for group, topics in groups:
            ends = await end_offsets(settings, topics)
            committed = await admin.list_consumer_group_offsets(group)
            for tp, end in ends.items():
                at = committed.get(tp)
                total += max(0, end - (at.offset if at is not None else 0))
        return total
    except Exception:
        return None
    finally:
        await admin.close()


async def settle(
    traffic: Traffic,
    tail: Tail,
    pool: asyncpg.Pool,
    registry: InstitutionRegistry,
    note: EventLog,
    within: float,
) -> Counts:
    """Count until everything expected arrived and nothing changed for a while, or time is up."""
    began = time.monotonic()
    last: tuple[object, ...] | None = None
    changed = began
    reported = began
    counts = Counts()
    while True:
        await tail.caught_up(30)
        try:
            counts = await count(traffic, tail, pool, registry)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            note(f"counting failed ({type(error).__name__}); again")
            await asyncio.sleep(1)
            continue
        now = time.monotonic()
        if counts.signature() != last:
            last, changed = counts.signature(), now
        if counts.complete and now - changed >= STABLE_SECONDS:
            note(f"settled after {now - began:.1f} s")
            return counts
        if now - began > within:
            note(f"NOT settled within {within:.0f} s: lost {counts.lost}")
            note(f"examples: {counts.examples}")
            return counts
        if now - reported > 15:
            reported = now
            note(
                f"waiting: accepted {counts.accepted}/{counts.sent}, timeline {counts.timeline},"
                f" published {counts.published}/{counts.authorised}, delivered {counts.delivered},"
                f" poison {counts.poison_answered}/{counts.poison_sent},"
                f" no final outcome {counts.without_final_outcome}"
            )
        await asyncio.sleep(2)


def reconcile(env: dict[str, str], since: dt.datetime, intake_schema: str, out: Path) -> int | None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.coordination",
            "reconcile",
            "--since",
            since.isoformat(),
            "--intake-schema",
            intake_schema,
        ],
        cwd=REPO,
        env={**env, "IIZ_LOG_JSON": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    out.write_text(done.stdout + done.stderr, encoding="utf-8")
    found = DIFFERENCES.search(done.stdout)
    return int(found.group(1)) if found else None


async def drop_schemas(database_url: str, identity: RunIdentity) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        for schema in (identity.intake_schema, identity.coordination_schema):
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def run_one(
    scenario: Scenario,
    infra: SuiteInfra,
    registry: InstitutionRegistry,
    *,
    folder: Path,
    tag: str,
    seed: int,
    persons: int,
    traffic_seconds: float,
    settle_within: float,
    keep_schemas: bool,
) -> RunResult:
    note = EventLog(folder / "events.log", scenario.name)
    began = time.monotonic()
    identity = RunIdentity(tag)
    settings = infra.settings()  # the suite's own tools: admin
    note(f"{scenario.fault}; seed {seed}, {persons} persons; logs in {folder}")
    groups = await prime_groups(settings, identity, registry)
    start = await end_offsets(settings, watched_topics(registry))
    since = dt.datetime.now(dt.UTC)
    population = build_population(persons, seed)
    with LocalSmtpServer() as smtp:
        env = identity.environment(infra.bootstrap_servers, infra.database_url, smtp.port)
        env.update(infra.connection())  # SASL_SSL as admin, the CA, the migration owner's URL
        principals = {p: principal_environment(settings, p) for p in SERVICE_PRINCIPALS.values()}
        services = Services(env, folder, workers=scenario.workers, note=note, principals=principals)
        await asyncio.to_thread(services.migrate)
        tail = Tail(settings, start)
        pool: asyncpg.Pool | None = None
        watch: asyncio.Task[None] | None = None
        try:
            await services.start()
            await tail.start()
            pool = await create_pool(infra.database_url, identity.coordination_schema)
            poison = PoisonFactory(registry, seed, tag)
            traffic = Traffic(
                settings,
                registry,
                population,
                poison,
                tail,
                note,
                seconds=traffic_seconds,
                as_partner=partner_settings(settings),  # each institution as itself
            )
            context = FaultContext(
                infra,
                identity,
                services,
                traffic,
                random.Random(seed),
                note,
                folder / "infra.log",
            )
            watch = asyncio.create_task(services.watch())
            fault = asyncio.create_task(scenario.inject(context))
            note(f"traffic: {len(population.steps)} submissions of {persons} persons")
            await traffic.run()
            note(
                f"traffic sent in {traffic.finished - traffic.started:.1f} s"
                f" ({traffic.valid_sent} valid, {len(traffic.poison)} poison,"
                f" {traffic.resends} sends repeated after an error)"
            )
            await fault
            settle_began = time.monotonic()
            counts = await settle(traffic, tail, pool, registry, note, settle_within)
            settle_seconds = time.monotonic() - settle_began
            lag = await group_lag(settings, groups)
        finally:
            if watch is not None:
                watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch
            await asyncio.to_thread(services.stop)
            await tail.stop()
            if pool is not None:
                await pool.close()
    differences = await asyncio.to_thread(
        reconcile, env, since, identity.intake_schema, folder / "reconcile.txt"
    )
    reconcile_text = (folder / "reconcile.txt").read_text(encoding="utf-8")
    summary = " / ".join(
        line.strip()
        for line in reconcile_text.splitlines()
        if line.strip() and not line.startswith(("{", "coordination reconcile", "accepted:"))
    )
    result = RunResult(
        infra=infra.label,
        name=scenario.name,
        fault=scenario.fault,
        seed=seed,
        folder=folder,
        counts=counts,
        reconcile_differences=differences,
        reconcile_summary=summary,
        duration=time.monotonic() - began,
        traffic_seconds=traffic.finished - traffic.started,
        settle_seconds=settle_seconds,
        lag=lag,
        unexpected_exits=services.unexpected_exits(),
        kills={n: p.kills for n, p in services.processes.items() if p.kills},
    )
    result.judge()
    if result.passed and not keep_schemas:
        await drop_schemas(infra.migration_database_url, identity)  # the owner's
    note(
        f"{'PASS' if result.passed else 'FAIL'} in {result.duration:.0f} s"
        + (f": {'; '.join(result.problems)}" if result.problems else "")
    )
    return result
