"""The suite's own Kafka and PostgreSQL, through ``infra/local`` — never the developer's.

Each mode has its own state folder and ports, so the developer instance (``.infra``, 9092/5433)
and the test suite keep running while the fault suite kills brokers and stops PostgreSQL. How to
connect (SASL_SSL, the CA, the principals' passwords) is what ``infra/local env`` of that instance
prints: the suite's own tools connect as ``admin``, the services as their own principals.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.common.kafka_clients import create_admin
from services.common.settings import CommonSettings
from simulator.credentials import local_environment

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra" / "local"


@dataclass(frozen=True)
class SuiteInfra:
    """One ``infra/local`` instance: its state folder, ports and node count."""

    home: Path
    kafka_port: int
    controller_port: int
    pg_port: int
    brokers: int

    @classmethod
    def single(cls) -> SuiteInfra:
        return cls(REPO / ".infra-faults", 19092, 19093, 15433, 1)

    @classmethod
    def cluster(cls) -> SuiteInfra:
        return cls(REPO / ".infra-faults-cluster", 29092, 29093, 25433, 3)

    @property
    def label(self) -> str:
        return "1 broker" if self.brokers == 1 else f"{self.brokers}-broker cluster"

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.kafka_port + 2 * n}" for n in range(self.brokers))

    def _database_url(self, role: str) -> str:
        """``role``'s URL with the password ``infra/local up`` generated for it (once it is up)."""
        password = (self.home / "credentials" / "postgres" / f"{role}.password").read_text()
        return f"postgresql://{role}:{password.strip()}@127.0.0.1:{self.pg_port}/iiz"

    @property
    def database_url(self) -> str:
        return self._database_url("iiz")

    @property
    def migration_database_url(self) -> str:
        """The schema owner's (migrations, dropping schemas, faults that change tables)."""
        return self._database_url("iiz_owner")

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "IIZ_INFRA_HOME": str(self.home),
            "IIZ_KAFKA_PORT": str(self.kafka_port),
            "IIZ_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "IIZ_PG_PORT": str(self.pg_port),
            "IIZ_KAFKA_BROKERS": str(self.brokers),
            "IIZ_KEYCLOAK": "off",  # the fault suite needs no identity provider
        }

    def connection(self, principal: str = "admin") -> dict[str, str]:
        """The ``IIZ_*`` variables to reach this instance as ``principal`` (once it is up)."""
        return local_environment(principal, self.environment())

    def settings(self, principal: str = "admin") -> CommonSettings:
        found = self.connection(principal)
        return CommonSettings.model_validate(
            {name.removeprefix("IIZ_").lower(): value for name, value in found.items()}
        )

    def run(self, *args: str, log: Path | None = None) -> str:
        """``infra/local <args>``; its output goes to ``log`` (appended) and is returned."""
        done = subprocess.run(
            [str(INFRA), *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        output = done.stdout + done.stderr
        if log is not None:
            with log.open("a", encoding="utf-8") as sink:
                sink.write(f"$ infra/local {' '.join(args)}\n{output}")
        if done.returncode != 0:
            raise RuntimeError(f"infra/local {' '.join(args)} failed:\n{output[-2000:]}")
        return output

    def up(self, log: Path) -> None:
        self.run("up", log=log)

    def down(self, log: Path) -> None:
        self.run("down", log=log)

    def pids(self) -> dict[str, int | None]:
        found: dict[str, int | None] = {}
        for line in self.run("pids").splitlines():
            name, _, pid = line.partition(" ")
            if name:
                found[name] = int(pid) if pid.strip().isdigit() else None
        return found

    def kill_broker(self, node: int, log: Path) -> None:
        self.run("kill-broker", str(node), "KILL", log=log)

    def start_broker(self, node: int, log: Path) -> None:
        self.run("start-broker", str(node), log=log)

    def stop_postgres_immediately(self, log: Path) -> None:
        self.run("stop-postgres", "immediate", log=log)

    def start_postgres(self, log: Path) -> None:
        self.run("start-postgres", log=log)

    async def leaders(self, topic: str) -> dict[int, int]:
        """Partition → node id of its current leader."""
        admin = create_admin(self.settings())
        await admin.start()
        try:
            [description] = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return {p["partition"]: p["leader"] for p in description["partitions"]}

    async def busiest_leader(self, topic: str) -> int:
        """The node that leads most of the topic's partitions."""
        counts = Counter((await self.leaders(topic)).values())
        return max(sorted(counts), key=lambda node: counts[node])
