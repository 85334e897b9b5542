"""The three services a load run drives, each as its own process: intake's Kafka door, the
coordination worker (consumer, outbox relay and deadline scheduler) and notifications.

A slimmer ``simulator.demo.processes.Services``: no HTTP door, no timeline API, no webhook
partner (the packaged registry delivers to every institution's Kafka topic). Each process serves
/readyz on its own port, ``IIZ_LOAD_HEALTH_PORT`` + 0, 1, 2 (default 26191), so that a load run
beside a demo or another run does not clash.
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
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def ports(self) -> dict[str, int]:
        return {name: self.base_port + n for n, name in enumerate(COMMANDS)}

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        extra = {
            "coordination": {
                **LEGAL_BASIS,
                "IIZ_COORDINATION_RUN_SIGNALS_SUMMARY": "false",
                "IIZ_COORDINATION_SMTP_PORT": str(self.smtp_port),
            },
            "notifications": {"IIZ_NOTIFICATIONS_SMTP_PORT": str(self.smtp_port)},
        }
        for name, args in COMMANDS.items():
            env = service_environment(
                self.settings,
                IIZ_LOG_JSON="true",
                IIZ_HEALTH_PORT=str(self.ports()[name]),
                **extra.get(name, {}),
                **principal_environment(self.settings, SERVICE_PRINCIPALS[name.split("-")[0]]),
            )
            with (self.logs / f"load-{name}.log").open("ab") as sink:
                self.processes[name] = subprocess.Popen(  # noqa: S603 - our own modules
                    [sys.executable, "-m", *args], cwd=REPO, env=env, stdout=sink, stderr=sink
                )

    async def wait_until_ready(self, within: float = 120) -> None:
        urls = [f"http://127.0.0.1:{port}/readyz" for port in self.ports().values()]
        await wait_until_ready(urls, self.processes, self.logs, within)

    def fail_if_one_died(self) -> None:
        fail_if_one_died(self.processes, self.logs)

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
