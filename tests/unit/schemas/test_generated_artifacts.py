"""The published JSON Schemas and AsyncAPI document are current, and the schemas are valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas.events import EVENT_DATA_CLASSES
from schemas.generate import JSON_DIR, expected_files
from schemas.receipts import Receipt, ReceiptStatus
from tests.factories import sample_data

REGENERATE = "run `python -m schemas.generate` (then commit the result)"
SCHEMA_CLASSES = (*EVENT_DATA_CLASSES, Receipt)


@pytest.fixture(scope="module")
def expected() -> dict[Path, str]:
    return expected_files()


def _schema_of(cls: type[Any]) -> dict[str, Any]:
    path = JSON_DIR / f"{cls.cloud_event_type()}.json"
    assert path.is_file(), f"{path} is missing: {REGENERATE}"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _sample_instance(cls: type[Any]) -> dict[str, Any]:
    if cls is Receipt:
        data = Receipt(status=ReceiptStatus.REJECTED, reason="invalid_ahv", channel="http")
    else:
        data = sample_data(cls)
    dumped: dict[str, Any] = data.model_dump(mode="json", exclude_none=True)
    return dumped


def test_every_generated_file_exists_and_is_current(expected: dict[Path, str]) -> None:
    missing = [p for p in expected if not p.is_file()]
    stale = [p for p in expected if p.is_file() and p.read_text(encoding="utf-8") != expected[p]]

    assert missing == [], f"missing: {[str(p) for p in missing]}; {REGENERATE}"
    assert stale == [], f"stale: {[str(p) for p in stale]}; {REGENERATE}"
    assert len(expected) >= len(SCHEMA_CLASSES) + 1


def test_no_stale_schema_files_are_left_over(expected: dict[Path, str]) -> None:
    on_disk = set(JSON_DIR.glob("*.json"))

    assert on_disk == {p for p in expected if p.parent == JSON_DIR}, REGENERATE


@pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda c: c.name)
def test_every_event_type_has_a_schema_whose_id_is_its_dataschema(cls: type[Any]) -> None:
    schema = _schema_of(cls)

    assert schema["$id"] == cls.dataschema()
    assert schema["x-cloudevent-type"] == cls.cloud_event_type()
    assert schema["x-datacategory"] == cls.default_category.value


@pytest.mark.parametrize("cls", SCHEMA_CLASSES, ids=lambda c: c.name)
def test_every_schema_is_valid_draft_2020_12_and_accepts_a_sample(cls: type[Any]) -> None:
    schema = _schema_of(cls)

    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(_sample_instance(cls)))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("cls", EVENT_DATA_CLASSES, ids=lambda c: c.name)
def test_every_schema_rejects_a_misspelt_field_and_a_missing_person(cls: type[Any]) -> None:
    validator = Draft202012Validator(_schema_of(cls))
    instance = _sample_instance(cls)
    misspelt = {**instance, "persn": instance["person"]}
    without_person = {k: v for k, v in instance.items() if k != "person"}

    assert not validator.is_valid(misspelt)
    assert not validator.is_valid(without_person)


def test_the_schema_rejects_an_ahv_number_of_the_wrong_shape() -> None:
    cls = EVENT_DATA_CLASSES[0]
    validator = Draft202012Validator(_schema_of(cls))
    instance = _sample_instance(cls)
    instance["person"] = {**instance["person"], "ahv_number": "123.4567.8901.23"}

    assert not validator.is_valid(instance)
