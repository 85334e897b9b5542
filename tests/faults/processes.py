"""The services of one run, each as its own OS process, as in production.

Every process gets the run's own schemas and intake instance id, connects as its service's own
Kafka principal (in the service's own consumer groups, which that principal may join), logs JSON
lines to its own file in the run folder, and serves ``/livez`` and ``/readyz`` on a free port
(``IIZ_HEALTH_PORT=0``; the port is read from its log). A process that ends by itself (not
killed by the suite) is counted and started again, as an orchestrator would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.common.settings import CommonSettings
from services.coordination.settings import CoordinationSettings
from services.intake.settings import IntakeSettings
from services.notifications.settings import NotificationsSettings
from simulator.credentials import SERVICE_PRINCIPALS
from tests.faults.infra_control import REPO

HEALTH_URL = re.compile(rb"http://127\.0\.0\.1:(\d+)/readyz")
Note = Callable[[str], None]


def _default(settings: type[CommonSettings], name: str) -> str:
    return str(settings.model_fields[name].default)


@dataclass(frozen=True)
class RunIdentity:
    """What makes a run's processes its own: schemas and instance id (the groups are the
    services' own, primed at the end for every run)."""

    tag: str  # lower case letters, digits and underscores

    @property
    def intake_schema(self) -> str:
        return f"faults_{self.tag}_intake"

    @property
    def coordination_schema(self) -> str:
        return f"faults_{self.tag}_coordination"

    # The services' own consumer groups (their settings' defaults): the only ones their
    # principals may join. Runs follow each other, and each primes them at the topics' end.
    @property
    def intake_group(self) -> str:
        return _default(IntakeSettings, "intake_group_id")

    @property
    def coordination_group(self) -> str:
        return _default(CoordinationSettings, "coordination_group_id")

    @property
    def notifications_group(self) -> str:
        return _default(NotificationsSettings, "notifications_group_id")

    def environment(self, bootstrap: str, database_url: str, smtp_port: int) -> dict[str, str]:
        return {
            **os.environ,
            "IIZ_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "IIZ_DATABASE_URL": database_url,
            "IIZ_INTAKE_DB_SCHEMA": self.intake_schema,
            "IIZ_COORDINATION_DB_SCHEMA": self.coordination_schema,
            "IIZ_INTAKE_GROUP_ID": self.intake_group,
            "IIZ_COORDINATION_GROUP_ID": self.coordination_group,
            "IIZ_NOTIFICATIONS_GROUP_ID": self.notifications_group,
            "IIZ_INTAKE_INSTANCE_ID": f"faults-{self.tag}".replace("_", "-"),
            "IIZ_HEALTH_PORT": "0",
            "IIZ_LOG_JSON": "true",
            # Reminders fall due within a run; digests close every minute (not every hour).
            "IIZ_COORDINATION_SCHEDULER_INTERVAL_SECONDS": "5",
            "IIZ_NOTIFICATIONS_SMTP_PORT": str(smtp_port),
            "IIZ_NOTIFICATIONS_DIGEST_MINUTES": "1",
            "IIZ_NOTIFICATIONS_DIGEST_GRACE_SECONDS": "2",
            "IIZ_NOTIFICATIONS_DIGEST_CHECK_SECONDS": "1",
            # The weekly misuse-signals summary mails data-protection officers, not the fault
            # suite's mailbox; the suite counts coordinators' digests only.
            "IIZ_COORDINATION_RUN_SIGNALS_SUMMARY": "false",
        }


