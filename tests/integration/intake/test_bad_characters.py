"""Text PostgreSQL cannot store (U+0000, unpaired surrogates) is stopped at intake's HTTP door
and web form: refused with the contract's reason code, receipted and dead-lettered, and never
published to the canonical topic where it would stall coordination."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
from aiokafka import TopicPartition

from schemas.events import CaseOpened
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.common.kafka_clients import create_reader
from services.intake.settings import IntakeSettings
from services.intake.submission import canonical_id
from tests.factories import sample_event, valid_ahv
from tests.integration.intake.conftest import HttpApp
from tests.integration.intake.form_fields import consent_fields, signed_form
from tests.kafka_tools import Record, end_offsets, read_until

PROBLEM = "application/problem+json"
STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}
CANNOT_BE_STORED = "contains a character that cannot be stored"
MUNICIPALITY = "sozialhilfe-2829"


# ----- helpers -----------------------------------------------------------------------------


def _event(seed: int, **data: Any) -> dict[str, Any]:
    person = {"ahv_number": valid_ahv(seed), "case_ref": f"NUL-{seed}"}
    event = sample_event(CaseOpened, person=person, **data)
    body: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
    return body


async def _post(door: HttpApp, body: Any, headers: dict[str, str] = STRUCTURED) -> httpx.Response:
    token = await door.issue_token("rav")
    # json.dumps escapes as \u0000 and \ud800: valid JSON in valid UTF-8, as a partner sends it.
    return await door.client.post(
        "/v1/events",
        content=json.dumps(body).encode(),
        headers={**headers, "authorization": f"Bearer {token}"},
    )


def _assert_problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["reason"] == reason
    assert problem["type"] == f"https://iiz.bl.ch/problems/{reason}"
    assert problem["receipt"]["status"] == "rejected"
    assert problem["receipt"]["reason"] == reason
    return problem


def _canonical_id(body: dict[str, Any]) -> str:
    return str(canonical_id(body["source"], body["id"]))


async def _dead_letter_of(
    door: HttpApp, start: dict[TopicPartition, int], original_id: str
) -> Record:
    def found(records: list[Record]) -> bool:
        return any(_header(r, "iiz_original_id") == original_id for r in records)

    records = await read_until(door.settings, start, found)
    return next(r for r in records if _header(r, "iiz_original_id") == original_id)


async def _canonical_ids_since(
    settings: IntakeSettings, start: dict[TopicPartition, int]
) -> set[str]:
    """The ids of every canonical event committed since ``start`` (positions, not counts)."""
    ends = await end_offsets(settings, [CASE_EVENTS])
    reader = create_reader(settings)
    await reader.start()
    ids: set[str] = set()
    try:
        reader.assign(list(ends))
        for tp in ends:
            reader.seek(tp, start.get(tp, 0))
        deadline = time.monotonic() + 60
        while True:  # at least one fetch: stopping a reader that never fetched is not clean
            batch = await reader.getmany(timeout_ms=200)
            ids.update(_header(r, "ce_id") or "" for part in batch.values() for r in part)
            if all([await reader.position(tp) >= end for tp, end in ends.items()]):
                break
            assert time.monotonic() < deadline, "could not read the canonical topic to its end"
    finally:
        await reader.stop()
    return ids


def _header(record: Record, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


# ----- POST /v1/events -----------------------------------------------------------------------


async def test_a_nul_character_in_the_data_is_refused_422_as_a_schema_violation_and_not_published(
    http_door: HttpApp,
) -> None:
    body = _event(301, reason="Neuanmeldung\x00 nach Umzug")
    start = await end_offsets(http_door.settings, [CASE_EVENTS, INTAKE_REJECTED])

    response = await _post(http_door, body)

    problem = _assert_problem(response, 422, "schema_violation")
    assert problem["detail"] == f"data.reason: {CANNOT_BE_STORED} (U+0000)"
    assert "Umzug" not in response.text
    dead = await _dead_letter_of(http_door, start, body["id"])
    assert _header(dead, "iiz_reason") == "schema_violation"
    assert _canonical_id(body) not in await _canonical_ids_since(http_door.settings, start)


async def test_a_nul_character_in_the_case_reference_is_refused_422_naming_the_data_field(
    http_door: HttpApp,
) -> None:
    body = _event(302)
    body["data"]["person"]["case_ref"] = "SH-302\x00"  # also the key: still a data error

    response = await _post(http_door, body)

    problem = _assert_problem(response, 422, "schema_violation")
    assert problem["detail"] == f"data.person.case_ref: {CANNOT_BE_STORED} (U+0000)"


async def test_a_nul_character_in_an_attribute_is_refused_422_as_an_invalid_attribute(
    http_door: HttpApp,
) -> None:
    body = _event(303, correlationid="vorgang\x00303")
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await _post(http_door, body)

    problem = _assert_problem(response, 422, "invalid_attribute")
    assert problem["detail"] == f"correlationid: {CANNOT_BE_STORED} (U+0000)"
    assert _canonical_id(body) not in await _canonical_ids_since(http_door.settings, start)


async def test_a_lone_surrogate_in_the_data_is_refused_422_as_a_schema_violation(
    http_door: HttpApp,
) -> None:
    body = _event(304)
    body["data"]["reason"] = "halb \ud800 Zeichen"  # JSON "\ud800": no model would take it
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await _post(http_door, body)

    problem = _assert_problem(response, 422, "schema_violation")
    assert problem["detail"] == f"data.reason: {CANNOT_BE_STORED} (U+D800)"
    assert _canonical_id(body) not in await _canonical_ids_since(http_door.settings, start)


async def test_in_a_batch_only_the_event_with_a_nul_character_is_rejected(
    http_door: HttpApp,
) -> None:
    good = [_event(305, reason="Grüezi, Übertritt nach Münchenstein"), _event(306)]
    bad = _event(307, reason="a\x00b")
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await _post(http_door, [good[0], bad, good[1]], BATCH)

    assert response.status_code == 202, response.text
    receipts = response.json()["receipts"]
    assert [(r["original_id"], r["status"], r.get("reason")) for r in receipts] == [
        (good[0]["id"], "accepted", None),
        (bad["id"], "rejected", "schema_violation"),
        (good[1]["id"], "accepted", None),
    ]
    published = await _canonical_ids_since(http_door.settings, start)
    assert {_canonical_id(g) for g in good} <= published
    assert _canonical_id(bad) not in published


# ----- the web form --------------------------------------------------------------------------


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


async def _logged_in_form(door: HttpApp, slug: str) -> str:
    """Log in as the municipality and return the form's CSRF token."""
    token = await door.issue_token(MUNICIPALITY, "Sozialdienst Schalter")
    page = await door.client.get("/formular/anmelden")
    await door.client.post(
        "/formular/anmelden", data={"token": token, "csrf_token": _csrf(page.text)}
    )
    form = await door.client.get(f"/formular/{slug}")
    assert form.status_code == 200, form.text
    return _csrf(form.text)


