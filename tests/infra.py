"""Finds the real Kafka broker and PostgreSQL for the test session.

Order: environment variables → testcontainers when a Docker engine answers → the project's
``infra/local`` command. Never a fake, never a silent skip: if none works, the session fails
with a message that says what to do.

The infra carries how to connect, not only where: the security settings (SASL_SSL, the SCRAM
principal — ``admin`` for the tests, which create their own topics and groups — and the CA file)
and the schema owner's URL for migrations. The session exports them as ``IIZ_*`` variables, so
every settings object and every process the tests start connects the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.credentials import local_environment

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra" / "local"


# What ``infra/local env`` prints (and the tests export) besides the servers and the database.
CONNECTION_VARIABLES = (
    "IIZ_KAFKA_BOOTSTRAP_SERVERS",
    "IIZ_DATABASE_URL",
    "IIZ_MIGRATION_DATABASE_URL",
    "IIZ_KAFKA_SECURITY_PROTOCOL",
    "IIZ_KAFKA_SASL_MECHANISM",
    "IIZ_KAFKA_USERNAME",
    "IIZ_KAFKA_PASSWORD",
    "IIZ_KAFKA_CA_FILE",
)


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    database_url: str
    origin: str
    # Every other IIZ_* connection variable (security, migration URL), as found.
    connection: dict[str, str] = field(default_factory=dict)

    @property
    def secured(self) -> bool:
        return self.connection.get("IIZ_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") != "PLAINTEXT"

    @property
    def migration_database_url(self) -> str:
        return self.connection.get("IIZ_MIGRATION_DATABASE_URL") or self.database_url

    def environment(self) -> dict[str, str]:
        """The ``IIZ_*`` variables a process needs to reach this Kafka and PostgreSQL."""
        return {
            **self.connection,
            "IIZ_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "IIZ_DATABASE_URL": self.database_url,
        }


async def replication_factor(admin: AIOKafkaAdminClient) -> int:
    """Replication factor for a topic a test creates: the cluster's size, at most 3 (1 on the
    single local broker, 3 on the three-broker cluster of ``IIZ_KAFKA_BROKERS=3``, whose brokers
    default to ``min.insync.replicas=2``)."""
    cluster = await admin.describe_cluster()
    return max(1, min(3, len(cluster["brokers"])))


def _from_environment() -> Infra | None:
    kafka = os.environ.get("IIZ_KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("IIZ_DATABASE_URL")
    if kafka and database:
        connection = {n: os.environ[n] for n in CONNECTION_VARIABLES if os.environ.get(n)}
        return Infra(kafka, database, "environment variables", connection)
    return None


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


@contextlib.contextmanager
def _from_testcontainers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        PostgresContainer("postgres:15", username="iiz", password="iiz", dbname="iiz") as pg,
    ):
        url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        # PLAINTEXT and one superuser role: the containers are the tests' own and live only
        # for the session; the secured broker, its ACLs and the database roles are proven on
        # the infra/local path (what `make test` uses without Docker, and CI).
        plain = {"IIZ_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
        yield Infra(kafka.get_bootstrap_server(), url, "testcontainers", plain)


def _from_infra_scripts() -> Infra:
    up = subprocess.run([str(INFRA), "up"], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        raise RuntimeError(
            f"`infra/local up` failed (exit {up.returncode}); no Kafka/PostgreSQL for the tests.\n"
            f"{up.stdout[-3000:]}\n{up.stderr[-3000:]}\n"
            'To use running services: eval "$(infra/local env)" (or set IIZ_KAFKA_* and '
            "IIZ_DATABASE_URL yourself)."
        )
    values = local_environment("admin")
    return Infra(
        values["IIZ_KAFKA_BOOTSTRAP_SERVERS"],
        values["IIZ_DATABASE_URL"],
        "infra/local",
        {n: values[n] for n in CONNECTION_VARIABLES if values.get(n)},
    )


@contextlib.contextmanager
def resolve_infra() -> Iterator[Infra]:
    """Yield the connection details of a real Kafka and PostgreSQL for the whole session."""
    found = _from_environment()
    if found is not None:
        yield found
    elif _docker_answers():
        with _from_testcontainers() as infra:
            yield infra
    else:
        yield _from_infra_scripts()
