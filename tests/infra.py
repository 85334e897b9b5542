"""Finds the real Kafka broker and PostgreSQL for the test session.

Order: environment variables → testcontainers when a Docker engine answers → the project's
``infra/local`` command. Never a fake, never a silent skip: if none works, the session fails
with a message that says what to do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiokafka.admin import AIOKafkaAdminClient

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra" / "local"


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    database_url: str
    origin: str


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
        return Infra(kafka, database, "environment variables")
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
        yield Infra(kafka.get_bootstrap_server(), url, "testcontainers")


def _from_infra_scripts() -> Infra:
    up = subprocess.run([str(INFRA), "up"], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        raise RuntimeError(
            f"`infra/local up` failed (exit {up.returncode}); no Kafka/PostgreSQL for the tests.\n"
            f"{up.stdout[-3000:]}\n{up.stderr[-3000:]}\n"
            "Set IIZ_KAFKA_BOOTSTRAP_SERVERS and IIZ_DATABASE_URL to use running services."
        )
    env = subprocess.run([str(INFRA), "env"], capture_output=True, text=True, check=True)
    values = dict(
        line.removeprefix("export ").split("=", 1)
        for line in env.stdout.splitlines()
        if "=" in line
    )
    return Infra(
        values["IIZ_KAFKA_BOOTSTRAP_SERVERS"].strip("'\""),
        values["IIZ_DATABASE_URL"].strip("'\""),
        "infra/local",
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
