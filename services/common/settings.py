"""Settings shared by every service, read from ``IIZ_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_PSEUDONYM_KEY = "development-only-pseudonym-key-not-for-production"
# A valid Fernet key that everyone can read: fine for development and tests, refused in production.
DEVELOPMENT_IDENTITY_KEY = "ZGV2ZWxvcG1lbnQtb25seS1pZGVudGl0eS1rZXkhISE="

Environment = Literal["development", "test", "production"]


class CommonSettings(BaseSettings):
    """Connection and safety settings; each service subclasses it with its own fields."""

    model_config = SettingsConfigDict(env_prefix="IIZ_", frozen=True, extra="ignore")

    environment: Environment = Field(
        default="development", description="production refuses development secrets"
    )
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092")
    database_url: str = Field(
        default="postgresql://iiz:iiz-dev-password@127.0.0.1:5433/iiz",
        description="libpq-style URL; the asyncpg driver is chosen by the code that connects",
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

    @model_validator(mode="after")
    def _refuse_development_secrets_in_production(self) -> CommonSettings:
        if self.environment == "production":
            if self.pseudonym_key.get_secret_value() == DEVELOPMENT_PSEUDONYM_KEY:
                raise ValueError("IIZ_PSEUDONYM_KEY must be set to a real secret in production")
            if len(self.pseudonym_key.get_secret_value()) < 32:
                raise ValueError("IIZ_PSEUDONYM_KEY must be at least 32 characters")
            if self.identity_key.get_secret_value() == DEVELOPMENT_IDENTITY_KEY:
                raise ValueError("IIZ_IDENTITY_KEY must be set to a real Fernet key in production")
        return self
