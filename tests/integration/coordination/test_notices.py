"""Notices after an exchange without consent (AVG Art. 35a Abs. 1ter), on the real broker and
database, under the opt-in BL legal-basis profile.

One person: the RAV opens the case, records a consent for case administration only (RAV, IV),
lets the IV-Stelle join and starts a measure (employment). The consent does not cover it; the
profile does (AVG Art. 35a Abs. 1bis), with the duty to inform: the IV-Stelle receives the
measure, and the RAV must send the person a notice. The RAV sees it (API and page, with its PDF
letter), the IV-Stelle does not; the RAV marks it sent; ``rebuild`` empties the projections and
replays the log: the notice is derived again with the same id and is still marked sent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from faststream import TestApp

from schemas.ahv import contains_ahv_number
from schemas.events import CaseOpened, ConsentGranted, MeasureStarted, ParticipantJoined
from schemas.vocabulary import DataCategory, MeasureKind, ParticipantRole
from services.common.database import create_pool
from services.coordination.domain.notices import notice_id
from services.coordination.legal_basis import BL_PROFILE
from services.coordination.ops.migrate import migrate
from services.coordination.ops.rebuild import rebuild
from services.coordination.pages.sign_in import CSRF_COOKIE
from services.coordination.reading.notices import NoticeCounts, notice_counts
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    api_client,
    drop_schema,
    eventually,
    make_coordination_settings,
    prime_outcomes_at_end,
    processed_count,
)
from tests.integration.coordination.test_rebuild_and_audit import _publish
from tests.pdf_pages import pdf_text
from tests.tokens import mint_token

AVG = "AVG Art. 35a Abs. 1bis/1ter; AVIG Art. 85f Abs. 3"


@pytest.fixture
async def profile_log(
    infra: Infra, new_topic: Callable[..., Any]
) -> AsyncIterator[CoordinationSettings]:
    """Coordination under the BL profile, on a log of its own (a rebuild replays only this)."""
    settings = make_coordination_settings(
        infra,
        environment="development",  # the pasted-token sign-in of the pages
        coordination_case_events_topic=await new_topic("iiz.case-events.test", partitions=2),
        coordination_audit_checkpoints_topic=await new_topic("iiz.audit-checkpoints.test"),
        coordination_legal_basis_file=BL_PROFILE,
    )
    await migrate(settings)
    await prime_outcomes_at_end(settings)
    yield settings
    await drop_schema(settings)


def rav_measure_for_iv() -> CaseStory:
    s = CaseStory(person_seed=1717)
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    s.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1717",
    )
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    s.rav(MeasureStarted, kind=MeasureKind.COACHING, title="Bewerbungscoaching")
    return s


def bearer(settings: CoordinationSettings, institution: str, role: str = "caseworker") -> Any:
    token = mint_token(settings, "eva", institution, role, dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def sign_in_as(
    http: httpx.AsyncClient, settings: CoordinationSettings, institution: str, role: str
) -> None:
    """Sign in on the pages (the development form)."""
    token = mint_token(settings, "eva", institution, role, dt.timedelta(hours=1))
    form = await http.get("/anmelden")
    await http.post("/anmelden", data={"token": token, "nonce": form.cookies[CSRF_COOKIE]})


async def sign_in(http: httpx.AsyncClient, settings: CoordinationSettings, institution: str) -> str:
    """Sign in on the pages as a coordinator and return the session's CSRF token."""
    await sign_in_as(http, settings, institution, "coordinator")
    page = await http.get("/mitteilungen")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return found.group(1)


