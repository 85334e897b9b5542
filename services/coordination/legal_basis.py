"""Loads the versioned legal-basis matrix (``legal_basis.yaml``) into the policy's terms."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.policy import LegalBasisEntry, LegalBasisMatrix


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    from_kind: InstitutionKind
    to_kind: InstitutionKind
    category: DataCategory
    article: str = Field(min_length=3, max_length=200)
    inform_person: bool = False


class _Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    entries: list[_Entry] = Field(default_factory=list)


def load_legal_basis(path: Path) -> LegalBasisMatrix:
    """Parse and check the file; a malformed matrix stops the service at start."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    matrix = _Matrix.model_validate(raw)
    return LegalBasisMatrix(
        version=matrix.version,
        entries=tuple(LegalBasisEntry(**entry.model_dump()) for entry in matrix.entries),
    )
