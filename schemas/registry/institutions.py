"""The institution registry: who may publish and receive, under which source, on which topics."""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from schemas.events.base import INSTITUTION_ID_PATTERN
from schemas.registry.loading import PACKAGED, load_registry
from schemas.vocabulary import InstitutionKind

SOURCE_PREFIX = "/iiz/bl/"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaChannel(_Frozen):
    """Deliveries go to the institution's own delivery topic (the default)."""

    kind: Literal["kafka"] = "kafka"


class WebhookChannel(_Frozen):
    """Deliveries are POSTed, signed, to the institution's HTTPS endpoint (docs/webhooks.md)."""

    kind: Literal["webhook"]
    url: HttpUrl
    secret_env: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]+$",
        description="Name of the environment variable holding the HMAC secret.",
    )

    @model_validator(mode="after")
    def _https_unless_loopback(self) -> WebhookChannel:
        if self.url.scheme != "https" and self.url.host not in LOOPBACK_HOSTS:
            raise ValueError("a webhook URL must use https (http only on the loopback interface)")
        return self


Channel = Annotated[KafkaChannel | WebhookChannel, Field(discriminator="kind")]
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class Institution(_Frozen):
    """One partner institution."""

    id: str = Field(pattern=INSTITUTION_ID_PATTERN)
    kind: InstitutionKind
    name: str = Field(min_length=3)
    short_name: str | None = Field(
        default=None,
        min_length=2,
        max_length=30,
        description="Optional: how narrow columns of the German pages name it (else: name).",
    )
    bfs_number: int | None = Field(
        default=None, ge=2701, le=2895, description="BFS-Gemeindenummer (Basel-Landschaft)."
    )
    channel: Channel = Field(default_factory=KafkaChannel)
    coordinator_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="IIZ coordinator's address: coordinator alerts go there as an hourly digest.",
    )
    inbox_notice_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description=(
            "Optional: an address told, at most once per digest period, that something new "
            "waits in the institution's Posteingang (no personal data, no case number)."
        ),
    )
    privacy_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description=(
            "Optional: the institution's data-protection officer: the weekly summary of the "
            "misuse signals of its users goes there (no personal data)."
        ),
    )

    @model_validator(mode="after")
    def _social_services_have_a_municipality(self) -> Institution:
        is_municipal = self.kind is InstitutionKind.SOCIAL_SERVICES
        if is_municipal != (self.bfs_number is not None):
            raise ValueError("exactly the social services carry a BFS municipality number")
        if is_municipal and self.id != f"sozialhilfe-{self.bfs_number}":
            raise ValueError("a social service's id is sozialhilfe-<BFS number>")
        return self

    @property
    def short(self) -> str:
        """The short name for narrow columns: ``short_name``, else ``name``."""
        return self.short_name or self.name

    @property
    def source(self) -> str:
        """The CloudEvent ``source`` of this institution's events."""
        if self.bfs_number is not None:
            return f"{SOURCE_PREFIX}sozialhilfe/{self.bfs_number}"
        return f"{SOURCE_PREFIX}{self.id}"

    @property
    def intake_topic(self) -> str:
        return f"iiz.intake.{self.id}.v1"

    @property
    def delivery_topic(self) -> str:
        return f"iiz.deliver.{self.id}.v1"

    @property
    def kafka_principal(self) -> str:
        return f"User:iiz-{self.id}"


class InstitutionRegistry(_Frozen):
    """All institutions, with look-ups by id, source and intake topic."""

    version: int
    institutions: tuple[Institution, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> InstitutionRegistry:
        twice = [i for i, n in Counter(x.id for x in self.institutions).items() if n > 1]
        if twice:
            raise ValueError(f"institution ids listed twice: {', '.join(twice)}")
        return self

    @cached_property
    def by_id(self) -> dict[str, Institution]:
        return {i.id: i for i in self.institutions}

    @cached_property
    def by_source(self) -> dict[str, Institution]:
        return {i.source: i for i in self.institutions}

    @cached_property
    def by_intake_topic(self) -> dict[str, Institution]:
        return {i.intake_topic: i for i in self.institutions}

    def of_kind(self, kind: InstitutionKind) -> tuple[Institution, ...]:
        return tuple(i for i in self.institutions if i.kind is kind)

    def social_services_of(self, bfs_number: int) -> Institution | None:
        return self.by_id.get(f"sozialhilfe-{bfs_number}")


def load_institutions(path: Path | None = None) -> InstitutionRegistry:
    """Load the registry (the packaged file unless a path is given)."""
    return load_registry(path or PACKAGED / "institutions.yaml", InstitutionRegistry)
