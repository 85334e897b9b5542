"""docs/contract.md stays true: its example message validates, its kcat command sends exactly
that message, and its tables name every header, status and reason code of the code."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event

from schemas.codec import from_kafka
from schemas.envelope import EXTENSION_ATTRIBUTES, CloudEvent
from schemas.errors import ReasonCode
from schemas.events.referral import ReferralRequested
from schemas.generate import JSON_DIR
from schemas.origin import check_origin
from schemas.receipts import ReceiptStatus
from schemas.registry.institutions import load_institutions
from schemas.vocabulary import DataCategory, ReferralPurpose

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "contract.md"


def _document() -> str:
    return CONTRACT.read_text(encoding="utf-8")


def _block(marker: str, language: str) -> str:
    """The fenced block of ``language`` right after ``<!-- example:<marker> -->``."""
    found = re.search(
        rf"<!-- example:{re.escape(marker)} -->\s*```{language}\n(.*?)\n```",
        _document(),
        flags=re.DOTALL,
    )
    assert found, f"no ```{language} block after <!-- example:{marker} --> in {CONTRACT}"
    return found.group(1)


def _headers() -> list[tuple[str, str]]:
    headers = []
    for line in _block("referral-headers", "text").splitlines():
        name, separator, value = line.partition(": ")
        assert separator, f"not a 'name: value' line: {line!r}"
        headers.append((name, value))
    return headers


def _data() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_block("referral-data", "json"))
    return loaded


def _kcat() -> list[str]:
    return shlex.split(_block("referral-kcat", "sh").replace("\\\n", " "))


def _options(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def _decoded() -> CloudEvent[Any]:
    key = _data()["person"]["case_ref"].encode()
    headers = [(name, value.encode()) for name, value in _headers()]
    return from_kafka(key, json.dumps(_data()).encode(), headers)


def test_the_example_is_a_valid_referral_from_liestal_to_the_zif() -> None:
    event = _decoded()
    assert event.type == "ch.bl.iiz.referral.requested.v1"
    assert event.source == "/iiz/bl/sozialhilfe/2829"
    assert event.subject is None  # partners never send it
    assert event.datacategory is DataCategory.CASE_ADMIN
    assert event.dataschema == ReferralRequested.dataschema()
    assert isinstance(event.data, ReferralRequested)
    assert event.data.to_institution == "zif"
    assert event.data.purpose is ReferralPurpose.ZIF_FIRST_INTERVIEW
    assert event.data.person.ahv_number is not None
    assert event.partitionkey == event.data.person.case_ref


def test_the_example_data_matches_the_published_json_schema() -> None:
    schema = json.loads((JSON_DIR / "ch.bl.iiz.referral.requested.v1.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(_data())


def test_the_official_sdk_reads_the_example() -> None:
    message = KafkaMessage(
        headers={name: value.encode() for name, value in _headers()},
        key=_data()["person"]["case_ref"].encode(),
        value=json.dumps(_data()).encode(),
    )
    event = from_binary_event(message)
    assert event.get_type() == "ch.bl.iiz.referral.requested.v1"
    assert event.get_attributes()["partitionkey"] == _data()["person"]["case_ref"]
    assert event.get_data() == _data()


def test_the_example_sends_no_attribute_that_only_the_bus_sets() -> None:
    names = {name for name, _ in _headers()}
    assert not names & {"ce_subject", "ce_legalbasis", "ce_consentref"}
    assert "sealed_ahv" not in _data()["person"]


def test_the_kcat_command_sends_exactly_the_example_to_the_senders_intake_topic() -> None:
    argv = _kcat()
    assert argv[:2] == ["kcat", "-P"]
    assert _options(argv, "-b") == ["127.0.0.1:9092"]
    assert _options(argv, "-k") == [_data()["person"]["case_ref"]]
    assert [h.split("=", 1) for h in _options(argv, "-H")] == [list(h) for h in _headers()]
    assert argv[-1] == "referral.json"
    [topic] = _options(argv, "-t")
    registry = load_institutions()
    sender = registry.by_intake_topic[topic]
    assert check_origin(_decoded(), registry, expected_institution_id=sender.id) == sender


def test_the_example_ahv_number_is_the_official_specimen() -> None:
    assert _data()["person"]["ahv_number"] == "756.9217.0769.85"


@pytest.mark.parametrize("code", list(ReasonCode), ids=str)
def test_every_reason_code_is_documented(code: ReasonCode) -> None:
    assert re.search(rf"^\| `{code.value}` \|", _document(), flags=re.MULTILINE)


@pytest.mark.parametrize("status", list(ReceiptStatus), ids=str)
def test_every_receipt_status_is_documented(status: ReceiptStatus) -> None:
    assert re.search(rf"^\| `{status.value}` \|", _document(), flags=re.MULTILINE)


def test_every_envelope_attribute_is_documented_as_a_header() -> None:
    attributes = set(CloudEvent.model_fields) - {"data", "datacontenttype"}
    assert set(EXTENSION_ATTRIBUTES) <= attributes
    for name in attributes:
        assert re.search(rf"^\| `ce_{name}` \|", _document(), flags=re.MULTILINE), name


@pytest.mark.parametrize("value", [c.value for c in DataCategory])
def test_every_data_category_is_documented(value: str) -> None:
    assert re.search(rf"^\| `{value}` \|", _document(), flags=re.MULTILINE)
