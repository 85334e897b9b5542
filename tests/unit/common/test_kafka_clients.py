"""Every Kafka client the factories build connects the way the settings say: PLAINTEXT only when
asked, otherwise SASL_SSL with the settings' SCRAM principal and TLS verified against the CA file.
"""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import SASLScram256, SASLScram512
from pydantic import SecretStr, ValidationError

from services.common.kafka_clients import (
    broker_security,
    connection_options,
    create_admin,
    create_broker,
    create_consumer,
    create_producer,
    create_reader,
)
from services.common.settings import CommonSettings

CA_NAME = "IIZ unit-test CA"
KAFKA_VARIABLES = (
    "IIZ_KAFKA_BOOTSTRAP_SERVERS",
    "IIZ_KAFKA_SECURITY_PROTOCOL",
    "IIZ_KAFKA_SASL_MECHANISM",
    "IIZ_KAFKA_USERNAME",
    "IIZ_KAFKA_PASSWORD",
    "IIZ_KAFKA_CA_FILE",
)


@pytest.fixture(autouse=True)
def no_kafka_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test session exports the real broker's settings; these tests build their own."""
    for name in KAFKA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate in PEM, as ``infra/local`` writes to ``tls/ca.pem``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def secured(ca_file: Path, mechanism: str = "SCRAM-SHA-512") -> CommonSettings:
    return CommonSettings.model_validate(
        {
            "kafka_bootstrap_servers": "127.0.0.1:37092,127.0.0.1:37094",
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": mechanism,
            "kafka_username": "service-intake",
            "kafka_password": "s3cret-of-intake",
            "kafka_ca_file": ca_file,
        }
    )


def plaintext() -> CommonSettings:
    return CommonSettings(kafka_bootstrap_servers="127.0.0.1:9092")


def assert_verifies_against(context: ssl.SSLContext, ca_file: Path) -> None:
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    subjects = [dict(entry[0] for entry in c["subject"]) for c in context.get_ca_certs()]
    assert subjects == [{"commonName": CA_NAME}], f"not (only) the CA of {ca_file}: {subjects}"


def client_options(client: Any) -> dict[str, Any]:
    """What an aiokafka producer/consumer/admin client will connect with."""
    inner = getattr(client, "_client", None) or client.client
    return {
        "security_protocol": inner._security_protocol,
        "sasl_mechanism": inner._sasl_mechanism,
        "username": inner._sasl_plain_username,
        "password": inner._sasl_plain_password,
        "ssl_context": inner._ssl_context,
        "bootstrap_servers": inner._bootstrap_servers,
    }


async def test_every_aiokafka_client_connects_as_the_settings_principal_over_tls(
    ca_file: Path,
) -> None:
    settings = secured(ca_file)
    clients = {
        "producer": create_producer(settings),
        "transactional producer": create_producer(settings, transactional_id="iiz-intake-t"),
        "consumer": create_consumer(settings, "a.topic", group_id="iiz-intake"),
        "reader": create_reader(settings),
        "admin": create_admin(settings),
    }
    for name, client in clients.items():
        options = client_options(client)
        assert options["security_protocol"] == "SASL_SSL", name
        assert options["sasl_mechanism"] == "SCRAM-SHA-512", name
        assert (options["username"], options["password"]) == (
            "service-intake",
            "s3cret-of-intake",
        ), name
        assert options["bootstrap_servers"] == "127.0.0.1:37092,127.0.0.1:37094", name
        assert_verifies_against(options["ssl_context"], ca_file)


async def test_the_faststream_broker_gets_the_same_scram_and_tls(ca_file: Path) -> None:
    for mechanism, kind in (("SCRAM-SHA-512", SASLScram512), ("SCRAM-SHA-256", SASLScram256)):
        broker = create_broker(secured(ca_file, mechanism))
        options = broker._connection_kwargs
        assert options["security_protocol"] == "SASL_SSL"
        assert options["sasl_mechanism"] == mechanism
        assert options["sasl_plain_username"] == "service-intake"
        assert options["sasl_plain_password"] == "s3cret-of-intake"
        assert options["bootstrap_servers"] == ["127.0.0.1:37092", "127.0.0.1:37094"]
        assert_verifies_against(options["ssl_context"], ca_file)
        assert type(broker_security(secured(ca_file, mechanism))) is kind
        # the project's safe defaults stay
        assert options["acks"] == "all"
        assert options["enable_idempotence"] is True


async def test_plaintext_only_when_the_settings_say_so() -> None:
    settings = plaintext()
    for client in (
        create_producer(settings),
        create_consumer(settings, group_id="g"),
        create_reader(settings),
        create_admin(settings),
    ):
        options = client_options(client)
        assert options["security_protocol"] == "PLAINTEXT"
        assert options["username"] is None
        assert options["ssl_context"] is None
    broker = create_broker(settings)
    assert broker._connection_kwargs.get("security_protocol", "PLAINTEXT") == "PLAINTEXT"
    assert broker._connection_kwargs.get("sasl_plain_username") is None


def test_sasl_ssl_without_a_principal_is_refused(ca_file: Path) -> None:
    with pytest.raises(ValidationError, match="IIZ_KAFKA_USERNAME"):
        CommonSettings(kafka_security_protocol="SASL_SSL", kafka_ca_file=ca_file)
    # a copy with its password removed (model_copy does not validate) is refused by the factory
    stripped = secured(ca_file).model_copy(update={"kafka_password": None})
    with pytest.raises(ValueError, match="IIZ_KAFKA_PASSWORD"):
        connection_options(stripped)


def test_settings_from_the_environment_reach_the_clients(
    ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``infra/local env`` exports is what a service's settings and clients use."""
    for name, value in {
        "IIZ_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:37092",
        "IIZ_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "IIZ_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "IIZ_KAFKA_USERNAME": "service-notifications",
        "IIZ_KAFKA_PASSWORD": "from-the-credentials-file",
        "IIZ_KAFKA_CA_FILE": str(ca_file),
    }.items():
        monkeypatch.setenv(name, value)
    options = connection_options(CommonSettings())
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-256"
    assert options["sasl_plain_username"] == "service-notifications"
    assert options["sasl_plain_password"] == "from-the-credentials-file"
    assert_verifies_against(options["ssl_context"], ca_file)
    assert CommonSettings().kafka_password == SecretStr("from-the-credentials-file")
