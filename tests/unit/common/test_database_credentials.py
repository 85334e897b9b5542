"""The services' database role never learns the owner's password: each role has its own
generated password, ``infra/local env`` hands the owner's URL to the operator only, and the
migrations leave no function executable by PUBLIC."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from services.common.migrations import Privileges, grant_statements
from simulator.credentials import parse_exports

INFRA = Path(__file__).resolve().parents[3] / "infra" / "local"


def infra_env(home: Path, *args: str) -> tuple[dict[str, str], str]:
    env = {**os.environ, "IIZ_INFRA_HOME": str(home), "IIZ_PG_PORT": "5433"}
    done = subprocess.run(
        [str(INFRA), "env", *args], capture_output=True, text=True, check=True, env=env
    )
    return parse_exports(done.stdout), done.stdout


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state folder as `infra/local up` leaves it (only the files `env` reads)."""
    for kind, name, secret in (
        ("kafka", "admin", "a" * 64),
        ("kafka", "service-coordination", "b" * 64),
        ("kafka", "rav", "c" * 64),
        ("postgres", "iiz_owner", "d" * 64),
        ("postgres", "iiz", "e" * 64),
    ):
        folder = tmp_path / "credentials" / kind
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.password").write_text(secret + "\n")
    return tmp_path


def test_the_operator_gets_both_roles_each_with_its_own_password(state: Path) -> None:
    values, _ = infra_env(state)
    assert values["IIZ_DATABASE_URL"] == f"postgresql://iiz:{'e' * 64}@127.0.0.1:5433/iiz"
    assert values["IIZ_MIGRATION_DATABASE_URL"] == (
        f"postgresql://iiz_owner:{'d' * 64}@127.0.0.1:5433/iiz"
    )


def test_a_service_gets_only_its_own_role_and_drops_the_owners_url(state: Path) -> None:
    values, text = infra_env(state, "service-coordination")
    assert values["IIZ_DATABASE_URL"] == f"postgresql://iiz:{'e' * 64}@127.0.0.1:5433/iiz"
    assert "IIZ_MIGRATION_DATABASE_URL" not in values
    assert "d" * 64 not in text
    assert "unset IIZ_MIGRATION_DATABASE_URL" in text.splitlines()


def test_a_partner_gets_no_database(state: Path) -> None:
    values, text = infra_env(state, "rav")
    assert "IIZ_DATABASE_URL" not in values
    assert "e" * 64 not in text
    assert "d" * 64 not in text


def test_the_grants_take_execute_on_every_function_from_public() -> None:
    statements = grant_statements(
        "coordination",
        "iiz",
        Privileges({"audit_log": "SELECT, INSERT"}, functions=("audit_lock_head()",)),
        {"audit_log"},
    )
    assert statements[0] == 'REVOKE ALL ON ALL ROUTINES IN SCHEMA "coordination" FROM PUBLIC'
    assert 'REVOKE ALL ON ALL ROUTINES IN SCHEMA "coordination" FROM "iiz"' in statements
    assert statements[-1] == 'GRANT EXECUTE ON FUNCTION "coordination".audit_lock_head() TO "iiz"'
