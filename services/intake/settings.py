"""Intake's settings (``IIZ_INTAKE_*`` plus the shared ``IIZ_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from services.common.settings import CommonSettings

DEVELOPMENT_SESSION_SECRET = "development-only-session-secret"  # noqa: S105
# Outside production one name is enough: each door has its own transactional id, and a restart
# (a new process) keeps the name, so it fences its predecessor as in production.
DEVELOPMENT_INSTANCE_ID = "dev"


class IntakeSettings(CommonSettings):
    # A validation error must not echo the raw input: it holds the secrets.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    intake_db_schema: str = Field(default="intake", description="PostgreSQL schema of intake")
    intake_group_id: str = Field(default="iiz-intake")
    intake_instance_id: str = Field(
        default=DEVELOPMENT_INSTANCE_ID,
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description=(
            "Stable name of this instance (e.g. intake-1), the same after a restart; names its"
            " Kafka transactional producers (iiz-intake-<door>-<id>), so a restarted instance"
            " fences its predecessor. Two doors of the same kind running at once need different"
            " names. Required in production; 'dev' elsewhere."
        ),
    )
    intake_batch_size: int = Field(default=500, ge=1, le=10_000)
    intake_max_event_bytes: int = Field(default=64 * 1024, ge=1024)
    intake_max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    intake_max_batch_events: int = Field(default=500, ge=1)
    intake_rate_per_minute: int = Field(
        default=600, ge=1, description="HTTP events/min/institution"
    )
    intake_session_secret: SecretStr = Field(default=SecretStr(DEVELOPMENT_SESSION_SECRET))
    intake_oidc_client_id: str = Field(
        default="iiz-formular", description="the web form's client at the OpenID Connect provider"
    )
    intake_oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="its secret; with IIZ_OIDC_ISSUER the form offers sign-in through the"
        " provider beside the access key",
    )
    intake_http_port: int = Field(default=8081, ge=1, le=65535, description="HTTP door port")
    intake_max_document_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description="Largest upload the web form hashes (the content is never stored)",
    )

    @model_validator(mode="after")
    def _require_instance_id_in_production(self) -> IntakeSettings:
        # Set counts, the default does not (and the check runs on the validated model, so an
        # error never shows the raw input with its secrets).
        if self.environment == "production" and "intake_instance_id" not in self.model_fields_set:
            raise ValueError(
                "IIZ_INTAKE_INSTANCE_ID must be set in production: a stable name per running"
                " intake instance (e.g. intake-1) that stays the same across restarts, so a"
                " restarted instance fences its predecessor's Kafka transactions"
            )
        return self

    @model_validator(mode="after")
    def _refuse_development_session_secret_in_production(self) -> IntakeSettings:
        secret = self.intake_session_secret.get_secret_value()
        if self.environment == "production" and (
            secret == DEVELOPMENT_SESSION_SECRET or len(secret) < 32
        ):
            raise ValueError("IIZ_INTAKE_SESSION_SECRET must be a real secret (>= 32 characters)")
        return self
