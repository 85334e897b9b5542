"""Intake's settings (``IIZ_INTAKE_*`` plus the shared ``IIZ_*``)."""

from __future__ import annotations

import os
import socket

from pydantic import Field, SecretStr, model_validator

from services.common.settings import CommonSettings

DEVELOPMENT_SESSION_SECRET = "development-only-session-secret"  # noqa: S105


class IntakeSettings(CommonSettings):
    intake_db_schema: str = Field(default="intake", description="PostgreSQL schema of intake")
    intake_group_id: str = Field(default="iiz-intake")
    intake_instance_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        description="Unique per running instance; names its Kafka transactional producer",
    )
    intake_batch_size: int = Field(default=500, ge=1, le=10_000)
    intake_max_event_bytes: int = Field(default=64 * 1024, ge=1024)
    intake_max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    intake_max_batch_events: int = Field(default=500, ge=1)
    intake_rate_per_minute: int = Field(
        default=600, ge=1, description="HTTP events/min/institution"
    )
    intake_session_secret: SecretStr = Field(default=SecretStr(DEVELOPMENT_SESSION_SECRET))
    intake_http_port: int = Field(default=8081, ge=1, le=65535, description="HTTP door port")
    intake_max_document_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        description="Largest upload the web form hashes (the content is never stored)",
    )

    @model_validator(mode="after")
    def _refuse_development_session_secret_in_production(self) -> IntakeSettings:
        secret = self.intake_session_secret.get_secret_value()
        if self.environment == "production" and (
            secret == DEVELOPMENT_SESSION_SECRET or len(secret) < 32
        ):
            raise ValueError("IIZ_INTAKE_SESSION_SECRET must be a real secret (>= 32 characters)")
        return self
