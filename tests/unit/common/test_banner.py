"""Every command says which broker and database it talks to before it writes: never a password,
and a target the environment did not set is named as the development default (refused in
production)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.common.banner import announce, banner, load_settings
from services.common.settings import CommonSettings
from services.coordination.settings import CoordinationSettings
from services.notifications.settings import NotificationsSettings
from services.ops.settings import OpsSettings
from tests.infra import REPO

PASSWORD = "s3cret-Pa55word-nobody-may-read"
DATABASE = f"postgresql://iiz:{PASSWORD}@db.example:6543/iiz"
OWNER = f"postgresql://iiz_owner:{PASSWORD}@db.example:6543/iiz"
SECURED: dict[str, Any] = {
    "kafka_bootstrap_servers": "kafka-1.example:9093,kafka-2.example:9093",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_username": "service-coordination",
    "kafka_password": PASSWORD,
    "database_url": DATABASE,
}
PRODUCTION: dict[str, Any] = {
    "environment": "production",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_username": "service-coordination",
    "kafka_password": PASSWORD,
    "pseudonym_key": "a-real-pseudonym-key-of-at-least-32-characters",
    "identity_key": Fernet.generate_key().decode(),
    "document_key": Fernet.generate_key().decode(),
    "person_key": Fernet.generate_key().decode(),
}


@pytest.fixture(autouse=True)
def _no_targets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("IIZ_"):
            monkeypatch.delenv(name)


def test_the_banner_names_broker_protocol_principal_database_and_role_never_the_password() -> None:
    settings = CommonSettings(**SECURED, migration_database_url=OWNER)

    line = banner("coordination rebuild", settings, owner=True, schema="coordination")

    assert line == (
        "coordination rebuild: Kafka kafka-1.example:9093,kafka-2.example:9093, SASL_SSL,"
        " SCRAM-SHA-512 as service-coordination; PostgreSQL db.example:6543/iiz as iiz;"
        " PostgreSQL db.example:6543/iiz as iiz_owner (schema owner), schema coordination"
    )
    assert PASSWORD not in line
    assert "not set" not in line


def test_a_target_left_at_its_default_is_named_as_the_development_default() -> None:
    line = banner("intake kafka", CommonSettings(), schema="intake")

    assert line == (
        "intake kafka: Kafka 127.0.0.1:9092 (IIZ_KAFKA_BOOTSTRAP_SERVERS not set: using the"
        " development default), PLAINTEXT (IIZ_KAFKA_SECURITY_PROTOCOL not set: using the"
        " development default), no principal; PostgreSQL 127.0.0.1:5433/iiz as iiz"
        " (IIZ_DATABASE_URL not set: using the development default), schema intake"
    )


def test_the_variables_read_from_the_environment_count_as_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IIZ_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    monkeypatch.setenv("IIZ_DATABASE_URL", DATABASE)

    line = banner("coordination worker", CoordinationSettings())

    assert "Kafka 127.0.0.1:19092, PLAINTEXT (IIZ_KAFKA_SECURITY_PROTOCOL not set" in line
    assert "PostgreSQL db.example:6543/iiz as iiz, schema" not in line  # no schema asked for
    assert line.endswith("PostgreSQL db.example:6543/iiz as iiz")
    assert PASSWORD not in line


def test_migrating_without_an_owner_url_says_it_uses_the_service_url() -> None:
    line = banner(
        "intake migrate",
        CommonSettings(database_url=DATABASE),
        kafka=False,
        database=False,
        owner=True,
        schema="intake",
    )

    assert line == (
        "intake migrate: PostgreSQL db.example:6543/iiz as iiz (IIZ_MIGRATION_DATABASE_URL not"
        " set: using IIZ_DATABASE_URL), schema intake"
    )


def test_a_url_with_the_role_in_the_query_and_a_socket_host_shows_no_password() -> None:
    url = f"postgresql:///iiz?host=/run/postgresql&user=iiz&password={PASSWORD}"

    line = banner("intake tokens list", CommonSettings(database_url=url), kafka=False)

    assert line == "intake tokens list: PostgreSQL /run/postgresql:5432/iiz as iiz"


def test_announce_writes_the_one_line_to_standard_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    announce("ops kafka bootstrap", OpsSettings(**SECURED), database=False, extra="passwords")

    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ops kafka bootstrap: Kafka kafka-1.example:9093")
    assert err.endswith("; passwords\n")


def test_in_production_an_unset_broker_or_database_is_an_error_not_a_default() -> None:
    with pytest.raises(ValidationError) as refused:
        CoordinationSettings(**PRODUCTION)

    message = str(refused.value)
    assert "IIZ_KAFKA_BOOTSTRAP_SERVERS and IIZ_DATABASE_URL must be set in production" in message
    assert PASSWORD not in message


def test_in_production_commands_without_a_database_need_only_the_broker() -> None:
    for settings_class in (OpsSettings, NotificationsSettings):
        with pytest.raises(ValidationError, match="IIZ_KAFKA_BOOTSTRAP_SERVERS must be set"):
            settings_class(**PRODUCTION)
        settings = settings_class(**PRODUCTION, kafka_bootstrap_servers="kafka.example:9093")
        assert settings.kafka_bootstrap_servers == "kafka.example:9093"


def test_production_with_both_targets_set_starts() -> None:
    settings = CommonSettings(
        **PRODUCTION, kafka_bootstrap_servers="kafka.example:9093", database_url=DATABASE
    )

    assert "not set" not in banner("coordination api", settings)


def test_a_refused_setting_ends_the_command_with_one_line_and_no_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def bad() -> CommonSettings:
        return CommonSettings(**{**SECURED, "kafka_security_protocol": "SSL"})

    with pytest.raises(SystemExit) as ended:
        load_settings(bad, "coordination worker")

    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("coordination worker: refused: kafka_security_protocol: Input should")
    assert PASSWORD not in err


_WARNING = re.compile(r"^\S+:\d+: \w*Warning: ")


def own_lines(output: str) -> list[str]:
    """The command's lines: without the warnings a library prints when it is imported (each a
    ``file:line: SomeWarning: ...`` line and the indented source line under it)."""
    lines: list[str] = []
    skip_source = False
    for line in output.splitlines():
        if _WARNING.match(line):
            skip_source = True
        elif not (skip_source and line.startswith(" ")):
            skip_source = False
            lines.append(line)
    return lines


TOKEN_ARGUMENTS = ("--institution", "rav", "--label", "banner test")


def test_a_real_command_prints_the_banner_before_anything_else() -> None:
    """``python -m services.intake.tokens create`` as an operator runs it: the first line, before
    it connects (and fails, as nothing listens on port 1), names the database and role."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IIZ_")}
    environment["IIZ_DATABASE_URL"] = f"postgresql://iiz:{PASSWORD}@127.0.0.1:1/iiz"
    done = subprocess.run(
        [sys.executable, "-m", "services.intake.tokens", "create", *TOKEN_ARGUMENTS],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert own_lines(done.stdout)[0] == (
        "intake tokens create: PostgreSQL 127.0.0.1:1/iiz as iiz, schema intake"
    )
    assert PASSWORD not in done.stdout


def test_the_ops_commands_name_a_password_folder_left_at_its_default() -> None:
    from services.ops.cli import password_folder

    assert password_folder(OpsSettings()).endswith(
        "(IIZ_KAFKA_CREDENTIALS_DIR and IIZ_INFRA_HOME not set: using the default local infra's"
        " folder)"
    )
    assert "not set" not in password_folder(OpsSettings(infra_home=Path("/srv/iiz")))
