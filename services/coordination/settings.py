"""Coordination's settings (``IIZ_COORDINATION_*`` plus the shared ``IIZ_*``)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from schemas.topics import CASE_EVENTS, DELIVERY_OUTCOMES
from services.common.settings import CommonSettings
from services.coordination.domain.rules import RuleSettings

DEVELOPMENT_JWT_SECRET = "development-only-jwt-signing-key-not-for-production"  # noqa: S105
DEFAULT_LEGAL_BASIS_FILE = Path(__file__).resolve().parent / "legal_basis.yaml"


class CoordinationSettings(CommonSettings):
    coordination_db_schema: str = Field(default="coordination")
    coordination_group_id: str = Field(default="iiz-coordination")
    coordination_case_events_topic: str = Field(
        default=CASE_EVENTS, description="the canonical log (other names only for tests)"
    )
    coordination_outcomes_topic: str = Field(
        default=DELIVERY_OUTCOMES, description="notifications' reports, audited here"
    )
    coordination_instance_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}"
    )
    coordination_batch_size: int = Field(default=500, ge=1, le=10_000)
    coordination_max_event_bytes: int = Field(default=256 * 1024, ge=1024)
    coordination_grace_days: int = Field(default=30, ge=0, description="period of interest")
    coordination_exhaustion_window_days: int = Field(default=90, ge=0)
    coordination_referral_answer_working_days: int = Field(default=10, ge=1)
    coordination_referral_escalation_working_days: int = Field(default=5, ge=1)
    coordination_handoff_gap_days: int = Field(default=30, ge=0)
    coordination_legal_basis_file: Path = Field(default=DEFAULT_LEGAL_BASIS_FILE)
    coordination_outbox_lanes: int = Field(default=6, ge=1, le=1024)
    coordination_relay_batch: int = Field(default=500, ge=1)
    coordination_relay_poll_seconds: float = Field(default=1.0, gt=0)
    coordination_scheduler_interval_seconds: float = Field(default=60.0, gt=0)
    coordination_run_relay: bool = Field(default=True, description="relay in the worker")
    coordination_run_scheduler: bool = Field(default=True, description="deadlines in the worker")
    coordination_disclosure_threshold: int = Field(
        default=5, ge=2, le=100, description="committee figures: counts below it are suppressed"
    )
    coordination_metrics_as_of: dt.date | None = Field(
        default=None,
        description=(
            "committee figures: publish the periods ended before this day (None: today in"
            " Europe/Zurich); for demos and tests of simulated time only"
        ),
    )
    coordination_api_port: int = Field(default=8082, ge=1, le=65535)
    coordination_jwt_secret: SecretStr = Field(default=SecretStr(DEVELOPMENT_JWT_SECRET))
    coordination_jwt_issuer: str = Field(default="iiz-bl-dev")
    coordination_jwt_audience: str = Field(default="iiz-coordination")
    coordination_cookie_secure: bool | None = Field(
        default=None,
        description="pages' cookies Secure: None follows the request's scheme, true/false force"
        " it (true behind a proxy that terminates TLS)",
    )

    @property
    def rules(self) -> RuleSettings:
        return RuleSettings(
            grace_days=self.coordination_grace_days,
            exhaustion_window_days=self.coordination_exhaustion_window_days,
            referral_answer_working_days=self.coordination_referral_answer_working_days,
            referral_escalation_working_days=self.coordination_referral_escalation_working_days,
            handoff_gap_days=self.coordination_handoff_gap_days,
        )

    @model_validator(mode="after")
    def _refuse_development_jwt_secret_in_production(self) -> CoordinationSettings:
        secret = self.coordination_jwt_secret.get_secret_value()
        if self.environment == "production" and (
            secret == DEVELOPMENT_JWT_SECRET or len(secret) < 32
        ):
            raise ValueError("IIZ_COORDINATION_JWT_SECRET must be a real secret (>= 32 chars)")
        return self
