"""Released data schemas stay compatible: the current schemas break no released one, and the
check itself catches each kind of breaking change (it has teeth)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.compatibility import breaking_changes
from schemas.generate import JSON_DIR, json_schemas

RELEASED_DIR = Path(__file__).resolve().parents[3] / "schemas" / "released"
RELEASED = sorted(RELEASED_DIR.glob("*/*.json"))
REFERRAL = "ch.bl.iiz.referral.requested.v1.json"


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _current() -> dict[str, Any]:
    """A fresh copy of the current referral schema, as the models produce it."""
    return copy.deepcopy(json_schemas()[REFERRAL])


def test_there_is_a_released_snapshot() -> None:
    assert (RELEASED_DIR / "1.0.0" / REFERRAL).is_file()
    assert len(RELEASED) >= len(json_schemas())


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_released_schema_is_still_published_under_the_same_id(released: Path) -> None:
    current = JSON_DIR / released.name
    assert current.is_file(), f"{released.name} was released and must not disappear"
    assert released.name in json_schemas(), f"{released.name} is no longer generated"
    assert _load(current)["$id"] == _load(released)["$id"]


@pytest.mark.parametrize("released", RELEASED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_current_schema_makes_no_breaking_change(released: Path) -> None:
    current = json_schemas().get(released.name)
    assert current is not None
    assert breaking_changes(_load(released), current) == []


def test_identical_schemas_have_no_breaking_change() -> None:
    assert breaking_changes(_current(), _current()) == []


def test_a_new_optional_property_is_not_breaking() -> None:
    new = _current()
    new["properties"]["location"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(_current(), new) == []


def test_a_new_enum_value_and_a_looser_bound_are_not_breaking() -> None:
    new = _current()
    new["$defs"]["ReferralPurpose"]["enum"].append("language-assessment")
    new["properties"]["note"]["anyOf"][0]["maxLength"] = 2000
    assert breaking_changes(_current(), new) == []


def test_a_removed_property_is_reported() -> None:
    new = _current()
    del new["properties"]["note"]
    assert breaking_changes(_current(), new) == ["$.note: property removed"]


def test_a_removed_property_of_a_referenced_definition_is_reported() -> None:
    new = _current()
    del new["$defs"]["PersonRef"]["properties"]["ahv_number"]
    assert breaking_changes(_current(), new) == ["$.person.ahv_number: property removed"]


def test_a_newly_required_property_is_reported() -> None:
    new = _current()
    new["required"].append("answer_due")
    assert breaking_changes(_current(), new) == ["$.answer_due: property is now required"]


def test_a_new_required_property_is_reported() -> None:
    new = _current()
    new["properties"]["priority"] = {"type": "integer"}
    new["required"].append("priority")
    assert breaking_changes(_current(), new) == ["$.priority: property is now required"]


def test_a_removed_enum_value_is_reported() -> None:
    new = _current()
    new["$defs"]["ReferralPurpose"]["enum"].remove("zif-first-interview")
    assert breaking_changes(_current(), new) == [
        "$.purpose: enum value(s) removed: zif-first-interview"
    ]


def test_a_changed_type_is_reported() -> None:
    new = _current()
    new["properties"]["to_institution"] = {"type": "integer"}
    changes = breaking_changes(_current(), new)
    assert len(changes) == 1
    assert changes[0].startswith("$.to_institution: type changed from string to integer")


def test_a_field_that_no_longer_accepts_null_is_reported() -> None:
    new = _current()
    new["properties"]["answer_due"] = {"type": "string", "format": "date"}
    changes = breaking_changes(_current(), new)
    assert changes == [
        "$.answer_due: type changed from null | string to string (no longer accepts null)"
    ]


def test_tightened_constraints_are_reported() -> None:
    new = _current()
    new["properties"]["note"]["anyOf"][0]["maxLength"] = 100
    new["$defs"]["PersonRef"]["properties"]["case_ref"]["pattern"] = "^[0-9]+$"
    new["$defs"]["PersonRef"]["properties"]["case_ref"]["minLength"] = 3
    assert sorted(breaking_changes(_current(), new)) == [
        "$.note: maxLength lowered from 1000 to 100",
        "$.person.case_ref: minLength raised from 1 to 3",
        "$.person.case_ref: pattern changed from '^[A-Za-z0-9][A-Za-z0-9._/-]*$' to '^[0-9]+$'",
    ]


def test_a_new_numeric_bound_is_reported() -> None:
    old = json_schemas()["ch.bl.iiz.document.shared.v1.json"]
    new = copy.deepcopy(old)
    new["properties"]["size_bytes"]["maximum"] = 10_000_000
    new["properties"]["size_bytes"]["minimum"] = 1
    assert sorted(breaking_changes(old, new)) == [
        "$.size_bytes: maximum lowered from None to 10000000",
        "$.size_bytes: minimum raised from 0 to 1",
    ]


def test_a_changed_data_category_or_identity_is_reported() -> None:
    new = _current()
    new["x-datacategory"] = "employment"
    new["$id"] = new["$id"].replace(".v1.", ".v2.")
    changes = breaking_changes(_current(), new)
    assert any(c.startswith("$: $id changed") for c in changes)
    assert "$: data category changed from 'case-admin' to 'employment'" in changes


def test_a_type_of_array_items_is_checked() -> None:
    old = json_schemas()["ch.bl.iiz.consent.granted.v1.json"]
    new = copy.deepcopy(old)
    new["$defs"]["DataCategory"]["enum"].remove("health")
    new["properties"]["institutions"]["minItems"] = 3
    assert sorted(breaking_changes(old, new)) == [
        "$.categories[]: enum value(s) removed: health",
        "$.institutions: minItems raised from 2 to 3",
    ]
