"""Committed data survives a stop and start of the local infrastructure.

Runs a second, private instance of ``infra/local`` (own state folder and ports) so that the
session's broker and database are not disturbed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid

import asyncpg
from aiokafka.admin import NewTopic

from services.common.kafka_clients import create_admin, create_producer
from services.common.settings import CommonSettings
from tests.infra import INFRA, REPO, local_environment
from tests.kafka_tools import read_all


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _infra(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(INFRA), command], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, f"infra/local {command} failed:\n{done.stdout}\n{done.stderr}"
    return done


async def test_committed_kafka_records_and_postgres_rows_survive_an_infra_restart() -> None:
    kafka_port, pg_port = _free_port(), _free_port()
    env = {
        **os.environ,
        # Inside the project's state folder: pytest's tmp folders are private to root, and
        # the postgres OS user must reach its data folder.
        "IIZ_INFRA_HOME": str(REPO / ".infra" / f"durability-{uuid.uuid4().hex[:8]}"),
        "IIZ_KAFKA_PORT": str(kafka_port),
        "IIZ_KAFKA_CONTROLLER_PORT": str(_free_port()),
        "IIZ_PG_PORT": str(pg_port),
        "IIZ_KEYCLOAK": "off",  # the identity provider keeps nothing across a restart
    }
    topic, marker = "durability.probe", uuid.uuid4().hex
    _infra("up", env)
    try:
        # How to reach this instance (its own CA and admin password), as infra/local tells it.
        exported = local_environment("admin", env)
        settings = CommonSettings.model_validate(
            {name.removeprefix("IIZ_").lower(): value for name, value in exported.items()}
        )
        assert settings.kafka_bootstrap_servers == f"127.0.0.1:{kafka_port}"
        assert f":{pg_port}/" in settings.database_url
        await _write_marker(settings, topic, marker)
        _infra("down", env)
        _infra("up", env)
        kafka_values, pg_notes = await _read_markers(settings, topic)
    finally:
        _infra("reset", env)

    assert marker.encode() in kafka_values
    assert marker in pg_notes


async def _write_marker(settings: CommonSettings, topic: str, marker: str) -> None:
    admin = create_admin(settings)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    await admin.close()
    producer = create_producer(settings)
    await producer.start()
    await producer.send_and_wait(topic, marker.encode())
    await producer.stop()
    conn = await asyncpg.connect(settings.owner_database_url)  # may create a table
    await conn.execute("CREATE TABLE IF NOT EXISTS durability (note text)")
    await conn.execute("INSERT INTO durability VALUES ($1)", marker)
    await conn.close()


async def _read_markers(settings: CommonSettings, topic: str) -> tuple[list[bytes], list[str]]:
    records = await read_all(settings, [topic])
    conn = await asyncpg.connect(settings.owner_database_url)
    notes = [r["note"] for r in await conn.fetch("SELECT note FROM durability")]
    await conn.close()
    return [r.value for r in records if r.value is not None], notes
