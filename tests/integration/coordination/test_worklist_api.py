"""The worklist (``GET /v1/worklist``) and the deadlines list (``GET /v1/deadlines``) on the real
PostgreSQL: only the cases of the caller's institution, minimised like the case summary,
judged on an injected today (5 December 2026, long after the newest event), and audited.

The people (their events in March 2026):
    shared  rav leads, iv takes part (consent rav+iv), the Assessmentcenter is invited by a
            referral due 2026-03-09 and never answers (``iv_in_parallel``)
    closed  rav leads; its referral to the Assessmentcenter, due 2026-03-04, is never
            answered; the case is closed on 2026-03-05 (overdue at closing, and still open)
    other   berufsbildung opens a case alone
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.events import CaseClosed, CaseOpened, ReferralRequested
from schemas.vocabulary import CaseOutcome, ReferralPurpose
from services.coordination import audit
from services.coordination.settings import CoordinationSettings
from tests.case_story import CaseStory, iv_in_parallel
from tests.integration.coordination.conftest import api_client
from tests.integration.coordination.test_timeline_api import bus_records, feed
from tests.tokens import mint_token

TODAY = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)  # a Saturday in Europe/Zurich


@dataclass
class Cases:
    settings: CoordinationSettings
    client: httpx.AsyncClient
    shared: str
    closed: str
    other: str

    async def get(
        self, path: str, reader: str, role: str = "coordinator", **params: Any
    ) -> httpx.Response:
        token = mint_token(self.settings, "anna", reader, role, dt.timedelta(hours=1))
        return await self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture
async def cases(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> AsyncIterator[Cases]:
    shared = CaseStory(21)
    iv_in_parallel(shared, project_code="IIZ-FALLKOORD")
    closed = CaseStory(22)
    closed.rav(CaseOpened, reason="Aussteuerung absehbar")
    closed.rav(
        ReferralRequested,
        to_institution="assessmentcenter",
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE,
        answer_due=dt.date(2026, 3, 4),
    )
    closed.rav(CaseClosed, outcome=CaseOutcome.EMPLOYMENT)
    other = CaseStory(23)
    other.berufsbildung(CaseOpened, reason="Lehrabbruch")
    records = bus_records(shared, 0) + bus_records(closed, 1) + bus_records(other, 2)
    await feed(coordination_settings, records)

    async def number(story: CaseStory) -> str:
        found = await db.fetchval(
            "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
        )
        return str(found)

    async with api_client(coordination_settings, clock=lambda: TODAY) as client:
        yield Cases(
            coordination_settings,
            client,
            await number(shared),
            await number(closed),
            await number(other),
        )


async def audit_rows(db: asyncpg.Pool, action: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT actor, subject, object, basis, detail FROM audit_log WHERE action = $1"
            " ORDER BY seq",
            action,
        )
    )


async def test_the_worklist_lists_only_the_cases_my_institution_takes_part_in(cases: Cases) -> None:
    as_rav = (await cases.get("/v1/worklist", "rav", status="all")).json()
    as_berufsbildung = (await cases.get("/v1/worklist", "berufsbildung", status="all")).json()

    assert {r["case_number"] for r in as_rav["rows"]} == {cases.shared, cases.closed}
    assert [r["case_number"] for r in as_berufsbildung["rows"]] == [cases.other]
    assert as_rav["today"] == "2026-12-05"


async def test_an_overdue_referral_is_judged_against_today_not_the_newest_event(
    cases: Cases,
) -> None:
    [row] = (await cases.get("/v1/worklist", "rav")).json()["rows"]  # open cases only

    assert row["case_number"] == cases.shared
    assert row["lead"] == "rav"
    assert row["role"] == "lead"
    assert row["last_event_on"] == "2026-03-10"
    assert [(i["kind"], i["due_on"], i["institution"]) for i in row["overdue"]] == [
        ("answer-awaited", "2026-03-09", "assessmentcenter")
    ]
    assert row["active"] == ["iv", "rav"]
    assert row["parallel"] is True


async def test_a_closed_case_shows_no_overdue_items_and_nothing_active_now(cases: Cases) -> None:
    rows = (await cases.get("/v1/worklist", "rav", status="closed")).json()["rows"]
    summary = (await cases.get(f"/v1/cases/{cases.closed}", "rav")).json()

    [row] = rows
    assert row["case_number"] == cases.closed
    assert row["open"] is False
    assert row["overdue"] == []
    assert row["next_deadline"] is None
    assert row["judged_on"] == "2026-03-05"  # its closing date
    assert summary["judged_on"] == "2026-03-05"
    assert [r["overdue"] for r in summary["open_referrals"]] == [False]


async def test_the_case_summary_judges_overdue_on_today(cases: Cases) -> None:
    summary = (await cases.get(f"/v1/cases/{cases.shared}", "rav")).json()

    assert summary["last_event_on"] == "2026-03-10"
    assert summary["judged_on"] == "2026-12-05"
    overdue = {r["to_institution"]: r["overdue"] for r in summary["open_referrals"]}
    assert overdue == {"assessmentcenter": True}


async def test_a_row_shows_another_institutions_engagement_only_where_the_summary_would(
    cases: Cases,
) -> None:
    [row] = (await cases.get("/v1/worklist", "assessmentcenter")).json()["rows"]
    summary = (await cases.get(f"/v1/cases/{cases.shared}", "assessmentcenter")).json()

    assert row["role"] == "invited"
    assert row["parallel"] is True  # every involved institution sees that much
    assert row["active"] == [] == summary["current_engagements"]  # no consent names it
    assert [i["kind"] for i in row["overdue"]] == ["answer-due"]


async def test_filters_keep_overdue_cases_cases_i_lead_and_a_project(cases: Cases) -> None:
    async def numbers(reader: str, **params: Any) -> list[str]:
        found = (await cases.get("/v1/worklist", reader, status="all", **params)).json()
        return [r["case_number"] for r in found["rows"]]

    assert await numbers("rav", overdue_only=True) == [cases.shared]
    assert await numbers("iv", lead_only=True) == []
    assert sorted(await numbers("rav", lead_only=True)) == sorted([cases.shared, cases.closed])
    assert await numbers("rav", project="IIZ-FALLKOORD") == [cases.shared]
    assert await numbers("rav", sort="case") == sorted([cases.shared, cases.closed])


async def test_the_deadlines_list_has_what_is_overdue_for_me_and_nothing_of_a_closed_case(
    cases: Cases,
) -> None:
    as_centre = (await cases.get("/v1/deadlines", "assessmentcenter")).json()
    as_rav = (await cases.get("/v1/deadlines", "rav")).json()

    assert (as_centre["week_from"], as_centre["week_to"]) == ("2026-11-30", "2026-12-06")
    # the referral of the closed case (due 2026-03-04) is not there
    assert [(i["kind"], i["due_on"], i["case_number"]) for i in as_centre["items"]] == [
        ("answer-due", "2026-03-09", cases.shared)
    ]
    assert all(i["overdue"] for i in as_centre["items"])
    assert [(i["kind"], i["case_number"]) for i in as_rav["items"]] == [
        ("answer-awaited", cases.shared)
    ]


async def person_of(db: asyncpg.Pool, case_number: str) -> str:
    return str(await db.fetchval("SELECT pseudonym FROM cases WHERE case_number = $1", case_number))


async def test_a_list_read_leaves_one_audit_row_per_person_shown_with_counts_not_content(
    cases: Cases, db: asyncpg.Pool
) -> None:
    await cases.get("/v1/worklist", "rav", status="all")
    await cases.get("/v1/deadlines", "rav")

    shared, closed = await person_of(db, cases.shared), await person_of(db, cases.closed)
    worklist = await audit_rows(db, "read-worklist")
    assert {(r["subject"], r["object"]) for r in worklist} == {
        (shared, cases.shared),
        (closed, cases.closed),
    }
    for row in worklist:
        assert row["actor"] == "rav/coordinator/anna"
        assert row["basis"] == "participant"
        detail = json.loads(row["detail"])
        assert (detail["outcome"], detail["rows"], detail["total"]) == ("ok", 1, 2)
    [deadlines] = await audit_rows(db, "read-deadlines")  # only the shared case has something due
    assert (deadlines["subject"], deadlines["object"]) == (shared, cases.shared)
    assert json.loads(deadlines["detail"]) == {"outcome": "ok", "rows": 1, "overdue": 1}
    assert (await audit.verify(db)).intact  # the rows of a list went into the chain together


async def test_a_person_filtered_out_is_not_audited_and_an_empty_list_leaves_one_row(
    cases: Cases, db: asyncpg.Pool
) -> None:
    await cases.get("/v1/worklist", "rav", status="all", project="IIZ-FALLKOORD")
    await cases.get("/v1/worklist", "iv", status="all", lead_only=True)

    rav, iv = await audit_rows(db, "read-worklist")
    assert (rav["subject"], rav["object"]) == (await person_of(db, cases.shared), cases.shared)
    assert json.loads(rav["detail"])["project"] == "IIZ-FALLKOORD"
    assert (iv["actor"], iv["subject"], iv["object"]) == ("iv/coordinator/anna", None, None)
    assert json.loads(iv["detail"])["total"] == 0


async def test_the_committee_may_read_neither_list_and_the_refusal_is_audited(
    cases: Cases, db: asyncpg.Pool
) -> None:
    worklist = await cases.get("/v1/worklist", "ksa", role="committee")
    deadlines = await cases.get("/v1/deadlines", "ksa", role="committee")

    assert (worklist.status_code, worklist.json()["reason"]) == (403, "role_not_allowed")
    assert deadlines.status_code == 403
    [refused] = await audit_rows(db, "read-worklist")
    assert json.loads(refused["detail"])["outcome"] == "denied"