async def audit_rows(pool: asyncpg.Pool, action: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT actor, subject, object, basis, detail FROM audit_log WHERE action = $1"
        " ORDER BY seq",
        action,
    )
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def test_a_rav_to_iv_exchange_by_law_gives_rav_a_notice_that_survives_a_rebuild(
    profile_log: CoordinationSettings,
) -> None:
    settings = profile_log
    story = rav_measure_for_iv()
    measure = story.events[-1]
    expected_id = notice_id(measure.id, "iv")
    await _publish(settings, story.events)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        async with TestApp(create_app(settings)):
            await eventually(lambda: _equal(processed_count(pool), len(story.events)), within=60)
        delivered = await pool.fetchrow(
            "SELECT allowed, basis_kind, articles, notice_required FROM decisions"
            " WHERE event_id = $1 AND recipient = 'iv'",
            measure.id,
        )
        assert dict(delivered) == {
            "allowed": True,
            "basis_kind": "law",
            "articles": [AVG],
            "notice_required": True,
        }
        assert await notice_counts(pool) == NoticeCounts(1, 0)

        async with api_client(settings) as http:
            # The RAV (the sender) sees its notice; the IV-Stelle (the recipient) and a
            # committee member do not.
            listed = await http.get("/v1/notices", headers=bearer(settings, "rav"))
            assert listed.status_code == 200, listed.text
            [notice] = listed.json()["notices"]
            assert notice["notice_id"] == str(expected_id)
            assert (notice["sender"], notice["recipient"]) == ("rav", "iv")
            assert notice["categories"] == ["employment"]
            assert notice["articles"] == [AVG]
            assert notice["case_ref"] == measure.data.person.case_ref
            assert notice["sent_at"] is None
            assert (listed.json()["open"], listed.json()["sent"]) == (1, 0)

            at_iv = await http.get("/v1/notices", headers=bearer(settings, "iv"))
            assert at_iv.json()["notices"] == []
            foreign = await http.get(f"/v1/notices/{expected_id}", headers=bearer(settings, "iv"))
            assert (foreign.status_code, foreign.json()["reason"]) == (404, "notice_not_found")
            committee = await http.get("/v1/notices", headers=bearer(settings, "rav", "committee"))
            assert (committee.status_code, committee.json()["reason"]) == (
                403,
                "role_not_allowed",
            )
            for method, path in (
                ("GET", f"/v1/notices/{expected_id}"),
                ("POST", f"/v1/notices/{expected_id}/sent"),
            ):
                refused = await http.request(
                    method, path, headers=bearer(settings, "rav", "committee")
                )
                assert (refused.status_code, refused.json()["reason"]) == (
                    403,
                    "role_not_allowed",
                )
            async with api_client(settings) as committee_pages:
                await sign_in_as(committee_pages, settings, "rav", "committee")
                for path in ("/mitteilungen", f"/mitteilungen/{expected_id}/brief"):
                    assert (await committee_pages.get(path)).status_code == 403
            not_marked = await http.post(
                f"/v1/notices/{expected_id}/sent", headers=bearer(settings, "iv")
            )
            assert (not_marked.status_code, not_marked.json()["reason"]) == (
                404,
                "notice_not_found",
            )

            letter = await http.get(
                f"/v1/notices/{expected_id}",
                headers={**bearer(settings, "rav"), "Accept": "application/pdf"},
            )
            assert letter.status_code == 200, letter.text
            assert letter.headers["content-type"] == "application/pdf"
            text = " ".join(pdf_text(letter.content).split())
            assert f"Unsere Fallnummer: {measure.data.person.case_ref}" in text
            assert "Bekanntgegeben an IV-Stelle Basel-Landschaft (SVA BL)" in text
            assert "Art der Angaben Arbeitsmarkt" in text
            assert "dessen Inhalt zu informieren" in text
            assert not contains_ahv_number(text)

            # The page: the RAV's coordinator sees it open and marks it sent (with the token).
            csrf = await sign_in(http, settings, "rav")
            page = await http.get("/mitteilungen")
            assert "Mitteilungen an betroffene Personen" in page.text
            assert f'data-notice="{expected_id}"' in page.text
            pdf = await http.get(f"/mitteilungen/{expected_id}/brief")
            assert pdf.headers["content-type"] == "application/pdf"
            forged = await http.post(
                f"/mitteilungen/{expected_id}/versendet", data={"csrf_token": "forged"}
            )
            assert forged.status_code == 303
            assert await notice_counts(pool) == NoticeCounts(1, 0)  # a forged form marks nothing
            marked = await http.post(
                f"/mitteilungen/{expected_id}/versendet", data={"csrf_token": csrf}
            )
            assert (marked.status_code, marked.headers["location"]) == (303, "/mitteilungen")
            assert f'data-notice="{expected_id}"' not in (await http.get("/mitteilungen")).text
            sent_page = await http.get("/mitteilungen", params={"zeigen": "versendet"})
            assert f'data-notice="{expected_id}"' in sent_page.text
            assert "versendet am" in sent_page.text

            again = await http.post(
                f"/v1/notices/{expected_id}/sent", headers=bearer(settings, "rav")
            )
            assert again.status_code == 200
            first_mark = again.json()["sent_at"]
            assert first_mark is not None
            assert again.json()["sent_by"].startswith("rav/coordinator/")  # the page's mark

        assert await notice_counts(pool) == NoticeCounts(1, 1)
        reads = await audit_rows(pool, "read-notices")
        assert {r["actor"].split("/")[0] for r in reads} == {"rav", "iv"}
        assert any(
            r["subject"] == story.pseudonym and r["detail"].get("form") == "pdf" for r in reads
        )
        marks = await audit_rows(pool, "notice-sent")
        # Refusals are audited like every refused look-up (the misuse signals count them).
        assert [(m["actor"], m["detail"]["outcome"], m["detail"]["notice"]) for m in marks[:2]] == [
            ("rav/committee/eva", "denied", str(expected_id)),
            ("iv/caseworker/eva", "not_found", str(expected_id)),
        ]
        assert [m["detail"]["outcome"] for m in marks[2:]] == ["marked", "already-sent"]
        assert marks[2]["subject"] == story.pseudonym
        refused_reads = [
            (r["detail"]["outcome"], r["detail"].get("notice"))
            for r in reads
            if r["actor"] == "rav/committee/eva"
        ]
        assert refused_reads == [
            ("denied", None),
            ("denied", str(expected_id)),
            ("denied", None),
            ("denied", str(expected_id)),
        ]
        assert ("not_found", str(expected_id)) in [
            (r["detail"]["outcome"], r["detail"].get("notice"))
            for r in reads
            if r["actor"] == "iv/caseworker/eva"
        ]

        # Rebuild: the projections are emptied and replayed; the mark is a record and stays.
        runtime = CoordinationRuntime(settings)
        await runtime.start()
        try:
            report = await rebuild(runtime)
        finally:
            await runtime.stop()
        assert report.applied == len(story.events)
        rebuilt = await pool.fetch("SELECT notice_id, sender, recipient FROM notices")
        assert [tuple(r) for r in rebuilt] == [(expected_id, "rav", "iv")]
        async with api_client(settings) as http:
            after = await http.get(f"/v1/notices/{expected_id}", headers=bearer(settings, "rav"))
        assert after.status_code == 200
        assert after.json()["sent_at"] == first_mark
        assert await notice_counts(pool) == NoticeCounts(1, 1)
    finally:
        await pool.close()


async def _equal(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
