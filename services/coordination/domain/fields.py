"""Which fields of an event belong to which data category (for minimisation).

A field belongs to the event's category unless the contract marks it with its own
(``x-datacategory``: the AHV number is ``identity``, a measure's cost is ``benefits``, an
assessment's functional limitations are ``health``). Only such marked fields can be withheld
from a recipient that receives the event; they are all optional, so a minimised event is still
valid under its schema.

A list field may mark single values instead (``x-datacategory-values``: the barrier ``health``
is ``health``). Such a value is marked as ``<path>[<value>]``; withholding it removes the value
from the list and keeps the rest, so the recipient cannot tell that anything was removed.
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
        values = extra.get("x-datacategory-values") if isinstance(extra, dict) else None
        if isinstance(values, dict):
            found.extend((f"{path}[{v}]", DataCategory(str(c))) for v, c in values.items())
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
    """A copy of JSON-like ``data`` with the dotted ``paths`` removed (a value path
    ``<path>[<value>]`` removes that value from the list and keeps the rest, in order)."""
    if not paths:
        return data
    plan = _PLANS.get(paths) if isinstance(paths, frozenset) else None
    if plan is None:
        plan = _plan(paths)
        if isinstance(paths, frozenset) and len(_PLANS) < 4096:
            _PLANS[paths] = plan
    dropped, values, nested = plan
    result = dict(data)
    for name in dropped:
        result.pop(name, None)
    for name, value in values:
        if isinstance(result.get(name), list):
            result[name] = [v for v in result[name] if v != value]
    for head, rests in nested:
        if isinstance(result.get(head), dict):
            result[head] = without_fields(result[head], rests)
    return result


# What ``without_fields`` does for a set of paths: the names to drop, the (list, value) pairs to
# drop, and per nested field the paths below it. Dropping a field and dropping values of it
# commute (either way it is gone), so the order of the paths does not matter. Memoised per
# frozen set (few distinct sets: each decision withholds a subset of the marked fields).
_Plan = tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[tuple[str, frozenset[str]], ...]]
_PLANS: dict[frozenset[str], _Plan] = {}


def _plan(paths: frozenset[str] | set[str]) -> _Plan:
    dropped: list[str] = []
    values: list[tuple[str, str]] = []
    nested: dict[str, set[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        name, value = value_path(head)
        if rest:
            nested.setdefault(head, set()).add(rest)
        elif value is None:
            dropped.append(name)
        else:
            values.append((name, value))
    return (
        tuple(dropped),
        tuple(values),
        tuple((head, frozenset(rests)) for head, rests in nested.items()),
    )


def has_path(data: Any, path: str) -> bool:
    """``data`` carries the dotted ``path``: a field that is present, or for a value path
    ``<path>[<value>]`` a list at ``<path>`` that holds the value."""
    head, _, rest = path.partition(".")
    name, value = value_path(head)
    if not isinstance(data, dict) or name not in data:
        return False
    if rest:
        return value is None and has_path(data[name], rest)
    return value is None or (isinstance(data[name], list) and value in data[name])


def field_path(path: str) -> str:
    """The field a path names: for a value path ``<path>[<value>]`` its list ``<path>``."""
    name, _ = value_path(path)
    return name


def value_path(part: str) -> tuple[str, str | None]:
    """One part of a dotted path: ``barriers[health]`` → (``barriers``, ``health``); a plain
    name → (name, None)."""
    name, bracket, value = part.partition("[")
    return (name, value.removesuffix("]")) if bracket else (name, None)
