"""Loads the versioned legal-basis matrix into the policy's terms.

Two files ship: ``legal_basis.yaml`` (empty, the default: every exchange needs a consent) and the
opt-in BL profile ``legal_basis.bl.yaml`` (``IIZ_COORDINATION_LEGAL_BASIS_FILE``). An entry cites
its ``article`` and may carry the article's ``text`` and its ``source`` (for the notice letters);
a file may name its review ``status`` and hold the texts once under ``texts`` (YAML anchors the
entries refer to). Anything else is refused: a malformed matrix stops the service at start.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.policy import LegalBasisEntry, LegalBasisMatrix

DEFAULT_FILE = Path(__file__).resolve().parent / "legal_basis.yaml"
BL_PROFILE = Path(__file__).resolve().parent / "legal_basis.bl.yaml"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    from_kind: InstitutionKind
    to_kind: InstitutionKind
    category: DataCategory
    article: str = Field(min_length=3, max_length=200)
    inform_person: bool = False
    source: str = Field(default="", max_length=2000)
    text: str = Field(default="", max_length=8000)


class _Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    status: str = Field(default="", max_length=64)
    texts: dict[str, str] = Field(default_factory=dict)  # anchors only; entries carry them
    entries: list[_Entry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unambiguous(self) -> _Matrix:
        """One entry per (from, to, category) — the policy takes the first — and one wording
        per article (a letter quotes the article's text)."""
        seen: set[tuple[str, str, str]] = set()
        wording: dict[str, tuple[str, str]] = {}
        for e in self.entries:
            key = (e.from_kind.value, e.to_kind.value, e.category.value)
            if key in seen:
                raise ValueError(f"two entries for {' -> '.join(key[:2])}, {key[2]}")
            seen.add(key)
            if wording.setdefault(e.article, (e.text, e.source)) != (e.text, e.source):
                raise ValueError(f"article {e.article!r} is cited with two different texts")
        return self


def load_legal_basis(path: Path) -> LegalBasisMatrix:
    """Parse and check the file; a malformed matrix stops the service at start."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    matrix = _Matrix.model_validate(raw)
    return LegalBasisMatrix(
        version=matrix.version,
        status=matrix.status,
        entries=tuple(LegalBasisEntry(**entry.model_dump()) for entry in matrix.entries),
    )
