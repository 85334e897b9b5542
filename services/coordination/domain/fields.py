"""Which fields of an event belong to which data category (for minimisation).

A field belongs to the event's category unless the contract marks it with its own
(``x-datacategory``: the AHV number is ``identity``, a measure's cost is ``benefits``, an
assessment's functional limitations are ``health``). Only such marked fields can be withheld
from a recipient that receives the event; they are all optional, so a minimised event is still
valid under its schema.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from schemas.events.base import MessageData
from schemas.vocabulary import DataCategory


@cache
def marked_fields(data_class: type[MessageData]) -> dict[str, DataCategory]:
    """Dotted field path → its own category, for every marked field (nested models included)."""
    return dict(_marked(data_class, prefix=""))


def _marked(model: type[BaseModel], prefix: str) -> list[tuple[str, DataCategory]]:
    found: list[tuple[str, DataCategory]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "x-datacategory" in extra:
            found.append((path, DataCategory(str(extra["x-datacategory"]))))
        nested = _model_of(info.annotation)
        if nested is not None:
            found.extend(_marked(nested, prefix=f"{path}."))
    return found


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def without_fields(data: dict[str, Any], paths: frozenset[str] | set[str]) -> dict[str, Any]:
    """A copy of JSON-like ``data`` with the dotted ``paths`` removed."""
    if not paths:
        return data
    result = dict(data)
    nested: dict[str, set[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, set()).add(rest)
        else:
            result.pop(head, None)
    for head, rests in nested.items():
        if isinstance(result.get(head), dict):
            result[head] = without_fields(result[head], rests)
    return result
