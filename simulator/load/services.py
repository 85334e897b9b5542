"""The three services a load run drives, as processes: intake's Kafka door, the coordination
worker (consumer and deadline scheduler), its outbox relay as a process of its own (as
production runs it: the relay then uses another core than the worker) and notifications.

A slimmer ``simulator.demo.processes.Services``: no HTTP door, no timeline API, no webhook
partner (the packaged registry delivers to every institution's Kafka topic). Each process serves
/readyz on its own port, ``IIZ_LOAD_HEALTH_PORT`` + 0, 1, 2, 3 (default 26191), so that a load run
beside a demo or another run does not clash.

``instances`` > 1 starts that many copies of each process (ports + 4, + 8, ...), the way a canton
scales out: intake copies take turns on the intake topics' partitions in one group, each with a
transactional id of its own (``IIZ_INTAKE_INSTANCE_ID``); coordination workers share the canonical
topic's partitions and the outbox's lanes (advisory locks); notifications routers share the
deliveries topic's partitions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from services.intake.settings import IntakeSettings
from simulator.credentials import SERVICE_PRINCIPALS, principal_environment
from simulator.demo.processes import (
    LEGAL_BASIS,
    fail_if_one_died,
    service_environment,
    wait_until_ready,
)

REPO = Path(__file__).resolve().parents[2]
COMMANDS = {
    "intake-kafka": ["services.intake", "kafka"],
    "coordination": ["services.coordination", "worker"],
    "coordination-relay": ["services.coordination", "relay"],
    "notifications": ["services.notifications"],
}


def health_base() -> int:
    return int(os.environ.get("IIZ_LOAD_HEALTH_PORT", "26191"))


@dataclass
class LoadServices:
    settings: IntakeSettings
    logs: Path
    smtp_port: int
    base_port: int = field(default_factory=health_base)
    instances: int = 1
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def ports(self) -> dict[str, int]:
        """Each process's health port: ``<service>`` for the first copy, ``<service>-<n>`` after."""
        return {
            copy_name(name, copy): self.base_port + len(COMMANDS) * copy + n
            for copy in range(self.instances)
            for n, name in enumerate(COMMANDS)
        }

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        extra = {
            "coordination": {
                **LEGAL_BASIS,
                "IIZ_COORDINATION_RUN_SIGNALS_SUMMARY": "false",
                "IIZ_COORDINATION_RUN_RELAY": "false",  # the relay runs as a process of its own
                "IIZ_COORDINATION_SMTP_PORT": str(self.smtp_port),
            },
            "notifications": {"IIZ_NOTIFICATIONS_SMTP_PORT": str(self.smtp_port)},
        }
        ports = self.ports()
        for copy in range(self.instances):
            for name, args in COMMANDS.items():
                process = copy_name(name, copy)
                env = service_environment(
                    self.settings,
                    IIZ_LOG_JSON="true",
                    IIZ_HEALTH_PORT=str(ports[process]),
                    IIZ_INTAKE_INSTANCE_ID=f"load-{copy + 1}",
                    **extra.get(name, {}),
                    **principal_environment(self.settings, SERVICE_PRINCIPALS[name.split("-")[0]]),
                )
                with (self.logs / f"load-{process}.log").open("ab") as sink:
                    self.processes[process] = subprocess.Popen(  # noqa: S603 - our own modules
                        [sys.executable, "-m", *args], cwd=REPO, env=env, stdout=sink, stderr=sink
                    )

    async def wait_until_ready(self, within: float = 120) -> None:
        urls = [f"http://127.0.0.1:{port}/readyz" for port in self.ports().values()]
        await wait_until_ready(urls, self.processes, self.logs, within)

    def fail_if_one_died(self) -> None:
        fail_if_one_died(self.processes, self.logs)

    def peak_rss_mib(self) -> dict[str, float]:
        """Each running process's peak resident memory so far (Linux ``VmHWM``), in MiB."""
        peaks = {}
        for name, process in self.processes.items():
            peak = peak_rss_kib(Path(f"/proc/{process.pid}/status"))
            if peak is not None:
                peaks[name] = round(peak / 1024, 1)
        return peaks

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


def copy_name(service: str, copy: int) -> str:
    return service if copy == 0 else f"{service}-{copy + 1}"


def peak_rss_kib(status: Path) -> int | None:
    """``VmHWM`` of a ``/proc/<pid>/status`` file (None: gone, or not Linux)."""
    try:
        lines = status.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None
