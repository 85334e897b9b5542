"""Reads a registry file and turns any problem into one clear ``RegistryError``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

PACKAGED = Path(__file__).resolve().parent
ModelT = TypeVar("ModelT", bound=BaseModel)


class RegistryError(ValueError):
    """A registry file is missing, unreadable or invalid."""


def load_registry(path: Path, model: type[ModelT]) -> ModelT:
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RegistryError(f"cannot read registry {path}: {error}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:10]
        )
        raise RegistryError(f"invalid registry {path}: {problems}") from None
