"""The demo's service processes: each service as its own process, as in production."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from schemas.registry import load_institutions
from schemas.topics import planned_topics
from services.common.database import asyncpg_dsn
from services.common.kafka_clients import create_admin
from services.coordination.legal_basis import BL_PROFILE
from services.coordination.settings import CoordinationSettings
from services.intake.settings import IntakeSettings
from simulator.channels import WEBHOOK_SECRET_ENV, registry_with_webhook
from simulator.credentials import SERVICE_PRINCIPALS, principal_environment

REPO = Path(__file__).resolve().parents[2]
SCHEDULER_SECONDS = 5  # reminders and escalations fall due during a demo, not once a minute
# The demo runs on the opt-in BL legal-basis profile (worker and API): RAV <-> IV exchanges need
# no consent there, and each gives the disclosing institution a notice to send (/mitteilungen).
LEGAL_BASIS = {"IIZ_COORDINATION_LEGAL_BASIS_FILE": str(BL_PROFILE)}

__all__ = ["Services", "check_infrastructure", "migrate_schemas", "registry_with_webhook"]
MIGRATE_COMMANDS = (["services.intake", "migrate"], ["services.coordination", "migrate"])


async def check_infrastructure(settings: IntakeSettings) -> None:
    admin = create_admin(settings)  # as the operator (admin on a secured broker)
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
    if settings.kafka_security_protocol != "PLAINTEXT":
        print(
            f"           {settings.kafka_security_protocol} {settings.kafka_sasl_mechanism}:"
            " each service and each simulated institution as its own principal"
        )
    institutions = len(load_institutions().institutions)
    print(f"PostgreSQL {pg_version}   institutions in the registry: {institutions}")
    if missing:
        raise SystemExit(f"missing topics: {', '.join(missing[:5])}; run `infra/local up`")


def service_environment(settings: IntakeSettings, **extra: str) -> dict[str, str]:
    """The environment of the demo's service processes: one broker, one database, the services'
    role (the owner's URL only where ``extra`` gives it: the migrations)."""
    return {
        **{k: v for k, v in os.environ.items() if k != "IIZ_MIGRATION_DATABASE_URL"},
        "IIZ_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "IIZ_DATABASE_URL": settings.database_url,
        **extra,
    }


async def migrate_schemas(settings: IntakeSettings) -> None:
    """``python -m services.intake migrate`` and ``python -m services.coordination migrate``,
    as an operator runs them before starting the services (which never migrate themselves):
    as the schema owner (IIZ_MIGRATION_DATABASE_URL), which grants the services' role."""
    owner = {"IIZ_MIGRATION_DATABASE_URL": settings.owner_database_url}
    for args in MIGRATE_COMMANDS:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", *args, cwd=REPO, env=service_environment(settings, **owner)
        )
        if await process.wait() != 0:
            raise SystemExit(f"`python -m {' '.join(args)}` failed (exit {process.returncode})")


def stop_previous_demo(folder: Path) -> None:
    """A timeline API a previous demo left running holds the port: stop it first."""
    for pid_file in folder.glob("demo-*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        pid_file.unlink(missing_ok=True)


async def wait_until_ready(
    urls: list[str], processes: dict[str, subprocess.Popen[bytes]], logs: Path, within: float
) -> None:
    """Until every URL answers 200 (a service's /readyz); exits if one of ``processes`` died
    or ``within`` seconds passed."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        for url in urls:
            while True:
                fail_if_one_died(processes, logs)
                try:
                    if (await client.get(url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url} did not become ready; see {logs}")
                await asyncio.sleep(0.3)


def fail_if_one_died(processes: dict[str, subprocess.Popen[bytes]], logs: Path) -> None:
    for name, process in processes.items():
        if process.poll() is not None:
            raise SystemExit(f"{name} stopped (exit {process.returncode}); see {logs}")


@dataclass
class Services:
    intake: IntakeSettings
    coordination: CoordinationSettings
    logs: Path
    today: dt.date | None = None  # the last simulated day: the API judges overdue on it
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, *, registry_file: Path, webhook_secret: str, smtp_port: int) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        stop_previous_demo(self.logs.parent)
        notifications_env = {
            "IIZ_NOTIFICATIONS_REGISTRY_FILE": str(registry_file),
            WEBHOOK_SECRET_ENV: webhook_secret,
            "IIZ_NOTIFICATIONS_SMTP_PORT": str(smtp_port),
            "IIZ_NOTIFICATIONS_DIGEST_MINUTES": "1",  # a demo should not wait for the hour
            "IIZ_NOTIFICATIONS_DIGEST_GRACE_SECONDS": "2",
            "IIZ_NOTIFICATIONS_DIGEST_CHECK_SECONDS": "1",
        }
        commands = {
            "intake-kafka": ["services.intake", "kafka"],
            "intake-http": ["services.intake", "http"],
            "coordination": ["services.coordination", "worker"],
            "coordination-api": ["services.coordination", "api"],
            "notifications": ["services.notifications"],
        }
        coordination_env = {
            "IIZ_COORDINATION_SCHEDULER_INTERVAL_SECONDS": str(SCHEDULER_SECONDS),
            **LEGAL_BASIS,
            # The weekly misuse-signals summary covers real weeks; the demo's are simulated.
            "IIZ_COORDINATION_RUN_SIGNALS_SUMMARY": "false",
        }
        for name, args in commands.items():
            api_env = {"IIZ_COORDINATION_TODAY": self.today.isoformat()} if self.today else {}
            api_env.update(LEGAL_BASIS)
            extra = {
                "notifications": notifications_env,
                "coordination": coordination_env,
                "coordination-api": api_env,
            }.get(name, {})
            principal = SERVICE_PRINCIPALS[name.split("-")[0]]  # e.g. service-intake
            extra = {**extra, **principal_environment(self.intake, principal)}
            self.processes[name] = self._spawn(args, self.logs / f"{name}.log", extra)

    def _spawn(self, args: list[str], log: Path, extra: dict[str, str]) -> subprocess.Popen[bytes]:
        env = service_environment(self.intake, IIZ_LOG_JSON="true", **extra)
        with log.open("ab") as sink:
            return subprocess.Popen(  # noqa: S603 - our own modules, run with our own interpreter
                [sys.executable, "-m", *args], cwd=REPO, env=env, stdout=sink, stderr=sink
            )

    async def wait_until_ready(self, within: float = 90) -> None:
        urls = [
            f"http://127.0.0.1:{self.intake.intake_http_port}/readyz",
            f"http://127.0.0.1:{self.coordination.coordination_api_port}/readyz",
        ]
        await wait_until_ready(urls, self.processes, self.logs, within)

    def stop(self, *, keep: tuple[str, ...] = ()) -> None:
        """Stop every process but those in ``keep`` (their ids go to a file for infra-down)."""
        kept = {name: p for name, p in self.processes.items() if name in keep}
        for name, process in kept.items():
            (self.logs.parent / f"demo-{name}.pid").write_text(f"{process.pid}\n")
        stopping = [p for name, p in self.processes.items() if name not in keep]
        for process in stopping:
            process.terminate()
        for process in stopping:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
