"""`infra/local` recognises its own processes however the state folder is spelled.

Runs a private instance of ``infra/local`` (own state folder and ports), like
test_infra_durability, so that the session's broker and database are not disturbed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path

from tests.infra import INFRA, REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _infra(
    command: str, env: dict[str, str], *, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(INFRA), *command.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if ok:
        assert done.returncode == 0, f"infra/local {command} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _pids(env: dict[str, str]) -> dict[str, int | None]:
    lines = _infra("pids", env).stdout.split("\n")
    pairs = (line.split() for line in lines if line.strip())
    return {name: None if pid == "-" else int(pid) for name, pid in pairs}


def _running(pid: int) -> bool:
    """Exists and is not a zombie (a SIGKILLed process nobody reaped yet has stopped running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_down_through_a_differently_spelled_state_folder_stops_the_broker() -> None:
    # Inside the project's state folder: pytest's tmp folders are private to root, and the
    # postgres OS user must reach its data folder.
    parent = REPO / ".infra"
    parent.mkdir(exist_ok=True)
    name = f"identity-{uuid.uuid4().hex[:8]}"
    state = parent / name
    link = parent / f"{name}-link"  # a symlink to the same folder
    ports = {
        "IIZ_KAFKA_PORT": str(_free_port()),
        "IIZ_KAFKA_CONTROLLER_PORT": str(_free_port()),
        "IIZ_PG_PORT": str(_free_port()),
    }
    env = {**os.environ, **ports, "IIZ_KAFKA_BROKERS": "1", "IIZ_INFRA_HOME": str(state)}
    env["IIZ_KEYCLOAK"] = "off"  # Kafka's and PostgreSQL's processes are the point here
    # the same folder through the symlink and a detour through '..'
    other = {**env, "IIZ_INFRA_HOME": f"{parent}/{name}/../{name}-link"}
    _infra("up", env)
    try:
        link.symlink_to(state, target_is_directory=True)
        started = _pids(env)
        assert started["kafka-1"] is not None
        assert started["postgres"] is not None
        assert _pids(other) == started

        # a lost pid file: the broker is still found (and the pid file written again)
        (state / "run" / "kafka.pid").unlink()
        assert _pids(other) == started
        assert (state / "run" / "kafka.pid").read_text().strip() == str(started["kafka-1"])

        down = _infra("down", other)
        assert "not running" not in down.stdout, down.stdout
        assert not _running(started["kafka-1"]), f"the broker still runs:\n{down.stdout}"
        assert not _running(started["postgres"]), f"postgres still runs:\n{down.stdout}"
        assert _pids(env) == {"kafka-1": None, "postgres": None, "keycloak": None}
    finally:
        _infra("reset", env, ok=False)
        link.unlink(missing_ok=True)
    assert not state.exists()


def test_a_state_folder_of_one_broker_refuses_to_become_a_cluster() -> None:
    state = REPO / ".infra" / f"mode-{uuid.uuid4().hex[:8]}"
    (state / "kafka").mkdir(parents=True)
    (state / "kafka" / "brokers").write_text("1\n")  # what `up` writes when it formats one node
    env = {
        **os.environ,
        "IIZ_INFRA_HOME": str(state),
        "IIZ_KAFKA_BROKERS": "3",
        "IIZ_KAFKA_PORT": str(_free_port()),
        "IIZ_KAFKA_CONTROLLER_PORT": str(_free_port()),
        "IIZ_PG_PORT": str(_free_port()),
    }
    try:
        up = _infra("up", env, ok=False)
        env_lines = _infra("env", {**env, "IIZ_KAFKA_BROKERS": ""}).stdout
    finally:
        _infra("reset", env, ok=False)

    assert up.returncode != 0
    assert "holds a 1-broker Kafka" in up.stderr, up.stderr
    assert "infra/local reset" in up.stderr, up.stderr
    assert not (state / "pg").exists()  # refused before starting anything
    assert f"IIZ_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{env['IIZ_KAFKA_PORT']}\n" in env_lines
