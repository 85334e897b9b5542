"""Answering a referral and the Posteingang, on the real broker and database.

The story (one person, bus partition 0): Muttenz's social service opens the case, records the
person's consent (Muttenz + ZIF: case administration, integration) and registers the person
with ZIF for a first interview. ZIF answers through the API: its answer is published to the
case-event topic like a note, folded by coordination's own batch processor, and delivered to
Muttenz, whose Posteingang then lists it.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord

from schemas.ahv import contains_ahv_number
from schemas.codec import from_kafka
from schemas.events import CaseOpened, ConsentGranted, ReferralRequested
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import DataCategory, ReferralPurpose
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from tests.case_story import CaseStory
from tests.integration.coordination.test_timeline_api import feed
from tests.kafka_tools import end_offsets, read_until
from tests.tokens import mint_token

MUNICIPALITY = "sozialhilfe-2770"


@dataclass
class ZifCase:
    settings: CoordinationSettings
    client: httpx.AsyncClient
    story: CaseStory
    number: str
    referral_id: uuid.UUID
    offset: int  # the next bus position to feed
    fed: list[str] = field(default_factory=list)

    def headers(self, institution: str, role: str = "caseworker") -> Any:
        token = mint_token(self.settings, "eva", institution, role, dt.timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    @property
    def answer_path(self) -> str:
        return f"/v1/cases/{self.number}/referrals/{self.referral_id}/answer"

    async def answer(self, institution: str, body: dict[str, Any], role: str = "caseworker") -> Any:
        return await self.client.post(
            self.answer_path, json=body, headers=self.headers(institution, role)
        )

    async def fold_published(self, event_id: str, start: Any) -> None:
        """Read the published answer off the topic and let coordination fold it."""

        def is_it(record: ConsumerRecord[bytes, bytes]) -> bool:
            return dict(record.headers).get("ce_id") == event_id.encode()

        records = await read_until(self.settings, start, lambda found: any(map(is_it, found)))
        record: ConsumerRecord[bytes, bytes] = next(r for r in records if is_it(r))
        await feed(
            self.settings,
            [BusRecord(CASE_EVENTS, 0, self.offset, record.key, record.value, record.headers)],
        )
        self.offset += 1
        self.fed.append(event_id)


@pytest.fixture
async def zif_case(
    coordination_settings: CoordinationSettings, client: httpx.AsyncClient, db: asyncpg.Pool
) -> ZifCase:
    story = CaseStory(1601)
    story.by(MUNICIPALITY, CaseOpened, reason="Integrationsagenda", project_code="IAS-VAFL")
    story.by(
        MUNICIPALITY,
        ConsentGranted,
        institutions=[MUNICIPALITY, "zif"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.INTEGRATION],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1601",
    )
    referral = story.by(
        MUNICIPALITY,
        ReferralRequested,
        to_institution="zif",
        purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
        answer_due=dt.date(2026, 3, 20),
    )
    records = [
        BusRecord(CASE_EVENTS, 0, offset, r.key, r.value, r.headers)
        for offset, r in enumerate(story.records())
    ]
    await feed(coordination_settings, records)
    number = await db.fetchval(
        "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
    )
    return ZifCase(
        coordination_settings, client, story, number, referral.data.referral_id, len(records)
    )


async def audit_rows(db: asyncpg.Pool, action: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT actor, action, subject, object, basis, detail FROM audit_log"
        " WHERE action = $1 ORDER BY seq",
        action,
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def referral_status(db: asyncpg.Pool, referral_id: uuid.UUID) -> str:
    return str(
        await db.fetchval("SELECT status FROM referrals WHERE referral_id = $1", referral_id)
    )


# ----- answers -------------------------------------------------------------------------------


async def test_zif_accepts_then_completes_and_a_retry_is_the_same_event(
    zif_case: ZifCase, db: asyncpg.Pool
) -> None:
    start = await end_offsets(zif_case.settings, [CASE_EVENTS])
    accept = {"answer": "accept", "first_appointment": "2026-03-16"}
    first = await zif_case.answer("zif", accept)
    again = await zif_case.answer("zif", accept)  # not folded yet: published again, same id
    assert first.status_code == again.status_code == 202, first.text
    assert first.json()["event_id"] == again.json()["event_id"]
    assert first.json()["repeated"] is False
    event_id = first.json()["event_id"]

    await zif_case.fold_published(event_id, start)
    assert await referral_status(db, zif_case.referral_id) == "accepted"
    folded = await zif_case.answer("zif", accept)  # on the timeline: done, nothing sent
    assert folded.status_code == 202
    assert folded.json() == {**first.json(), "repeated": True}

    start = await end_offsets(zif_case.settings, [CASE_EVENTS])
    result = "Empfehlung: Deutschkurs B1 und Integrationsvorlehre ab August."
    completed = await zif_case.answer("zif", {"answer": "complete", "result": result})
    assert completed.status_code == 202, completed.text
    wanted = completed.json()["event_id"].encode()

    def is_it(record: ConsumerRecord[bytes, bytes]) -> bool:
        return bool(dict(record.headers).get("ce_id") == wanted)

    records = await read_until(zif_case.settings, start, lambda rs: any(map(is_it, rs)))
    record: ConsumerRecord[bytes, bytes] = next(r for r in records if is_it(r))
    event = from_kafka(record.key, record.value, record.headers)
    assert event.type == "ch.bl.iiz.referral.completed.v1"
    assert event.source == "/iiz/bl/zif"
    assert event.subject == zif_case.story.pseudonym
    assert event.data.result == result
    assert event.data.person.ahv_number is None
    await zif_case.fold_published(completed.json()["event_id"], start)
    assert await referral_status(db, zif_case.referral_id) == "completed"

    rows = await audit_rows(db, "answer-referral")
    assert [(r["detail"]["answer"], r["detail"]["outcome"]) for r in rows] == [
        ("accept", "ok"),
        ("accept", "ok"),
        ("accept", "ok"),
        ("complete", "ok"),
    ]
    assert {r["subject"] for r in rows} == {zif_case.story.pseudonym}
    assert all(r["actor"] == "zif/caseworker/eva" for r in rows)


async def test_only_the_addressee_answers(zif_case: ZifCase, db: asyncpg.Pool) -> None:
    accept = {"answer": "accept", "first_appointment": "2026-03-16"}
    by_sender = await zif_case.answer(MUNICIPALITY, accept)  # sees the case, not addressed
    by_outsider = await zif_case.answer("rav", accept)  # does not see the case at all
    unknown = await zif_case.client.post(
        f"/v1/cases/{zif_case.number}/referrals/{uuid.uuid4()}/answer",
        json=accept,
        headers=zif_case.headers("zif"),
    )
    by_committee = await zif_case.answer("zif", accept, role="committee")
    by_auditor = await zif_case.answer("zif", accept, role="auditor")

    assert (by_sender.status_code, by_sender.json()["reason"]) == (404, "referral_not_found")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "referral_not_found")
    assert by_sender.content == unknown.content
    assert (by_outsider.status_code, by_outsider.json()["reason"]) == (404, "case_not_found")
    assert (by_committee.status_code, by_committee.json()["reason"]) == (404, "case_not_found")
    assert (by_auditor.status_code, by_auditor.json()["reason"]) == (403, "role_not_allowed")
    assert by_sender.headers["content-type"] == "application/problem+json"
    assert await referral_status(db, zif_case.referral_id) == "open"
    outcomes = [r["detail"]["outcome"] for r in await audit_rows(db, "answer-referral")]
    assert outcomes.count("referral_not_found") == 2
    assert outcomes.count("denied") == 2  # rav and the committee: refused at the case


async def test_an_answered_referral_is_not_open_any_more(zif_case: ZifCase) -> None:
    start = await end_offsets(zif_case.settings, [CASE_EVENTS])
    declined = await zif_case.answer("zif", {"answer": "decline", "reason": "no-capacity"})
    assert declined.status_code == 202
    await zif_case.fold_published(declined.json()["event_id"], start)

    accept = await zif_case.answer("zif", {"answer": "accept", "first_appointment": "2026-03-16"})
    complete = await zif_case.answer("zif", {"answer": "complete", "result": "Kurs"})
    assert (accept.status_code, accept.json()["reason"]) == (409, "referral_not_open")
    assert (complete.status_code, complete.json()["reason"]) == (409, "referral_not_open")
    assert accept.headers["content-type"] == "application/problem+json"


async def test_an_answer_takes_exactly_the_fields_of_its_kind_and_no_ahv_number(
    zif_case: ZifCase,
) -> None:
    no_date = await zif_case.answer("zif", {"answer": "accept"})
    two_kinds = await zif_case.answer(
        "zif", {"answer": "decline", "reason": "other", "result": "x"}
    )
    bad_reason = await zif_case.answer("zif", {"answer": "decline", "reason": "keine-lust"})
    ahv = zif_case.story.ahv.formatted()
    with_ahv = await zif_case.answer("zif", {"answer": "complete", "result": f"Person {ahv}"})

    for response in (no_date, two_kinds, bad_reason):
        assert (response.status_code, response.json()["reason"]) == (422, "invalid_request")
    assert (with_ahv.status_code, with_ahv.json()["reason"]) == (422, "ahv_in_text")
    assert not contains_ahv_number(with_ahv.text)


# ----- Posteingang ---------------------------------------------------------------------------


async def test_the_posteingang_lists_only_what_was_delivered_to_me_newest_first(
    zif_case: ZifCase, db: asyncpg.Pool
) -> None:
    start = await end_offsets(zif_case.settings, [CASE_EVENTS])
    accepted = await zif_case.answer("zif", {"answer": "accept", "first_appointment": "2026-03-16"})
    await zif_case.fold_published(accepted.json()["event_id"], start)
    start = await end_offsets(zif_case.settings, [CASE_EVENTS])
    recommendation = "Empfehlung: Potenzialabklärung, danach Deutschkurs B1."
    completed = await zif_case.answer("zif", {"answer": "complete", "result": recommendation})
    await zif_case.fold_published(completed.json()["event_id"], start)
    before = len(await db.fetch("SELECT 1 FROM audit_log"))

    mine = await zif_case.client.get("/v1/inbox", headers=zif_case.headers(MUNICIPALITY))
    assert mine.status_code == 200, mine.text
    items = mine.json()["items"]
    assert [i["type"] for i in items] == [
        "ch.bl.iiz.referral.completed.v1",
        "ch.bl.iiz.referral.accepted.v1",
    ]  # its own events are not in it: only what others sent and the policy let through
    assert [i["event_id"] for i in items] == [
        completed.json()["event_id"],
        accepted.json()["event_id"],
    ]
    assert items[0]["data"]["result"] == recommendation
    assert items[0]["case_number"] == zif_case.number
    assert items[0]["read"] is False
    assert mine.json()["unread"] == 2
    assert all("sealed_ahv" not in i["data"]["person"] for i in items)

    zifs = await zif_case.client.get("/v1/inbox", headers=zif_case.headers("zif"))
    assert "ch.bl.iiz.referral.requested.v1" in [i["type"] for i in zifs.json()["items"]]
    assert all(i["origin"] == MUNICIPALITY for i in zifs.json()["items"])
    outsider = await zif_case.client.get("/v1/inbox", headers=zif_case.headers("rav"))
    assert outsider.json() == {"items": [], "unread": 0, "next_before": None}

    rows = await audit_rows(db, "read-inbox")
    assert len(await db.fetch("SELECT 1 FROM audit_log")) == before + 3
    by_actor = {r["actor"]: r for r in rows}
    municipality = by_actor[f"{MUNICIPALITY}/caseworker/eva"]
    assert municipality["subject"] == zif_case.story.pseudonym
    assert municipality["object"] == zif_case.number
    assert municipality["detail"]["entries"] == 2
    assert "consent" in municipality["basis"]
    assert by_actor["rav/caseworker/eva"]["subject"] is None  # an empty list is audited too


async def test_marking_read_counts_for_the_institution_and_ignores_foreign_ids(
    zif_case: ZifCase,
) -> None:
    start = await end_offsets(zif_case.settings, [CASE_EVENTS])
    accepted = await zif_case.answer("zif", {"answer": "accept", "first_appointment": "2026-03-16"})
    await zif_case.fold_published(accepted.json()["event_id"], start)
    event_id = accepted.json()["event_id"]

    marked = await zif_case.client.post(
        "/v1/inbox/read",
        json={"event_ids": [event_id, str(uuid.uuid4())]},
        headers=zif_case.headers(MUNICIPALITY, "coordinator"),
    )
    assert marked.status_code == 204
    seen_by_colleague = await zif_case.client.get(
        "/v1/inbox", headers=zif_case.headers(MUNICIPALITY)
    )
    assert seen_by_colleague.json()["unread"] == 0
    assert seen_by_colleague.json()["items"][0]["read"] is True
    unread_only = await zif_case.client.get(
        "/v1/inbox", params={"unread_only": "true"}, headers=zif_case.headers(MUNICIPALITY)
    )
    assert unread_only.json()["items"] == []

    committee = await zif_case.client.get("/v1/inbox", headers=zif_case.headers("ksa", "committee"))
    assert (committee.status_code, committee.json()["reason"]) == (403, "role_not_allowed")
