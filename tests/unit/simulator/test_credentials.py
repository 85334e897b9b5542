"""Each simulated institution and each demo service connects as its own principal, with the
password file ``infra/local`` wrote for it; on a PLAINTEXT broker everything stays as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import CommonSettings
from simulator.credentials import (
    as_principal,
    credentials_folder,
    parse_exports,
    partner_settings,
    principal_environment,
)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An infra/local state folder: tls/ca.pem and credentials/kafka/<principal>.password."""
    for name in ("IIZ_SIMULATOR_CREDENTIALS_DIR", "IIZ_KAFKA_USERNAME", "IIZ_KAFKA_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "tls").mkdir()
    (tmp_path / "tls" / "ca.pem").write_text("not read here\n")
    folder = tmp_path / "credentials" / "kafka"
    folder.mkdir(parents=True)
    for principal in ("admin", "rav", "zif", "service-intake"):
        (folder / f"{principal}.password").write_text(f"pw-of-{principal}\n")
    return tmp_path


def secured(state: Path) -> CommonSettings:
    return CommonSettings.model_validate(
        {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_username": "admin",
            "kafka_password": "pw-of-admin",
            "kafka_ca_file": state / "tls" / "ca.pem",
        }
    )


def test_the_password_files_are_found_beside_the_ca_of_the_instance(state: Path) -> None:
    assert credentials_folder(secured(state)) == (state / "credentials" / "kafka").resolve()


def test_the_simulator_setting_names_another_folder(
    state: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    (elsewhere / "rav.password").write_text("handed-to-rav")
    monkeypatch.setenv("IIZ_SIMULATOR_CREDENTIALS_DIR", str(elsewhere))
    assert credentials_folder(secured(state)) == elsewhere
    rav = as_principal(secured(state), "rav")
    assert rav.kafka_password is not None
    assert rav.kafka_password.get_secret_value() == "handed-to-rav"


def test_each_partner_connects_as_itself_with_its_own_password(state: Path) -> None:
    base = secured(state)
    of = partner_settings(base)
    for institution in ("rav", "zif"):
        own = of(institution)
        assert own.kafka_username == institution
        assert own.kafka_password is not None
        assert own.kafka_password.get_secret_value() == f"pw-of-{institution}"
        assert own.kafka_ca_file == base.kafka_ca_file
        assert own.kafka_security_protocol == "SASL_SSL"
    assert base.kafka_username == "admin"  # the base is left alone
    assert principal_environment(base, "service-intake") == {
        "IIZ_KAFKA_USERNAME": "service-intake",
        "IIZ_KAFKA_PASSWORD": "pw-of-service-intake",
    }


def test_a_principal_without_a_password_file_stops_with_what_to_do(state: Path) -> None:
    with pytest.raises(SystemExit, match=r"no Kafka password for 'ksa'.*infra/local up"):
        as_principal(secured(state), "ksa")


def test_on_a_plaintext_broker_everyone_connects_as_is(state: Path) -> None:
    plain = CommonSettings(kafka_security_protocol="PLAINTEXT")
    assert as_principal(plain, "rav") is plain
    assert partner_settings(plain)("zif") is plain
    assert principal_environment(plain, "service-intake") == {}


def test_the_export_lines_of_infra_local_env_are_read_unquoted() -> None:
    text = (
        "export IIZ_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:37092\n"
        "export IIZ_KAFKA_PASSWORD='a b$c'\n"
        'export IIZ_KAFKA_CA_FILE="/state/tls/ca.pem"\n'
        "# a comment\n"
        "export IIZ_EMPTY=\n"
    )
    assert parse_exports(text) == {
        "IIZ_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:37092",
        "IIZ_KAFKA_PASSWORD": "a b$c",
        "IIZ_KAFKA_CA_FILE": "/state/tls/ca.pem",
        "IIZ_EMPTY": "",
    }
