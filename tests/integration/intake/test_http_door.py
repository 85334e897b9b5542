"""Intake's HTTP door on the real broker and database: receipts, problems, limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from schemas.codec import from_kafka
from schemas.envelope import CloudEvent
from schemas.events import CaseOpened, ReferralRequested
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.intake.settings import IntakeSettings
from services.intake.submission import canonical_id
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import sample_event, valid_ahv
from tests.integration.intake.conftest import HttpApp, http_intake
from tests.kafka_tools import Record, end_offsets, read_until
from tests.sealed_records import opened

REGISTRY = load_institutions()
PROBLEM = "application/problem+json"
STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def _structured(event: CloudEvent[Any]) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude_none=True)


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _ce_id(record: Record) -> str:
    return dict(record.headers)["ce_id"].decode()


def _original_id(record: Record) -> str | None:
    found = json.loads(record.value).get("original_id")
    return found if isinstance(found, str) else None


def _wrong_check_digit(ahv: str) -> str:
    return ahv[:-1] + str((int(ahv[-1]) + 1) % 10)


async def _post(
    door: HttpApp, token: str, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await door.client.post(
        "/v1/events",
        content=json.dumps(body).encode(),
        headers={**STRUCTURED, **(headers or {}), **_auth(token)},
    )


def _assert_problem(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem: dict[str, Any] = response.json()
    assert problem["reason"] == reason
    assert problem["status"] == status
    assert problem["type"] == f"https://iiz.bl.ch/problems/{reason}"
    assert problem["title"]
    assert "Traceback" not in response.text
    return problem


async def test_a_valid_event_is_answered_202_with_an_accepted_receipt_and_is_on_the_bus(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("rav")
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(21), "case_ref": "H-1"})
    start = await end_offsets(http_door.settings, [CASE_EVENTS])
    expected = str(canonical_id(event.source, str(event.id)))

    response = await _post(http_door, token, _structured(event))

    assert response.status_code == 202, response.text
    [receipt] = response.json()["receipts"]
    assert receipt["status"] == "accepted"
    assert receipt["original_id"] == str(event.id)
    assert receipt["canonical_id"] == expected
    assert receipt["channel"].startswith("http:")
    records = await read_until(
        http_door.settings, start, lambda rs: any(_ce_id(r) == expected for r in rs)
    )
    [canonical] = [r for r in records if _ce_id(r) == expected]
    [plain] = await opened(http_door.settings, [canonical])
    decoded = from_kafka(plain.key, plain.value, plain.headers)
    assert decoded.type == event.type
    assert decoded.data.person.ahv_number is None
    assert find_valid_ahv_numbers(plain.value.decode()) == []
    assert find_valid_ahv_numbers(canonical.value.decode("latin-1")) == []  # sealed on the bus


async def test_a_batch_with_one_bad_event_is_answered_202_with_one_receipt_per_event(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("rav")
    good = [
        sample_event(CaseOpened, person={"ahv_number": valid_ahv(22), "case_ref": "B-1"}),
        sample_event(CaseOpened, person={"ahv_number": valid_ahv(23), "case_ref": "B-2"}),
    ]
    bad = sample_event(CaseOpened, person={"ahv_number": valid_ahv(24), "case_ref": "B-3"})
    bad_body = _structured(bad)
    bad_body["data"]["person"]["ahv_number"] = _wrong_check_digit(valid_ahv(24))
    start = await end_offsets(http_door.settings, [INTAKE_REJECTED])

    response = await _post(
        http_door, token, [_structured(good[0]), bad_body, _structured(good[1])], BATCH
    )

    assert response.status_code == 202, response.text
    receipts = response.json()["receipts"]
    assert [(r["original_id"], r["status"], r.get("reason")) for r in receipts] == [
        (str(good[0].id), "accepted", None),
        (str(bad.id), "rejected", "invalid_ahv"),
        (str(good[1].id), "accepted", None),
    ]
    dead = await read_until(
        http_door.settings,
        start,
        lambda rs: any(dict(r.headers)["iiz_original_id"] == str(bad.id).encode() for r in rs),
    )
    assert any(dict(r.headers)["iiz_reason"] == b"invalid_ahv" for r in dead)


async def test_a_request_without_or_with_an_unknown_token_is_refused_401_unknown_sender(
    http_door: HttpApp,
) -> None:
    body = json.dumps(_structured(sample_event(CaseOpened))).encode()

    missing = await http_door.client.post("/v1/events", content=body, headers=STRUCTURED)
    unknown = await http_door.client.post(
        "/v1/events", content=body, headers={**STRUCTURED, **_auth("iiz_no-such-token")}
    )

    for response in (missing, unknown):
        _assert_problem(response, 401, "unknown_sender")
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_revoked_token_is_refused_401_unknown_sender(http_door: HttpApp) -> None:
    token = await http_door.issue_token("rav")
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(25), "case_ref": "R-1"})
    assert (await _post(http_door, token, _structured(event))).status_code == 202
    await http_door.revoke_token(token)

    response = await _post(http_door, token, _structured(sample_event(CaseOpened)))

    _assert_problem(response, 401, "unknown_sender")


async def test_an_event_with_the_source_of_another_institution_is_refused_403_and_dead_lettered(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("sozialhilfe-2829")
    event = sample_event(CaseOpened, source="/iiz/bl/rav")
    delivery = REGISTRY.by_id["sozialhilfe-2829"].delivery_topic
    start = await end_offsets(http_door.settings, [INTAKE_REJECTED, delivery])

    response = await _post(http_door, token, _structured(event))

    problem = _assert_problem(response, 403, "source_mismatch")
    assert problem["receipt"]["status"] == "rejected"
    assert problem["receipt"]["reason"] == "source_mismatch"
    original = str(event.id)

    def answered(records: list[Record]) -> bool:
        dead = any(
            r.topic == INTAKE_REJECTED and dict(r.headers)["iiz_original_id"] == original.encode()
            for r in records
        )
        return dead and any(_original_id(r) == original for r in records if r.topic == delivery)

    records = await read_until(http_door.settings, start, answered)

    dead = [r for r in records if r.topic == INTAKE_REJECTED]
    assert any(dict(r.headers)["iiz_reason"] == b"source_mismatch" for r in dead)


async def test_an_invalid_ahv_number_is_refused_422_without_echoing_it(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("rav")
    wrong = _wrong_check_digit(valid_ahv(26))
    body = _structured(sample_event(CaseOpened))
    body["data"]["person"]["ahv_number"] = wrong

    response = await _post(http_door, token, body)

    problem = _assert_problem(response, 422, "invalid_ahv")
    assert problem["receipt"]["reason"] == "invalid_ahv"
    assert wrong not in response.text
    assert wrong.replace(".", "") not in response.text


async def test_a_body_that_is_not_json_is_refused_400_not_json(http_door: HttpApp) -> None:
    token = await http_door.issue_token("rav")

    response = await http_door.client.post(
        "/v1/events",
        content=b'{"specversion": "1.0", "id": ',
        headers={**STRUCTURED, **_auth(token)},
    )

    problem = _assert_problem(response, 400, "not_json")
    assert problem["receipt"]["status"] == "rejected"


async def test_a_request_over_the_size_limit_is_refused_413_by_length_or_while_streaming(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("rav")
    limit = http_door.settings.intake_max_request_bytes
    too_much = b"[" + b" " * limit + b"]"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream is capped
        for start in range(0, len(too_much), 64 * 1024):
            yield too_much[start : start + 64 * 1024]

    declared = await http_door.client.post(
        "/v1/events", content=too_much, headers={**BATCH, **_auth(token)}
    )
    streamed = await http_door.client.post(
        "/v1/events", content=chunks(), headers={**BATCH, **_auth(token)}
    )

    _assert_problem(declared, 413, "too_large")
    _assert_problem(streamed, 413, "too_large")


async def test_a_batch_longer_than_allowed_is_refused_413(http_door: HttpApp) -> None:
    token = await http_door.issue_token("rav")
    events = [{}] * (http_door.settings.intake_max_batch_events + 1)

    response = await _post(http_door, token, events, BATCH)

    _assert_problem(response, 413, "too_large")


async def test_events_over_the_rate_limit_are_refused_429_with_retry_after(
    intake_settings: IntakeSettings,
) -> None:
    settings = intake_settings.model_copy(update={"intake_rate_per_minute": 3})
    async with http_intake(settings) as door:
        token = await door.issue_token("rav")
        batch = [
            _structured(
                sample_event(
                    CaseOpened, person={"ahv_number": valid_ahv(30 + i), "case_ref": f"L-{i}"}
                )
            )
            for i in range(3)
        ]
        assert (await _post(door, token, batch, BATCH)).status_code == 202

        response = await _post(door, token, _structured(sample_event(CaseOpened)))

        _assert_problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        other = await door.issue_token("iv")
        iv_event = sample_event(CaseOpened, source="/iiz/bl/iv")
        assert (await _post(door, other, _structured(iv_event))).status_code == 202


async def test_resubmitting_an_event_is_answered_with_a_duplicate_receipt(
    http_door: HttpApp,
) -> None:
    token = await http_door.issue_token("rav")
    event = sample_event(ReferralRequested, person={"ahv_number": valid_ahv(27), "case_ref": "D-7"})
    first = await _post(http_door, token, _structured(event))

    again = await _post(http_door, token, _structured(event))

    expected = str(canonical_id(event.source, str(event.id)))
    assert first.status_code == again.status_code == 202
    assert [(r["status"], r["canonical_id"]) for r in first.json()["receipts"]] == [
        ("accepted", expected)
    ]
    assert [(r["status"], r["canonical_id"]) for r in again.json()["receipts"]] == [
        ("duplicate", expected)
    ]


async def test_an_unsupported_media_type_is_refused_415(http_door: HttpApp) -> None:
    token = await http_door.issue_token("rav")

    response = await http_door.client.post(
        "/v1/events", content=b"<event/>", headers={"content-type": "text/xml", **_auth(token)}
    )

    _assert_problem(response, 415, "unsupported_media_type")


async def test_the_openapi_description_publishes_the_endpoint_and_the_problem_schema(
    http_door: HttpApp,
) -> None:
    response = await http_door.client.get("/openapi.json")
    docs = await http_door.client.get("/docs")

    assert response.status_code == 200
    assert docs.status_code == 200
    spec = response.json()
    post = spec["paths"]["/v1/events"]["post"]
    assert post["tags"] == ["events"]
    assert {"202", "400", "401", "403", "413", "422", "429"} <= set(post["responses"])
    assert post["responses"]["401"]["content"][PROBLEM]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "reason" in spec["components"]["schemas"]["Problem"]["properties"]
    assert "application/cloudevents-batch+json" in post["requestBody"]["content"]


async def test_liveness_and_readiness_answer_when_database_and_broker_are_up(
    http_door: HttpApp,
) -> None:
    live = await http_door.client.get("/healthz")
    ready = await http_door.client.get("/readyz")

    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}


async def test_an_unknown_path_is_answered_with_a_problem(http_door: HttpApp) -> None:
    response = await http_door.client.get(f"/v1/{uuid.uuid4()}")

    _assert_problem(response, 404, "not_found")
