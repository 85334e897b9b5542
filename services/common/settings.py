"""Settings shared by every service, read from ``IIZ_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_PSEUDONYM_KEY = "development-only-pseudonym-key-not-for-production"
# A valid Fernet key that everyone can read: fine for development and tests, refused in production.
DEVELOPMENT_IDENTITY_KEY = "ZGV2ZWxvcG1lbnQtb25seS1pZGVudGl0eS1rZXkhISE="

Environment = Literal["development", "test", "production"]
KafkaSecurityProtocol = Literal["PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


class CommonSettings(BaseSettings):
    """Connection and safety settings; each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="IIZ_", frozen=True, extra="ignore")

    environment: Environment = Field(
        default="development", description="production refuses development secrets"
    )
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        default="PLAINTEXT",
        description="SASL_SSL on every secured cluster; production refuses PLAINTEXT",
    )
    kafka_sasl_mechanism: KafkaSaslMechanism = Field(default="SCRAM-SHA-512")
    kafka_username: str | None = Field(default=None, description="the SCRAM principal")
    kafka_password: SecretStr | None = Field(default=None)
    kafka_ca_file: Path | None = Field(
        default=None, description="PEM file of the CA that signed the brokers' certificates"
    )
    database_url: str = Field(
        default="postgresql://iiz@127.0.0.1:5433/iiz",
        description="libpq-style URL of the service's own role (may not rewrite the audit log);"
        " the default names no password: each role's is generated (`infra/local env` prints the"
        " URLs of the local instance)",
    )
    migration_database_url: str | None = Field(
        default=None,
        description="libpq-style URL of the schema owner role that runs migrations; unset: "
        "database_url",
    )
    health_host: str = Field(default="127.0.0.1", description="address of /livez and /readyz")
    health_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="port of /livez and /readyz; unset: the service's own (intake 8091, "
        "coordination 8092, notifications 8093); 0: any free port",
    )
    log_level: str = Field(default="INFO")
    log_json: bool | None = Field(
        default=None, description="JSON lines; default: JSON unless stderr is a terminal"
    )
    pseudonym_key: SecretStr = Field(default=SecretStr(DEVELOPMENT_PSEUDONYM_KEY))
    pseudonym_key_id: str = Field(default="k1", pattern=r"^[a-z0-9]{1,8}$")
    identity_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_IDENTITY_KEY),
        description="Fernet key sealing AHV numbers between intake and coordination",
    )
    identity_key_id: str = Field(default="i1", pattern=r"^[a-z0-9]{1,8}$")

    @property
    def owner_database_url(self) -> str:
        """The URL migrations and owner-only operations connect with."""
        return self.migration_database_url or self.database_url

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> CommonSettings:
        if self.kafka_security_protocol == "SASL_SSL" and not (
            self.kafka_username and self.kafka_password
        ):
            raise ValueError(
                "IIZ_KAFKA_USERNAME and IIZ_KAFKA_PASSWORD are needed with SASL_SSL "
                "(`infra/local env` prints them for the local broker)"
            )
        if self.environment == "production":
            if self.kafka_security_protocol != "SASL_SSL":
                raise ValueError("IIZ_KAFKA_SECURITY_PROTOCOL must be SASL_SSL in production")
            if self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY:
                raise ValueError("IIZ_PSEUDONYM_KEY must be set to a real secret in production")
            if len(self.pseudonym_key.get_secret_value()) < 32:
                raise ValueError("IIZ_PSEUDONYM_KEY must be at least 32 characters")
            if self.identity_key.get_secret_value() == DEVELOPMENT_IDENTITY_KEY:
                raise ValueError("IIZ_IDENTITY_KEY must be set to a real Fernet key in production")
        return self