@dataclass
class ServiceProcess:
    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    log_offset: int = 0  # where this incarnation's lines start
    starts: int = 0
    kills: int = 0
    held: bool = True  # down on purpose (not started yet, killed, stopped): not restarted
    unexpected_exits: list[int] = field(default_factory=list)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            sink.write(f"--- faults: start #{self.starts + 1} of {self.name}\n".encode())
            sink.flush()
            self.log_offset = sink.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", *self.args],
                cwd=REPO,
                env=self.env,
                stdout=sink,
                stderr=sink,
            )
        self.starts += 1
        self.held = False

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        assert self.process is not None
        self.held = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def terminate(self) -> None:
        """SIGTERM: a graceful stop (``wait_stopped`` waits for it)."""
        self.held = True
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait_stopped(self, grace: float = 30.0) -> None:
        """Until the process ended; SIGKILL after ``grace`` seconds."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def health_port(self) -> int | None:
        with contextlib.suppress(FileNotFoundError), self.log.open("rb") as source:
            source.seek(self.log_offset)
            found = HEALTH_URL.findall(source.read())
            return int(found[-1]) if found else None
        return None

    async def wait_ready(self, within: float = 120.0) -> float:
        """Until ``/readyz`` answers 200; returns the seconds it took."""
        began = time.monotonic()
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() - began < within:
                if not self.alive():
                    raise RuntimeError(f"{self.name} ended while starting; see {self.log}")
                port = self.health_port()
                if port is not None:
                    with contextlib.suppress(httpx.HTTPError):
                        answer = await client.get(f"http://127.0.0.1:{port}/readyz")
                        if answer.status_code == 200:
                            return time.monotonic() - began
                await asyncio.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready within {within:.0f} s; see {self.log}")


MIGRATION_URL_VARIABLE = "IIZ_MIGRATION_DATABASE_URL"


class Services:
    """Intake's Kafka door, one or two coordination workers, notifications; each connects as
    its service's principal (``principals``: principal → its IIZ_KAFKA_USERNAME/PASSWORD; none
    on a PLAINTEXT broker)."""

    def __init__(
        self,
        env: dict[str, str],
        folder: Path,
        *,
        workers: int,
        note: Note,
        principals: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.folder = folder
        self.env = env
        self.note = note
        self.processes: dict[str, ServiceProcess] = {}
        commands: dict[str, tuple[str, ...]] = {"intake": ("services.intake", "kafka")}
        for n in range(1, workers + 1):
            commands[f"coordination-{n}"] = ("services.coordination", "worker")
        commands["notifications"] = ("services.notifications",)
        for name, args in commands.items():
            own = (principals or {}).get(SERVICE_PRINCIPALS[args[0].removeprefix("services.")])
            # A service runs as the service role only: the owner's URL is for `migrate`.
            process_env = {
                k: v for k, v in {**env, **(own or {})}.items() if k != MIGRATION_URL_VARIABLE
            }
            self.processes[name] = ServiceProcess(name, args, process_env, folder / f"{name}.log")

    def migrate(self) -> None:
        for args in (("services.intake", "migrate"), ("services.coordination", "migrate")):
            log = self.folder / "migrate.log"
            with log.open("ab") as sink:
                done = subprocess.run(
                    [sys.executable, "-m", *args],
                    cwd=REPO,
                    env=self.env,
                    stdout=sink,
                    stderr=sink,
                    check=False,
                )
            if done.returncode != 0:
                raise RuntimeError(f"python -m {' '.join(args)} failed; see {log}")

    async def start(self) -> None:
        for process in self.processes.values():
            process.start()
        for process in self.processes.values():
            took = await process.wait_ready()
            self.note(f"{process.name} ready (pid {process.pid}, {took:.1f} s)")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        pid = process.pid
        process.kill()
        self.note(f"SIGKILL {name} (pid {pid})")

    async def restart(self, name: str) -> None:
        process = self.processes[name]
        process.start()
        took = await process.wait_ready()
        self.note(f"{name} restarted and ready (pid {process.pid}, {took:.1f} s)")

    async def watch(self) -> None:
        """Start again what ended by itself (counted as an unexpected exit)."""
        while True:
            for process in self.processes.values():
                if process.held or process.process is None:
                    continue
                if process.process.poll() is not None:
                    code = process.process.returncode
                    process.unexpected_exits.append(code)
                    self.note(f"{process.name} (pid {process.pid}) ended by itself, exit {code}")
                    process.start()
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait_stopped()

    def unexpected_exits(self) -> dict[str, list[int]]:
        return {n: p.unexpected_exits for n, p in self.processes.items() if p.unexpected_exits}
