"""The IIZ project registry: codes that cases are tagged with and metrics are grouped by."""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events.base import INSTITUTION_ID_PATTERN
from schemas.registry.loading import PACKAGED, load_registry


class Project(BaseModel):
    """One IIZ project (IIZ-Projekt)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")
    name: str = Field(min_length=3)
    owner: str = Field(pattern=INSTITUTION_ID_PATTERN, description="Owning institution id.")
    start: dt.date
    end: dt.date | None = None

    @model_validator(mode="after")
    def _period_is_ordered(self) -> Project:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"project {self.code} ends before it starts")
        return self

    def runs_on(self, day: dt.date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


class ProjectRegistry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    projects: tuple[Project, ...]

    @cached_property
    def by_code(self) -> dict[str, Project]:
        return {p.code: p for p in self.projects}


def load_projects(path: Path | None = None) -> ProjectRegistry:
    return load_registry(path or PACKAGED / "projects.yaml", ProjectRegistry)
