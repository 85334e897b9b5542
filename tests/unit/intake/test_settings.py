"""Intake's instance id names its Kafka transactional producers, so it must outlive a restart."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from tests.infra import REPO

PRODUCTION_SECRETS: dict[str, Any] = {
    "environment": "production",
    "pseudonym_key": "a-real-pseudonym-key-of-at-least-32-characters",
    "identity_key": Fernet.generate_key().decode(),
    "document_key": Fernet.generate_key().decode(),
    "person_key": Fernet.generate_key().decode(),
    "intake_session_secret": "a-real-session-secret-of-at-least-32-characters",
    # production refuses PLAINTEXT Kafka
    "kafka_security_protocol": "SASL_SSL",
    "kafka_username": "service-intake",
    "kafka_password": "a-password-from-the-credentials-command",
    # production refuses the development broker and database defaults
    "kafka_bootstrap_servers": "kafka.example:9093",
    "database_url": "postgresql://iiz@db.example:5432/iiz",
}


@pytest.fixture(autouse=True)
def _no_instance_id_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IIZ_INTAKE_INSTANCE_ID", raising=False)
    monkeypatch.delenv("IIZ_ENVIRONMENT", raising=False)


def _instance_id_in_a_new_process(environment: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from services.intake.settings import IntakeSettings; "
            f"print(IntakeSettings(environment={environment!r}).intake_instance_id)",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("environment", ["development", "test"])
def test_outside_production_the_instance_id_is_the_same_in_a_restarted_process(
    environment: str,
) -> None:
    here = IntakeSettings(environment=environment).intake_instance_id  # type: ignore[arg-type]

    assert _instance_id_in_a_new_process(environment) == here == "dev"


def test_in_production_an_instance_without_a_configured_id_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="IIZ_INTAKE_INSTANCE_ID must be set") as refused:
        IntakeSettings(**PRODUCTION_SECRETS)

    secrets = (
        "pseudonym_key",
        "identity_key",
        "document_key",
        "person_key",
        "intake_session_secret",
    )
    assert not [s for s in secrets if PRODUCTION_SECRETS[s][-12:] in str(refused.value)]


def test_in_production_the_configured_instance_id_names_the_instance() -> None:
    settings = IntakeSettings(**PRODUCTION_SECRETS, intake_instance_id="intake-1")

    assert settings.intake_instance_id == "intake-1"


def test_the_instance_id_read_from_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IIZ_INTAKE_INSTANCE_ID", "intake-2")
    monkeypatch.setenv("IIZ_ENVIRONMENT", "production")

    assert IntakeSettings(**PRODUCTION_SECRETS).intake_instance_id == "intake-2"


@pytest.mark.parametrize("bad", ["two words", "ä", "x" * 101])
def test_an_instance_id_that_cannot_name_a_transactional_id_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="intake_instance_id"):
        IntakeSettings(environment="test", intake_instance_id=bad)
