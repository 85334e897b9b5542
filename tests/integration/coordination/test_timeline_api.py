"""The timeline API on the real PostgreSQL (and Kafka for notes): who sees which case, how much
of it, and that every read leaves exactly one audit row.

The shared case (one person, bus partition 0):
    0 rav  case.opened                  2026-03-03
    1 rav  consent.granted rav+iv: case-admin, employment, benefits (no health)
    2 rav  benefit.granted (ALV)        2026-03-05
    3 rav  referral.requested → iv      2026-03-06  (iv joins, invited)
    4 iv   referral.accepted            2026-03-07  (iv engaged: parallel to rav)
    5 iv   assessment.completed with health_limitations
    6 rav  referral.requested → assessmentcenter, answer due 2026-03-09
    7 rav  measure.started              2026-03-10  (the assessmentcenter referral is overdue)
berufsbildung is never involved.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord

from schemas.codec import from_kafka
from schemas.events import (
    BenefitGranted,
    CaseOpened,
)
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import (
    BenefitKind,
)
from services.coordination import audit
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from tests.ahv_scan import find_valid_ahv_numbers
from tests.case_story import HEALTH_TEXT, CaseStory, iv_in_parallel
from tests.conftest import LogCollector
from tests.kafka_tools import end_offsets, read_until
from tests.tokens import foreign_token, mint_token

UNKNOWN_CASE = "IIZ-2099-999999"


@dataclass
class SharedCase:
    settings: CoordinationSettings
    client: httpx.AsyncClient
    story: CaseStory
    number: str

    def headers(self, institution: str, role: str = "coordinator", user: str = "anna") -> Any:
        token = mint_token(self.settings, user, institution, role, dt.timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    async def get(
        self, path: str, reader: str = "rav", role: str = "coordinator", **params: Any
    ) -> httpx.Response:
        """GET as ``role`` at institution ``reader``; keyword arguments are query parameters."""
        return await self.client.get(path, params=params, headers=self.headers(reader, role))


async def feed(settings: CoordinationSettings, records: list[BusRecord]) -> None:
    """Run records through coordination's batch processor, as the consumer would."""
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        await runtime.processor().process(records)
    finally:
        await runtime.stop()


def bus_records(story: CaseStory, partition: int = 0) -> list[BusRecord]:
    return [
        BusRecord(CASE_EVENTS, partition, offset, r.key, r.value, r.headers)
        for offset, r in enumerate(story.records())
    ]


@pytest.fixture
async def case(
    coordination_settings: CoordinationSettings, client: httpx.AsyncClient, db: asyncpg.Pool
) -> SharedCase:
    story = CaseStory(7)
    iv_in_parallel(story)
    await feed(coordination_settings, bus_records(story))
    number = await db.fetchval(
        "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
    )
    return SharedCase(coordination_settings, client, story, number)


