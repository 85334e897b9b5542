"""Settings shared by every service, read from ``IIZ_*`` environment variables."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.document_seal import key_from_setting
from services.common.keyring import Keyring, keyring_from_settings

DEVELOPMENT_PSEUDONYM_KEY = "development-only-pseudonym-key-not-for-production"
# A valid Fernet key that everyone can read: fine for development and tests, refused in production.
DEVELOPMENT_IDENTITY_KEY = "ZGV2ZWxvcG1lbnQtb25seS1pZGVudGl0eS1rZXkhISE="
# 32 bytes everyone can read (URL-safe base64): development and tests only, refused in production.
DEVELOPMENT_DOCUMENT_KEY = "ZGV2ZWxvcG1lbnQtb25seS1kb2N1bWVudC1rZXkhISE="
# 32 bytes everyone can read: wraps the per-person keys in development and tests only.
DEVELOPMENT_PERSON_KEY = "ZGV2ZWxvcG1lbnQtb25seS1wZXJzb24ta2V5ISEhISE="
_KEY_IDS = r"^[a-z0-9]{1,8}$"

Environment = Literal["development", "test", "production"]
KafkaSecurityProtocol = Literal["PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


class CommonSettings(BaseSettings):
    """Connection and safety settings; each service subclasses it with its own fields."""

    # A validation error must not echo the raw input: it holds the keys.
    model_config = SettingsConfigDict(
        env_prefix="IIZ_", frozen=True, extra="ignore", hide_input_in_errors=True
    )
    # Whether the commands of these settings talk to PostgreSQL (the ops commands do not): in
    # production, IIZ_DATABASE_URL must then be set, never left at the development default.
    uses_database: ClassVar[bool] = True

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
    pseudonym_previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object key id → earlier pseudonym key, still used to find persons"
        " until `ops rekey` has moved every lookup; remove an id to retire it",
    )
    identity_previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object key id → earlier Fernet identity key, still opening what was"
        " sealed under it until `ops rekey` has resealed it; remove an id to retire it",
    )
    person_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_PERSON_KEY),
        description="AES-256-GCM key (32 bytes, URL-safe base64) wrapping every person's own"
        " key (crypto-shredding). Required in production",
    )
    person_key_id: str = Field(default="p1", pattern=_KEY_IDS)
    person_previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object key id → earlier person-key wrapping key; remove to retire",
    )
    person_db_schema: str = Field(
        default="persons",
        description="PostgreSQL schema of the person registry (created by intake's migrations)",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="the canton's OpenID Connect provider (its issuer URL, exactly as in its"
        " tokens): staff sign in there; unset: no sign-in through a provider",
    )
    session_idle_minutes: float = Field(
        default=30.0, gt=0, description="a signed-in session ends after this long unused"
    )
    session_max_hours: float = Field(
        default=10.0, gt=0, le=24, description="and at the latest this long after signing in"
    )
    document_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_DOCUMENT_KEY),
        description="AES-256-GCM key (32 bytes, URL-safe base64) sealing stored documents; intake"
        " encrypts, coordination decrypts. Required in production",
    )
    document_key_id: str = Field(
        default="d1",
        pattern=r"^[a-z0-9]{1,8}$",
        description="Id of document_key, prefixed to every sealed document (key rotation)",
    )
    document_previous_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="JSON object key id → earlier document key; remove to retire",
    )
    document_db_schema: str = Field(
        default="documents",
        description="PostgreSQL schema of the document store (created by intake's migrations)",
    )

    @model_validator(mode="after")
    def _refuse_default_targets_in_production(self) -> CommonSettings:
        # The defaults name a development broker and database; production names its own, so
        # a forgotten variable stops the process instead of sending it somewhere else.
        if self.environment == "production":
            needed = ["kafka_bootstrap_servers"] + (["database_url"] if self.uses_database else [])
            unset = [f"IIZ_{f.upper()}" for f in needed if f not in self.model_fields_set]
            if unset:
                raise ValueError(
                    f"{' and '.join(unset)} must be set in production (the development"
                    " defaults point at a local broker and database)"
                )
        return self

    @model_validator(mode="after")
    def _check_document_key(self) -> CommonSettings:
        key_from_setting(self.document_key.get_secret_value())  # 32 bytes, URL-safe base64
        return self

    @model_validator(mode="after")
    def _check_keyrings(self) -> CommonSettings:
        for ids in (
            self.pseudonym_previous_keys,
            self.identity_previous_keys,
            self.person_previous_keys,
            self.document_previous_keys,
        ):
            bad = [k for k in ids if not re.fullmatch(_KEY_IDS, k)]
            if bad:
                raise ValueError("a previous key id is 1-8 lower-case letters or digits")
        self.person_keyring  # noqa: B018 - each key decodes, ids do not clash
        self.document_keyring  # noqa: B018
        self.identity_keyring  # noqa: B018
        self.pseudonym_keyring  # noqa: B018
        return self

    @property
    def pseudonym_keyring(self) -> Keyring:
        """HMAC keys of the person lookups (the current one hashes new lookups)."""
        return keyring_from_settings(
            self.pseudonym_key,
            self.pseudonym_key_id,
            self.pseudonym_previous_keys,
            decode=lambda value: value.encode("utf-8"),
        )

    @property
    def identity_keyring(self) -> Keyring:
        """Fernet keys (as their base64 text, encoded) sealing AHV numbers."""
        return keyring_from_settings(
            self.identity_key,
            self.identity_key_id,
            self.identity_previous_keys,
            decode=lambda value: value.encode("ascii"),
        )

    @property
    def person_keyring(self) -> Keyring:
        """AES-256-GCM keys wrapping the per-person keys."""
        return keyring_from_settings(
            self.person_key,
            self.person_key_id,
            self.person_previous_keys,
            decode=key_from_setting,
        )

    @property
    def document_keyring(self) -> Keyring:
        """AES-256-GCM keys sealing stored documents."""
        return keyring_from_settings(
            self.document_key,
            self.document_key_id,
            self.document_previous_keys,
            decode=key_from_setting,
        )

    @property
    def owner_database_url(self) -> str:
        """The URL migrations and owner-only operations connect with."""
        return self.migration_database_url or self.database_url

    @field_validator("oidc_issuer", mode="before")
    @classmethod
    def _issuer_empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
            if self.document_key.get_secret_value() == DEVELOPMENT_DOCUMENT_KEY:
                raise ValueError("IIZ_DOCUMENT_KEY must be set to a real key in production")
            if self.person_key.get_secret_value() == DEVELOPMENT_PERSON_KEY:
                raise ValueError("IIZ_PERSON_KEY must be set to a real key in production")
        return self