async def _form_dead_letter(door: HttpApp, start: dict[TopicPartition, int]) -> Record:
    def found(records: list[Record]) -> bool:
        return any((_header(r, "iiz_channel") or "").startswith("http:formular/") for r in records)

    records = await read_until(door.settings, start, found)
    return next(
        r for r in records if (_header(r, "iiz_channel") or "").startswith("http:formular/")
    )


async def test_a_nul_character_in_the_form_note_is_explained_in_german_and_not_published(
    http_door: HttpApp,
) -> None:
    csrf = await _logged_in_form(http_door, "erstgespraech")
    start = await end_offsets(http_door.settings, [CASE_EVENTS, INTAKE_REJECTED])

    response = await http_door.client.post(
        "/formular/erstgespraech",
        data={
            "csrf_token": csrf,
            "ahv_number": valid_ahv(311),
            "case_ref": "SH-2026-311",
            "note": "Bitte um Rückruf\x00 am Vormittag",
            **consent_fields(),
        },
        files=signed_form(),
    )

    assert response.status_code == 422
    assert "Die Bemerkung enthält ein unzulässiges Zeichen" in response.text
    assert "Bitte um Rückruf\ufffd am Vormittag" in response.text  # written back, shown as �
    assert "\x00" not in response.text
    dead = await _form_dead_letter(http_door, start)
    assert _header(dead, "iiz_reason") == "schema_violation"
    original_id = _header(dead, "iiz_original_id") or ""
    refused = str(canonical_id("/iiz/bl/sozialhilfe/2829", original_id))
    assert refused not in await _canonical_ids_since(http_door.settings, start)


async def test_a_nul_character_in_the_form_case_number_is_explained_in_german(
    http_door: HttpApp,
) -> None:
    csrf = await _logged_in_form(http_door, "potenzialabklaerung")

    response = await http_door.client.post(
        "/formular/potenzialabklaerung",
        data={
            "csrf_token": csrf,
            "ahv_number": valid_ahv(312),
            "case_ref": "SH\x00312",
            **consent_fields(),
        },
        files=signed_form(),
    )

    assert response.status_code == 422
    assert "Die Fallnummer enthält ein unzulässiges Zeichen" in response.text
    assert "\x00" not in response.text


def _multipart(fields: dict[str, str], filename: bytes, content: bytes) -> tuple[bytes, str]:
    """A multipart body as a hand-made client may send it: the file name's bytes unescaped
    (browsers and httpx write a NUL in a file name as ``%00``)."""
    boundary = "iiz-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="document"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: application/pdf\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def test_an_uploaded_file_name_with_a_nul_character_is_explained_in_german(
    http_door: HttpApp,
) -> None:
    csrf = await _logged_in_form(http_door, "dokument")
    fields = {"csrf_token": csrf, "ahv_number": valid_ahv(313), "case_ref": "SH-2026-313"}
    body, content_type = _multipart(fields, b"Vertrag\x00.pdf", b"%PDF-1.7\n%%EOF")
    start = await end_offsets(http_door.settings, [CASE_EVENTS, INTAKE_REJECTED])

    response = await http_door.client.post(
        "/formular/dokument", content=body, headers={"content-type": content_type}
    )

    assert response.status_code == 422, response.text
    assert "Der Dateiname enthält ein unzulässiges Zeichen" in response.text
    dead = await _form_dead_letter(http_door, start)
    assert _header(dead, "iiz_reason") == "schema_violation"
    refused = str(canonical_id("/iiz/bl/sozialhilfe/2829", _header(dead, "iiz_original_id") or ""))
    assert refused not in await _canonical_ids_since(http_door.settings, start)


async def test_an_attribute_name_with_a_lone_surrogate_is_refused_422_as_an_invalid_attribute(
    http_door: HttpApp,
) -> None:
    body = _event(308)
    body["trace\ud800id"] = "x"  # a CloudEvents extension whose name cannot be stored

    response = await _post(http_door, body)

    problem = _assert_problem(response, 422, "invalid_attribute")
    assert problem["detail"] == f"an attribute name {CANNOT_BE_STORED} (U+D800)"


async def test_json_nested_too_deeply_to_read_is_refused_400_not_json_instead_of_a_500(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("rav")
    body = b"[" * 20_000 + b"]" * 20_000  # 40 kB: under the size limit

    response = await http_door.client.post(
        "/v1/events", content=body, headers={**BATCH, "authorization": f"Bearer {token}"}
    )

    _assert_problem(response, 400, "not_json")