async def audit_count(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM audit_log"))


def positions(response: httpx.Response) -> list[int]:
    return [entry["position"] for entry in response.json()["entries"]]


# ----- object-level authorisation ----------------------------------------------------------


async def test_an_uninvolved_institution_gets_the_same_404_as_for_an_unknown_case(
    case: SharedCase,
) -> None:
    routes: list[tuple[str, dict[str, Any]]] = [
        ("", {}),
        ("/timeline", {}),
        ("/state", {"as_of": 3}),
    ]
    for route, params in routes:
        unknown = await case.get(f"/v1/cases/{UNKNOWN_CASE}{route}", "berufsbildung", **params)
        hidden = await case.get(f"/v1/cases/{case.number}{route}", "berufsbildung", **params)
        seen = await case.get(f"/v1/cases/{case.number}{route}", "rav", **params)

        assert (unknown.status_code, hidden.status_code, seen.status_code) == (404, 404, 200)
        assert hidden.content == unknown.content
        assert hidden.headers["content-type"] == "application/problem+json"
        assert hidden.json()["reason"] == "case_not_found"

    note = {"text": "Bitte Rückruf", "purpose": "case-coordination"}
    unknown_note = await case.client.post(
        f"/v1/cases/{UNKNOWN_CASE}/notes", json=note, headers=case.headers("berufsbildung")
    )
    hidden_note = await case.client.post(
        f"/v1/cases/{case.number}/notes", json=note, headers=case.headers("berufsbildung")
    )
    assert (unknown_note.status_code, hidden_note.status_code) == (404, 404)
    assert hidden_note.content == unknown_note.content == unknown.content

    search = {"ahv_number": case.story.ahv.formatted(), "purpose": "case-coordination"}
    hidden_search = await case.client.post(
        "/v1/cases/search", json=search, headers=case.headers("berufsbildung")
    )
    unknown_search = await case.client.post(
        "/v1/cases/search",
        json={**search, "ahv_number": CaseStory(99).ahv.formatted()},
        headers=case.headers("rav"),
    )
    assert hidden_search.status_code == unknown_search.status_code == 404
    assert hidden_search.content == unknown_search.content == unknown.content


async def test_the_committee_never_sees_a_case_even_of_its_own_institution(
    case: SharedCase,
) -> None:
    unknown = await case.get(f"/v1/cases/{UNKNOWN_CASE}", "rav", "committee")
    for route, params in [("", {}), ("/timeline", {}), ("/state", {"as_of": 7})]:
        response = await case.get(f"/v1/cases/{case.number}{route}", "rav", "committee", **params)
        assert response.status_code == 404
        assert response.content == unknown.content
    search = await case.client.post(
        "/v1/cases/search",
        json={"ahv_number": case.story.ahv.formatted()},
        headers=case.headers("rav", "committee"),
    )
    assert search.status_code == 404


# ----- minimisation --------------------------------------------------------------------------


async def test_rav_reads_the_iv_assessment_without_health_limitations_while_iv_sees_them(
    case: SharedCase,
) -> None:
    as_rav = await case.get(f"/v1/cases/{case.number}/timeline", "rav", "caseworker")
    as_iv = await case.get(f"/v1/cases/{case.number}/timeline", "iv", "caseworker")

    rav_entry = next(e for e in as_rav.json()["entries"] if e["position"] == 5)
    iv_entry = next(e for e in as_iv.json()["entries"] if e["position"] == 5)
    assert "health_limitations" not in rav_entry["data"]
    assert rav_entry["withheld"] == ["barriers[health]", "health_limitations"]
    assert rav_entry["data"]["recommendation"] == "Teilzeitpensum prüfen"
    assert rav_entry["basis"]["kind"] == "consent"
    assert len(rav_entry["basis"]["consent_ids"]) == 1
    assert HEALTH_TEXT not in as_rav.text
    assert iv_entry["data"]["health_limitations"] == HEALTH_TEXT
    assert iv_entry["basis"] == {"kind": "origin", "consent_ids": [], "articles": []}


async def test_an_institution_sees_only_entries_it_published_or_was_allowed_to_receive(
    case: SharedCase,
) -> None:
    as_rav = await case.get(f"/v1/cases/{case.number}/timeline", "rav")
    as_iv = await case.get(f"/v1/cases/{case.number}/timeline", "iv")
    as_centre = await case.get(f"/v1/cases/{case.number}/timeline", "assessmentcenter")

    assert positions(as_rav) == [0, 1, 2, 3, 4, 5, 6, 7]
    # iv was invited at position 3: of the person's earlier history only the consent that names
    # it (position 1: a named institution is told, so that it can confirm), the rest on rav's
    # consent.
    assert positions(as_iv) == [1, 3, 4, 5, 6, 7]
    # the Assessmentcenter is invited, but no consent names it: nothing at all.
    assert as_centre.status_code == 200
    assert positions(as_centre) == []
    assert all(e["case_number"] == case.number for e in as_rav.json()["entries"])


async def test_the_summary_shows_own_case_ref_and_consents_naming_the_reader_only(
    case: SharedCase,
) -> None:
    as_rav = (await case.get(f"/v1/cases/{case.number}", "rav")).json()
    as_iv = (await case.get(f"/v1/cases/{case.number}", "iv")).json()
    as_centre = (await case.get(f"/v1/cases/{case.number}", "assessmentcenter")).json()

    refs = {p["institution"]: p["case_ref"] for p in as_rav["participants"]}
    assert refs["rav"] == f"RAV-{case.story.pseudonym[-6:]}"
    assert refs["iv"] is None
    iv_refs = {p["institution"]: p["case_ref"] for p in as_iv["participants"]}
    assert iv_refs == {
        "rav": None,
        "iv": f"IV-{case.story.pseudonym[-6:]}",
        "assessmentcenter": None,
    }
    assert [c["status"] for c in as_rav["consents"]] == ["active"]
    assert as_centre["consents"] == []
    assert as_rav["case_number"] == case.number
    assert as_rav["case"]["lead"] == "rav"
    assert as_rav["parallel"] is True
    assert {(e["institution"], e["kind"]) for e in as_rav["current_engagements"]} == {
        ("rav", "benefit"),
        ("rav", "measure"),
        ("iv", "referral"),
    }
    # The Assessmentcenter is invited, but no consent names it: it sees its own referral and
    # that institutions work in parallel, not who pays or does what.
    assert as_centre["parallel"] is True
    assert as_centre["current_engagements"] == []
    assert [r["to_institution"] for r in as_centre["open_referrals"]] == ["assessmentcenter"]
    [overdue] = as_rav["open_referrals"]
    assert overdue["to_institution"] == "assessmentcenter"
    assert overdue["overdue"] is True
    assert as_rav["last_event_on"] == "2026-03-10"


# ----- identity --------------------------------------------------------------------------------


async def test_the_ahv_number_appears_in_no_response_url_log_or_audit_row(
    case: SharedCase, db: asyncpg.Pool, session_log_lines: LogCollector
) -> None:
    digits = case.story.ahv.digits
    lines_before = len(session_log_lines.lines)
    found = await case.client.post(
        "/v1/cases/search",
        json={"ahv_number": case.story.ahv.formatted(), "purpose": "erstgespraech"},
        headers=case.headers("iv"),
    )
    invalid_ahv = case.story.ahv.formatted()[:-1] + str((int(digits[-1]) + 1) % 10)
    refused = await case.client.post(
        "/v1/cases/search", json={"ahv_number": invalid_ahv}, headers=case.headers("iv")
    )

    assert found.status_code == 200
    assert found.json() == {"case_number": case.number, "open": True}
    assert refused.status_code == 422
    assert refused.json()["reason"] == "invalid_ahv"
    assert refused.headers["content-type"] == "application/problem+json"
    for response in (found, refused):
        assert digits not in str(response.request.url)
        assert digits[3:] not in response.text.replace(".", "")
        assert find_valid_ahv_numbers(response.text) == []
    new_lines = session_log_lines.lines[lines_before:]
    assert not any(digits in line.replace(".", "") for line in new_lines)
    rows = await db.fetch("SELECT row_to_json(a)::text AS r FROM audit_log a")
    assert not any(digits in row["r"].replace(".", "") for row in rows)


# ----- audit ----------------------------------------------------------------------------------


async def test_every_read_writes_exactly_one_audit_row(case: SharedCase, db: asyncpg.Pool) -> None:
    search = {"ahv_number": case.story.ahv.formatted(), "purpose": "fallkonferenz"}
    why = {"purpose": "fallkonferenz"}
    path = f"/v1/cases/{case.number}"
    reads: list[tuple[str, str, str, str, str, dict[str, Any], Any]] = [
        ("search-case", "POST", "/v1/cases/search", "rav", "coordinator", {}, search),
        ("read-case", "GET", path, "rav", "coordinator", why, None),
        ("read-timeline", "GET", f"{path}/timeline", "rav", "coordinator", why, None),
        ("read-state", "GET", f"{path}/state", "rav", "coordinator", {**why, "as_of": 3}, None),
        (
            "read-audit",
            "GET",
            "/v1/audit",
            "ksa",
            "auditor",
            {**why, "subject_case": case.number},
            None,
        ),
        ("read-case", "GET", path, "berufsbildung", "caseworker", why, None),
    ]
    for action, method, url, reader, role, params, body in reads:
        before = await audit_count(db)
        response = await case.client.request(
            method, url, params=params, json=body, headers=case.headers(reader, role)
        )
        assert await audit_count(db) == before + 1, action
        row = await db.fetchrow("SELECT * FROM audit_log ORDER BY seq DESC LIMIT 1")
        assert row["action"] == action
        assert row["purpose"] == "fallkonferenz"
        assert row["subject"] == case.story.pseudonym
        assert row["object"] == case.number
        detail = json.loads(row["detail"])
        assert detail["outcome"] == ("ok" if response.status_code == 200 else "denied")

    timeline_row = await db.fetchrow(
        "SELECT * FROM audit_log WHERE action = 'read-timeline' ORDER BY seq DESC LIMIT 1"
    )
    assert timeline_row["actor"] == "rav/coordinator/anna"
    assert json.loads(timeline_row["detail"]) == {
        "outcome": "ok",
        "entries": 8,
        "withheld_fields": 2,  # the assessment's barriers[health] and health_limitations
    }
    assert "consent " in timeline_row["basis"]
    assert (await audit.verify(db)).intact


async def test_the_auditor_reads_who_read_or_received_the_persons_data(
    case: SharedCase,
) -> None:
    await case.get(f"/v1/cases/{case.number}/timeline", "iv", "caseworker", purpose="abklaerung")

    report = await case.get("/v1/audit", "ksa", "auditor", subject_case=case.number)
    refused = await case.get("/v1/audit", "rav", "coordinator", subject_case=case.number)
    unknown = await case.get("/v1/audit", "ksa", "auditor", subject_case=UNKNOWN_CASE)

    assert report.status_code == 200
    rows = report.json()["rows"]
    assert sum(r["action"] == "decided" for r in rows) == 8
    assert {r["actor"] for r in rows if r["action"] == "decided"} == {"coordination"}
    read = next(r for r in rows if r["action"] == "read-timeline" and r["purpose"] == "abklaerung")
    # Another institution's user is shown by institution and role only (the KSA's officer
    # has no business with the IV-Stelle's user references) ...
    assert (read["actor"], read["purpose"], read["object"]) == (
        "iv/caseworker",
        "abklaerung",
        case.number,
    )
    assert read["basis"].startswith("involved: participant")
    others = [r["actor"] for r in rows if "/" in r["actor"] and not r["actor"].startswith("ksa/")]
    assert others
    assert all(actor.count("/") == 1 for actor in others)
    again = await case.get("/v1/audit", "ksa", "auditor", subject_case=case.number)
    actors = [r["actor"] for r in again.json()["rows"] if r["action"] == "read-audit"]
    assert "ksa/auditor/anna" in actors  # ... its own institution's users with their reference
    assert "rav/coordinator" in actors  # (the refused read above)
    # ... and the IV-Stelle's officer sees the IV-Stelle's user.
    at_iv = await case.get("/v1/audit", "iv", "auditor", subject_case=case.number)
    iv_read = next(
        r
        for r in at_iv.json()["rows"]
        if r["action"] == "read-timeline" and r["purpose"] == "abklaerung"
    )
    assert iv_read["actor"] == "iv/caseworker/anna"
    assert "ksa/auditor" in [r["actor"] for r in at_iv.json()["rows"]]
    assert refused.status_code == 403
    assert refused.json()["reason"] == "role_not_allowed"
    assert unknown.status_code == 404


# ----- paging, filters, past state -------------------------------------------------------------


async def test_the_timeline_pages_by_bus_position(case: SharedCase) -> None:
    path = f"/v1/cases/{case.number}/timeline"
    first = await case.get(path, limit=3)
    second = await case.get(path, limit=3, after=first.json()["next_after"])
    last = await case.get(path, limit=3, after=second.json()["next_after"])

    assert (positions(first), first.json()["next_after"]) == ([0, 1, 2], 2)
    assert (positions(second), second.json()["next_after"]) == ([3, 4, 5], 5)
    assert (positions(last), last.json()["next_after"]) == ([6, 7], None)


async def test_the_timeline_filters_by_business_date_category_and_origin(
    case: SharedCase,
) -> None:
    path = f"/v1/cases/{case.number}/timeline"

    by_dates = await case.get(path, **{"from": "2026-03-05", "to": "2026-03-06"})
    by_category = await case.get(path, category="benefits")
    by_origin = await case.get(path, institution="iv")
    bad_category = await case.get(path, category="gesundheit")

    assert positions(by_dates) == [2, 3]
    assert positions(by_category) == [2]
    assert positions(by_origin) == [4, 5]
    assert bad_category.status_code == 422
    assert bad_category.json()["reason"] == "invalid_request"


async def test_the_state_before_the_referral_was_answered_differs_from_now(
    case: SharedCase,
) -> None:
    then = (await case.get(f"/v1/cases/{case.number}/state", as_of=3)).json()
    now = (await case.get(f"/v1/cases/{case.number}")).json()
    at_the_end = (await case.get(f"/v1/cases/{case.number}/state", as_of=7)).json()

    assert then["as_of_position"] == 3
    assert [r["to_institution"] for r in then["open_referrals"]] == ["iv"]
    assert then["open_referrals"][0]["overdue"] is False
    assert then["parallel"] is False
    assert [p["via_referral"] for p in then["participants"] if p["institution"] == "iv"] == [True]
    assert [r["to_institution"] for r in now["open_referrals"]] == ["assessmentcenter"]
    assert now["parallel"] is True
    # Folding the whole timeline afresh gives what coordination holds now; only the day it is
    # judged on differs (a past state on its newest event's date, the current one on today).
    assert at_the_end["judged_on"] == at_the_end["last_event_on"] == "2026-03-10"
    today = {"as_of_position": None, "read_on": now["read_on"], "judged_on": now["judged_on"]}
    assert {**at_the_end, **today} == now


async def test_the_state_before_the_case_was_opened_has_no_case(case: SharedCase) -> None:
    story = CaseStory(8)
    story.rav(BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=dt.date(2026, 1, 5))
    story.rav(CaseOpened)
    await feed(case.settings, bus_records(story, partition=1))
    found = await case.client.post(
        "/v1/cases/search", json={"ahv_number": story.ahv.formatted()}, headers=case.headers("rav")
    )
    number = found.json()["case_number"]

    before = (await case.get(f"/v1/cases/{number}/state", as_of=0)).json()

    assert before["case"] is None
    assert before["case_number"] == number
    assert [(e["institution"], e["kind"]) for e in before["current_engagements"]] == [
        ("rav", "benefit")
    ]


# ----- authentication ----------------------------------------------------------------------------


async def test_missing_invalid_and_expired_tokens_get_401_with_their_reason(
    case: SharedCase,
) -> None:
    path = f"/v1/cases/{case.number}"
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    expired = mint_token(
        case.settings, "anna", "rav", "coordinator", dt.timedelta(hours=1), now=long_ago
    )
    forged = foreign_token(case.settings, "anna", "rav", "coordinator")

    answers = {
        "token_missing": await case.client.get(path),
        "token_invalid": await case.client.get(path, headers={"Authorization": "Bearer abc"}),
        "token_expired": await case.client.get(
            path, headers={"Authorization": f"Bearer {expired}"}
        ),
    }
    answers_forged = await case.client.get(path, headers={"Authorization": f"Bearer {forged}"})

    for reason, response in answers.items():
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["reason"] == reason
    assert answers_forged.json()["reason"] == "token_invalid"


# ----- notes -----------------------------------------------------------------------------------


async def test_a_note_is_published_as_a_canonical_event_and_reaches_the_timeline(
    case: SharedCase,
) -> None:
    start = await end_offsets(case.settings, [CASE_EVENTS])
    response = await case.client.post(
        f"/v1/cases/{case.number}/notes",
        json={"text": "Runder Tisch am 20.3. vereinbart.", "purpose": "fallkonferenz"},
        headers=case.headers("rav", "caseworker"),
    )
    assert response.status_code == 202
    event_id: str = response.json()["event_id"]

    def is_note(record: ConsumerRecord[bytes, bytes]) -> bool:
        return dict(record.headers).get("ce_id") == event_id.encode()

    records = await read_until(case.settings, start, lambda found: any(map(is_note, found)))
    record: ConsumerRecord[bytes, bytes] = next(r for r in records if is_note(r))
    event = from_kafka(record.key, record.value, record.headers)
    assert event.type == "ch.bl.iiz.coordination.note.added.v1"
    assert event.source == "/iiz/bl/rav"
    assert event.subject == case.story.pseudonym
    assert record.key == case.story.pseudonym.encode()
    assert event.data.text == "Runder Tisch am 20.3. vereinbart."
    assert event.data.person.case_ref == f"RAV-{case.story.pseudonym[-6:]}"
    assert event.data.person.ahv_number is None

    # It travels like any event: once coordination has it, iv reads it on rav's consent.
    await feed(
        case.settings,
        [BusRecord(CASE_EVENTS, 0, 8, record.key, record.value, tuple(record.headers))],
    )
    as_iv = await case.get(f"/v1/cases/{case.number}/timeline", "iv", after=7)
    [note] = as_iv.json()["entries"]
    assert note["event_id"] == event_id
    assert note["data"]["text"] == "Runder Tisch am 20.3. vereinbart."
    assert note["basis"]["kind"] == "consent"


async def test_auditors_add_no_notes_and_notes_hold_no_ahv_number(case: SharedCase) -> None:
    path = f"/v1/cases/{case.number}/notes"
    by_auditor = await case.client.post(
        path, json={"text": "Hallo"}, headers=case.headers("rav", "auditor")
    )
    with_ahv = await case.client.post(
        path,
        json={"text": f"Person {case.story.ahv.formatted()} angerufen"},
        headers=case.headers("rav"),
    )

    assert by_auditor.status_code == 403
    assert by_auditor.json()["reason"] == "role_not_allowed"
    assert with_ahv.status_code == 422
    assert with_ahv.json()["reason"] == "ahv_in_text"
    assert case.story.ahv.digits[3:] not in with_ahv.text.replace(".", "")


# ----- text PostgreSQL cannot store -----------------------------------------------------------

CANNOT_BE_STORED = "contains a character that cannot be stored"


def assert_refused_422(response: httpx.Response, where: str, code_point: str = "U+0000") -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["reason"] == "invalid_request"
    assert problem["type"] == "https://iiz.bl.ch/problems/invalid_request"
    assert problem["detail"] == f"{where}: {CANNOT_BE_STORED} ({code_point})"


async def test_a_note_with_a_nul_character_is_refused_422_and_nothing_is_published(
    case: SharedCase, db: asyncpg.Pool
) -> None:
    path = f"/v1/cases/{case.number}/notes"
    before = await audit_count(db)

    in_text = await case.client.post(
        path, json={"text": "Rückruf\x00 vereinbart"}, headers=case.headers("rav")
    )
    in_purpose = await case.client.post(
        path, json={"text": "Rückruf", "purpose": "fall\x00konferenz"}, headers=case.headers("rav")
    )

    assert_refused_422(in_text, "body.text")
    assert_refused_422(in_purpose, "body.purpose")
    assert "vereinbart" not in in_text.text
    assert await audit_count(db) == before  # the route never ran: nothing published or read


async def test_a_note_with_a_lone_surrogate_is_refused_422(case: SharedCase) -> None:
    response = await case.client.post(
        f"/v1/cases/{case.number}/notes",
        content=b'{"text": "halb \\ud800 Zeichen"}',  # valid JSON in valid UTF-8
        headers={**case.headers("rav"), "content-type": "application/json"},
    )

    assert_refused_422(response, "body.text", "U+D800")


async def test_a_nul_character_in_the_purpose_query_parameter_is_refused_422_not_500(
    case: SharedCase, db: asyncpg.Pool
) -> None:
    path = f"/v1/cases/{case.number}"
    before = await audit_count(db)

    answers = [
        await case.get(path, purpose="fall\x00konferenz"),
        await case.get(f"{path}/timeline", purpose="fall\x00konferenz"),
        await case.get(f"{path}/state", as_of=3, purpose="fall\x00konferenz"),
        await case.get("/v1/audit", "ksa", "auditor", subject_case=case.number, purpose="a\x00b"),
        await case.get("/v1/metrics", "rav", "committee", purpose="steu\x00erung"),
    ]

    for response in answers:
        assert_refused_422(response, "query.purpose")
    assert await audit_count(db) == before


async def test_a_nul_character_in_a_case_number_is_refused_422_not_500(case: SharedCase) -> None:
    in_path = await case.get(f"/v1/cases/{case.number}%00/timeline")
    in_query = await case.get("/v1/audit", "ksa", "auditor", subject_case=f"{case.number}\x00")
    note = await case.client.post(
        f"/v1/cases/{case.number}%00/notes", json={"text": "Hallo"}, headers=case.headers("rav")
    )

    assert_refused_422(in_path, "path.case_number")
    assert_refused_422(in_query, "query.subject_case")
    assert_refused_422(note, "path.case_number")


async def test_a_case_search_with_a_nul_character_in_its_purpose_is_refused_422(
    case: SharedCase,
) -> None:
    response = await case.client.post(
        "/v1/cases/search",
        json={"ahv_number": case.story.ahv.formatted(), "purpose": "erst\x00gespraech"},
        headers=case.headers("rav"),
    )

    assert_refused_422(response, "body.purpose")
    assert case.story.ahv.digits[3:] not in response.text.replace(".", "")


async def test_the_case_page_answers_a_nul_character_with_422_not_500(case: SharedCase) -> None:
    headers = case.headers("rav")

    in_path = await case.client.get(f"/fall/{case.number}%00", headers=headers)
    in_purpose = await case.client.get(
        f"/fall/{case.number}", params={"purpose": "a\x00b"}, headers=headers
    )
    opened = await case.client.get(
        "/fall", params={"nummer": f"{case.number}\x00"}, headers=headers
    )

    assert_refused_422(in_path, "path.case_number")
    assert_refused_422(in_purpose, "query.purpose")
    assert_refused_422(opened, "query.nummer")
