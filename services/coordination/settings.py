"""Coordination's settings (``IIZ_COORDINATION_*`` plus the shared ``IIZ_*``)."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from schemas.topics import AUDIT_CHECKPOINTS, CASE_EVENTS, DELIVERY_OUTCOMES
from services.common.settings import CommonSettings
from services.coordination.checkpoints import (
    DEVELOPMENT_AUDIT_SIGNING_KEY,
    CheckpointSigner,
    CheckpointVerifier,
    load_private_key,
    load_public_key,
)
from services.coordination.domain.misuse_signals import SignalRules
from services.coordination.domain.rules import RuleSettings

DEVELOPMENT_JWT_SECRET = "development-only-jwt-signing-key-not-for-production"  # noqa: S105
DEVELOPMENT_SESSION_SECRET = "development-only-pages-session-secret"  # noqa: S105
DEVELOPMENT_CELL_KEY_SECRET = "development-only-cell-key-secret-not-for-production"  # noqa: S105
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
    coordination_legal_basis_file: Path = Field(
        default=DEFAULT_LEGAL_BASIS_FILE,
        description="the legal-basis matrix (worker and API alike): the empty default, or the"
        " opt-in BL profile services/coordination/legal_basis.bl.yaml after legal review",
    )
    coordination_outbox_lanes: int = Field(default=6, ge=1, le=1024)
    coordination_relay_batch: int = Field(default=500, ge=1)
    coordination_relay_poll_seconds: float = Field(default=1.0, gt=0)
    coordination_scheduler_interval_seconds: float = Field(default=60.0, gt=0)
    coordination_run_relay: bool = Field(default=True, description="relay in the worker")
    coordination_run_scheduler: bool = Field(default=True, description="deadlines in the worker")
    coordination_disclosure_threshold: int = Field(
        default=5,
        ge=3,
        le=100,
        description=(
            "committee figures: no count from 1 to this minus 1 is published or can be worked out"
            " (at 2 a blank small count would be 1 by definition)"
        ),
    )
    coordination_cell_key_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_CELL_KEY_SECRET),
        description="committee figures: the cases' record keys of the cell-key method"
        " (HMAC-SHA-256 of the case key); a real one (>= 32 characters) in production. Never"
        " rotated with the pseudonym key: a new secret changes every published count once",
    )
    coordination_metrics_as_of: dt.date | None = Field(
        default=None,
        description=(
            "committee figures: publish the periods ended before this day (None: today in"
            " Europe/Zurich); for demos and tests of simulated time only"
        ),
    )
    coordination_today: dt.date | None = Field(
        default=None,
        description=(
            "the day overdue, active and parallel are judged on (None: today in"
            " Europe/Zurich by the clock); for demos running simulated time and tests only"
        ),
    )
    coordination_api_port: int = Field(default=8082, ge=1, le=65535)
    coordination_api_workers: int = Field(
        default=1,
        ge=1,
        le=32,
        description="API processes on the one port (uvicorn workers, each built from the"
        " environment); one reads about a hundred timelines a second (docs/benchmarks.md)",
    )
    coordination_jwt_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_JWT_SECRET),
        description="HS256 key of development tokens (`auth mint`); no HS256 token is accepted"
        " outside the development environment, whatever this is",
    )
    coordination_jwt_issuer: str | None = Field(
        default="iiz-bl-dev",
        description="every token's `iss` must equal it (the identity provider's issuer URL);"
        " empty: not checked",
    )
    coordination_jwt_audience: str | None = Field(
        default="iiz-coordination",
        description="every token's `aud` must name it; empty: not checked",
    )
    coordination_jwt_leeway_seconds: int = Field(
        default=30,
        ge=0,
        le=300,
        description="clock skew allowed between the identity provider and this service when"
        " `exp`, `iat` and `nbf` are checked",
    )
    coordination_jwt_max_lifetime_hours: float = Field(
        default=12.0, gt=0, le=24, description="longest accepted `exp` - `iat` of a token"
    )
    coordination_jwks_url: str | None = Field(
        default=None,
        description="the identity provider's JWKS: RS256/ES256 tokens are verified with the key"
        " their `kid` names; https:// (http:// outside production) or file:// (a key set on"
        " disk, re-read when it changes: tests, or keys mounted as a file); unset: no such"
        " tokens (required in production)",
    )
    coordination_audit_signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 key signing the audit checkpoints: base64 of the raw 32-byte seed"
        " or a PKCS#8 PEM; unset: the development key outside production, none in production"
        " (then the worker does not start)",
    )
    coordination_audit_signing_key_id: str = Field(default="a1", pattern=r"^[a-z0-9-]{1,16}$")
    coordination_audit_verify_keys: dict[str, str] = Field(
        default_factory=dict,
        description="verify-audit trusts these: key id -> Ed25519 public key (base64 raw or"
        " PEM), JSON; keep retired keys here; empty: the signing key's own public key",
    )
    coordination_audit_checkpoints_topic: str = Field(
        default=AUDIT_CHECKPOINTS, description="signed checkpoints (other names only for tests)"
    )
    coordination_audit_checkpoint_rows: int = Field(
        default=1000, ge=1, description="a checkpoint after at most this many new audit rows"
    )
    coordination_audit_checkpoint_seconds: float = Field(
        default=900.0, gt=0, description="and at most this long after a row was appended"
    )
    coordination_audit_checkpoint_poll_seconds: float = Field(default=5.0, gt=0)
    coordination_audit_verify_margin_rows: int = Field(
        default=1000,
        ge=0,
        description="verify-audit fails when more than checkpoint_rows + this many rows follow"
        " the newest matching checkpoint (a batch's rows come at once: a step can be longer)",
    )
    coordination_audit_verify_margin_seconds: float = Field(
        default=300.0,
        ge=0,
        description="verify-audit fails when rows after the newest matching checkpoint have"
        " waited longer than checkpoint_seconds + this (the worker may be down that long)",
    )
    coordination_run_audit_checkpoints: bool = Field(
        default=True, description="sign and publish audit checkpoints in the worker"
    )
    coordination_oidc_client_id: str = Field(
        default="iiz-seiten", description="the pages' client at the OpenID Connect provider"
    )
    coordination_oidc_client_secret: SecretStr | None = Field(
        default=None, description="its secret; with IIZ_OIDC_ISSUER: sign-in through the provider"
    )
    coordination_session_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SESSION_SECRET),
        description="signs the pages' session cookie; a real one (>= 32 characters) in production",
    )
    coordination_cookie_secure: bool | None = Field(
        default=None,
        description="pages' cookies Secure: None follows the request's scheme, true/false force"
        " it (true behind a proxy that terminates TLS)",
    )
    # Misuse signals for the data-protection officers (reading/signals.py); defaults above what
    # normal work does (docs/architecture.md, "Misuse signals").
    coordination_signals_office_start: dt.time = Field(
        default=dt.time(7, 0), description="office hours begin (Europe/Zurich)"
    )
    coordination_signals_office_end: dt.time = Field(
        default=dt.time(19, 0), description="office hours end (Europe/Zurich, exclusive)"
    )
    coordination_signals_office_days: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5],
        description="office days, ISO weekdays (1 = Monday), JSON list",
    )
    coordination_signals_holidays: list[dt.date] = Field(
        default_factory=list, description="public holidays (no office hours), JSON list of dates"
    )
    coordination_signals_max_persons_per_day: int = Field(
        default=40, ge=1, description="a user reading more distinct persons in a day is a signal"
    )
    coordination_signals_max_looks: int = Field(
        default=3, ge=1, description="more looks at one person without a new event: a signal"
    )
    coordination_signals_look_minutes: int = Field(
        default=15, ge=0, description="reads within this of a look's first read are that look"
    )
    coordination_signals_refused_run: int = Field(
        default=5, ge=2, description="this many refused look-ups in a row (within the window)"
    )
    coordination_signals_refused_minutes: int = Field(default=30, ge=1)
    coordination_signals_max_days: int = Field(
        default=93, ge=1, le=400, description="longest period the page and API evaluate at once"
    )
    coordination_run_signals_summary: bool = Field(
        default=True, description="the weekly summary e-mail to each institution's DPO"
    )
    coordination_signals_summary_weekday: int = Field(
        default=1, ge=1, le=7, description="the summary of the week before goes out on this day"
    )
    coordination_signals_summary_hour: int = Field(default=7, ge=0, le=23)
    coordination_signals_page_url: str | None = Field(
        default=None, description="base URL of the pages, for the summary's links"
    )
    coordination_smtp_host: str = Field(default="127.0.0.1")
    coordination_smtp_port: int = Field(default=8025, ge=1, le=65535)
    coordination_smtp_sender: str = Field(default="iiz-bus@example.org")
    coordination_smtp_starttls: bool = Field(default=False)

    # Retention and erasure (ops/retention.py, ops/erase.py; docs/retention.md).
    coordination_retention_years_after_closing: int = Field(
        default=5,
        ge=1,
        le=100,
        description="a person whose every case closed more than this many years ago (judged on"
        " the coordination's today) is erased by the daily retention run; an operator decision"
        " (docs/retention.md)",
    )
    coordination_retention_delivery_days: int = Field(
        default=90,
        ge=1,
        description="published outbox rows lose their payload (the delivery with the sealed AHV"
        " number), and delivery outcomes are deleted, this many days after publishing/reporting",
    )
    coordination_run_retention: bool = Field(
        default=True, description="run the retention schedule daily in the worker"
    )
    coordination_retention_check_seconds: float = Field(
        default=3600.0, gt=0, description="how often the worker checks whether today's run is due"
    )
    coordination_intake_db_schema: str = Field(
        default="intake",
        description="intake's schema, whose submission-ledger rows erasure deletes ('' : none)",
    )

    @property
    def audit_signer(self) -> CheckpointSigner | None:
        """The checkpoints' signing key (``None``: this process may not sign)."""
        key = self.coordination_audit_signing_key
        if key is None:
            if self.environment == "production":
                return None
            key = SecretStr(DEVELOPMENT_AUDIT_SIGNING_KEY)
        return CheckpointSigner(
            self.coordination_audit_signing_key_id, load_private_key(key.get_secret_value())
        )

    @property
    def cell_key_secret(self) -> bytes:
        """The committee figures' cell-key secret; refused in production while it is the
        development one or shorter than 32 characters (checked where it is used, like the
        pages' session secret, so that the other commands need not hold it)."""
        value = self.coordination_cell_key_secret.get_secret_value()
        if self.environment == "production" and (
            value == DEVELOPMENT_CELL_KEY_SECRET or len(value) < 32
        ):
            raise ValueError(
                "IIZ_COORDINATION_CELL_KEY_SECRET must be a real secret (>= 32 characters) in"
                " production"
            )
        return value.encode()

    @property
    def audit_verifier(self) -> CheckpointVerifier:
        """The public keys verify-audit trusts, by key id."""
        if self.coordination_audit_verify_keys:
            return CheckpointVerifier(
                {k: load_public_key(v) for k, v in self.coordination_audit_verify_keys.items()}
            )
        signer = self.audit_signer
        own = {} if signer is None else {signer.key_id: signer.key.public_key()}
        return CheckpointVerifier(own)

    @property
    def audit_chain(self) -> str:
        """The chain's name in its checkpoints: the schema (coordinations may share a broker)."""
        return self.coordination_db_schema

    @field_validator("coordination_audit_signing_key")
    @classmethod
    def _audit_key_is_real_in_production(
        cls, key: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if key is None:
            return None
        try:
            raw = load_private_key(key.get_secret_value()).private_bytes_raw()
        except ValueError as error:
            raise ValueError(f"IIZ_COORDINATION_AUDIT_SIGNING_KEY: {error}") from None
        development = load_private_key(DEVELOPMENT_AUDIT_SIGNING_KEY).private_bytes_raw()
        if info.data.get("environment") == "production" and raw == development:
            raise ValueError("IIZ_COORDINATION_AUDIT_SIGNING_KEY must be a real key in production")
        return key

    @field_validator("coordination_audit_verify_keys")
    @classmethod
    def _verify_keys_are_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        for key_id, text in keys.items():
            try:
                load_public_key(text)
            except ValueError as error:
                raise ValueError(f"IIZ_COORDINATION_AUDIT_VERIFY_KEYS[{key_id}]: {error}") from None
        return keys

    @property
    def signal_rules(self) -> SignalRules:
        """The misuse signals' thresholds."""
        return SignalRules(
            office_start=self.coordination_signals_office_start,
            office_end=self.coordination_signals_office_end,
            office_days=frozenset(self.coordination_signals_office_days),
            holidays=frozenset(self.coordination_signals_holidays),
            max_persons_per_day=self.coordination_signals_max_persons_per_day,
            max_looks=self.coordination_signals_max_looks,
            look_window=dt.timedelta(minutes=self.coordination_signals_look_minutes),
            refused_run=self.coordination_signals_refused_run,
            refused_window=dt.timedelta(minutes=self.coordination_signals_refused_minutes),
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

    @field_validator(
        "coordination_jwt_issuer",
        "coordination_jwt_audience",
        "coordination_jwks_url",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("coordination_jwks_url")
    @classmethod
    def _jwks_url_is_one_the_service_may_read(
        cls, url: str | None, info: ValidationInfo
    ) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        production = info.data.get("environment") == "production"
        schemes = {"https", "file"} | (set() if production else {"http"})
        if parts.scheme not in schemes:
            allowed = ", ".join(f"{s}://" for s in sorted(schemes))
            raise ValueError(f"IIZ_COORDINATION_JWKS_URL must start with {allowed}")
        if parts.scheme == "file" and (parts.netloc or not parts.path.startswith("/")):
            raise ValueError("IIZ_COORDINATION_JWKS_URL: file:///absolute/path/to/jwks.json")
        if parts.scheme != "file" and not parts.hostname:
            raise ValueError("IIZ_COORDINATION_JWKS_URL names no host")
        return url
