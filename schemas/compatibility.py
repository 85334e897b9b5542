"""Backward compatibility of a data schema against its released version (docs/contract.md,
"Versioning").

A change is breaking when a message that was valid under the released schema is no longer
valid, when a field a consumer relies on disappears, or when the meaning of the data changes
(its ``$id``, its CloudEvent type or a data category). Such a change needs a new ``...v2`` type;
``breaking_changes`` lists what would break so a test can refuse it for a ``v1`` type.

It covers the JSON Schema keywords our generated schemas use (``type``, ``anyOf``, ``enum``,
``const``, ``properties``, ``required``, ``additionalProperties``, ``items``, ``$ref`` into
local ``$defs``, string, number and array bounds, ``pattern``, ``format``) and no more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems")
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems")
_IDENTITY_KEYS = ("$id", "x-cloudevent-type")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every breaking change from ``old`` to ``new``, as ``"<json path>: <what>"`` lines."""
    found: list[str] = [
        f"$: {key} changed from {old.get(key)!r} to {new.get(key)!r}"
        for key in _IDENTITY_KEYS
        if old.get(key) != new.get(key)
    ]
    _Comparison(old, new, found).compare(old, new, "$")
    return found


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema, found: list[str]) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.found = found
        self._active_refs: list[tuple[str | None, str | None]] = []

    def report(self, path: str, what: str) -> None:
        self.found.append(f"{path}: {what}")

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        refs = (old.get("$ref"), new.get("$ref"))
        if refs != (None, None) and refs in self._active_refs:
            return  # a recursive definition, already being compared further up
        self._active_refs.append(refs)
        try:
            self._compare_resolved(_resolve(old, self.old_root), _resolve(new, self.new_root), path)
        finally:
            self._active_refs.pop()

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        if old.get("x-datacategory") != new.get("x-datacategory"):
            self.report(
                path,
                f"data category changed from {old.get('x-datacategory')!r} "
                f"to {new.get('x-datacategory')!r}",
            )
        old_branches = _branches(old, self.old_root)
        new_branches = _branches(new, self.new_root)
        old_types = set(old_branches)
        new_types = set(new_branches)
        lost = {kind for kind in old_types if _covering_type(kind, new_types) is None}
        if lost:
            self.report(
                path,
                f"type changed from {_types_text(old_types)} to {_types_text(new_types)} "
                f"(no longer accepts {', '.join(sorted(lost))})",
            )
        for kind in sorted(old_types - lost):
            covering = _covering_type(kind, new_types)
            if covering is not None and covering != "any":
                self._compare_same_type(old_branches[kind], new_branches[covering], path, kind)

    def _compare_same_type(self, old: Schema, new: Schema, path: str, kind: str) -> None:
        self._compare_values(old, new, path)
        self._compare_bounds(old, new, path)
        if kind == "string":
            for key in ("pattern", "format"):
                if key in new and old.get(key) != new[key]:
                    self.report(path, f"{key} changed from {old.get(key)!r} to {new[key]!r}")
        if kind == "object":
            self._compare_object(old, new, path)
        if kind == "array" and "items" in old and "items" in new:
            self.compare(old["items"], new["items"], f"{path}[]")

    def _compare_values(self, old: Schema, new: Schema, path: str) -> None:
        old_values = _allowed_values(old)
        new_values = _allowed_values(new)
        if new_values is None:
            return
        if old_values is None:
            self.report(path, f"restricted to the values {sorted(map(str, new_values))}")
            return
        removed = [value for value in old_values if value not in new_values]
        if removed:
            self.report(path, f"enum value(s) removed: {', '.join(map(str, removed))}")

    def _compare_bounds(self, old: Schema, new: Schema, path: str) -> None:
        for key in _LOWER_BOUNDS:
            if key in new and (key not in old or new[key] > old[key]):
                self.report(path, f"{key} raised from {old.get(key)!r} to {new[key]!r}")
        for key in _UPPER_BOUNDS:
            if key in new and (key not in old or new[key] < old[key]):
                self.report(path, f"{key} lowered from {old.get(key)!r} to {new[key]!r}")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        for name in old_props:
            if name not in new_props:
                self.report(f"{path}.{name}", "property removed")
        old_required = set(old.get("required", ()))
        for name in new.get("required", ()):
            if name not in old_required:
                self.report(f"{path}.{name}", "property is now required")
        if old.get("additionalProperties", True) is not False and (
            new.get("additionalProperties", True) is False
        ):
            self.report(path, "additional properties are no longer allowed")
        for name in old_props:
            if name in new_props:
                self.compare(old_props[name], new_props[name], f"{path}.{name}")


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow a local ``$ref`` (keeping sibling keywords such as ``description``)."""
    while "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise ValueError(f"only local references are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings} if siblings else target
    return schema


def _branches(schema: Schema, root: Schema) -> dict[str, Schema]:
    """The schema split by JSON type: ``anyOf``/``oneOf`` alternatives and ``type`` lists."""
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        shared = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
        merged: dict[str, Schema] = {}
        for alternative in alternatives:
            for kind, branch in _branches(_resolve(alternative, root), root).items():
                merged[kind] = {**shared, **branch}
        return merged
    declared = schema.get("type")
    if declared is None:
        declared = sorted({_json_type(v) for v in _allowed_values(schema) or ()}) or ["any"]
    kinds = [declared] if isinstance(declared, str) else list(declared)
    return {kind: schema for kind in kinds}


def _covering_type(kind: str, new_types: set[str]) -> str | None:
    """The type in ``new_types`` that accepts every value of ``kind`` (``None``: none does)."""
    if kind in new_types:
        return kind
    if kind == "integer" and "number" in new_types:
        return "number"
    return "any" if "any" in new_types else None


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types_text(types: set[str]) -> str:
    return " | ".join(sorted(types)) or "nothing"
