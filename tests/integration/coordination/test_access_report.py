"""The access report on the real broker and database: a person's history goes through the
worker, users read the case, and a data-protection officer asks for the report — as JSON, as
the German letter (checked as text and as a rendered page), and on the page ``/auskunft``.
The request is audited; a caseworker is refused (on the page too, audited alike); list views
are counted per day, not listed; other users' purposes stay out; a person the bus has no data
about gets a letter saying so."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from schemas.ahv import AhvNumber
from schemas.events import (
    CaseOpened,
    ConsentGranted,
    ConsentRevoked,
    MeasureStarted,
    ParticipantJoined,
)
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import DataCategory, MeasureKind, ParticipantRole
from services.coordination.pages.sign_in import CSRF_COOKIE
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.effects import BusRecord
from services.coordination.worker.runtime import CoordinationRuntime
from tests.case_story import CaseStory
from tests.factories import valid_ahv
from tests.integration.coordination.conftest import api_client
from tests.pdf_pages import is_blank, pdf_to_png, words
from tests.tokens import mint_token

EXAMPLES = Path(os.environ.get("IIZ_EXAMPLE_PDFS", "/tmp/iiz-letters"))


def keep_example(name: str, pdf: bytes, page: Any = None) -> None:
    """The letter (and its first page as PNG) for people to look at; not checked by anything."""
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    (EXAMPLES / name).write_bytes(pdf)
    if page is not None:
        page.save(EXAMPLES / name.replace(".pdf", "-seite1.png"))


def headers(settings: CoordinationSettings, institution: str, role: str, **extra: str) -> Any:
    token = mint_token(settings, f"{role}-sub-4711", institution, role, dt.timedelta(hours=1))
    return {"Authorization": f"Bearer {token}", **extra}


async def feed(settings: CoordinationSettings, story: CaseStory) -> None:
    """The story through coordination's batch processor, as the consumer would hand it over."""
    records = [
        BusRecord(CASE_EVENTS, 0, offset, r.key, r.value, r.headers)
        for offset, r in enumerate(story.records())
    ]
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        await runtime.processor().process(records)
    finally:
        await runtime.stop()


def history() -> tuple[CaseStory, dict[str, Any]]:
    """RAV opens the case; the person consents (RAV, IV) to case administration and employment;
    IV joins and records a second form, for health; RAV starts a coaching; the health consent
    is revoked."""
    s = CaseStory(person_seed=1717)
    named: dict[str, Any] = {"opened": s.rav(CaseOpened, project_code="IIZ-FALLKOORD")}
    named["consent"] = s.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
        valid_from=dt.date(2026, 1, 1),
        document_ref="RAV-EINW-1717",
    )
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    named["health"] = s.iv(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.HEALTH],
        valid_from=dt.date(2026, 1, 1),
        document_ref="IV-VM-1717",
    )
    s.rav(MeasureStarted, kind=MeasureKind.COACHING)
    s.iv(ConsentRevoked, consent_id=named["health"].data.consent_id, document_ref="IV-WR-1717")
    return s, named


async def test_the_report_names_receipts_reads_and_consents_and_is_audited(
    client: httpx.AsyncClient, coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    settings = coordination_settings
    story, _named = history()
    await feed(settings, story)
    number = await db.fetchval(
        "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
    )
    read = await client.get(
        f"/v1/cases/{number}",
        params={"purpose": "Rückfrage von Frau Kollegin Meierhans"},
        headers=headers(settings, "iv", "caseworker"),
    )
    assert read.status_code == 200
    for _ in range(2):
        listed = await client.get(
            "/v1/worklist",
            params={"status": "all"},
            headers=headers(settings, "rav", "coordinator"),
        )
        assert listed.status_code == 200, listed.text
    body = {"ahv_number": story.ahv.formatted(), "purpose": "Auskunftsbegehren", "ticket": "DS-17"}

    answer = await client.post(
        "/v1/access-reports", json=body, headers=headers(settings, "iv", "auditor")
    )

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["known"] is True
    assert story.ahv.digits not in answer.text
    assert story.pseudonym not in answer.text
    to_iv = [r for r in report["receipts"] if r["recipient"]["id"] == "iv"]
    coaching = next(r for r in to_iv if r["event_type"].endswith("measure.started.v1"))
    assert coaching["origin"]["id"] == "rav"
    assert coaching["categories"] == ["employment"]
    assert [c["document_ref"] for c in coaching["consents"]] == ["RAV-EINW-1717"]
    reads = [(a["institution"]["id"], a["role"], a["action"]) for a in report["accesses"]]
    assert ("iv", "caseworker", "read-case") in reads
    assert not any(action == "read-worklist" for *_, action in reads)
    assert [
        (v["institution"]["id"], v["role"], v["lists"], v["count"]) for v in report["list_views"]
    ] == [("rav", "coordinator", ["read-worklist"], 2)]
    assert (report["list_views_total"], report["list_shown_total"]) == (1, 2)
    assert "caseworker-sub-4711" not in answer.text
    assert "Meierhans" not in answer.text
    statuses = {c["document_ref"]: (c["status"], c["revocation_ref"]) for c in report["consents"]}
    assert statuses == {"RAV-EINW-1717": ("active", None), "IV-VM-1717": ("revoked", "IV-WR-1717")}

    rows = await db.fetch(
        "SELECT actor, subject, purpose, detail FROM audit_log WHERE action = 'access-report'"
    )
    assert [(r["actor"], r["subject"], r["purpose"]) for r in rows] == [
        ("iv/auditor/auditor-sub-4711", story.pseudonym, "Auskunftsbegehren")
    ]
    detail = json.loads(rows[0]["detail"])
    assert detail == {
        "ticket": "DS-17",
        "outcome": "ok",
        "known": True,
        "receipts": report["receipts_total"],
        "accesses": report["accesses_total"],
        "list_shown": 2,
        "consents": 2,
    }

    letter = await client.post(
        "/v1/access-reports",
        json=body,
        headers=headers(settings, "rav", "coordinator", Accept="application/pdf"),
    )

    assert (letter.status_code, letter.headers["content-type"]) == (200, "application/pdf")
    text = words(letter.content)
    masked = f"756.****.****.{story.ahv.digits[-2:]}"
    for expected in (
        "Auskunft über die Bearbeitung Ihrer Personendaten",
        masked,
        "Einwilligung (Formular RAV-EINW-1717)",
        "IV-VM-1717",
        "widerrufen",
        "Fallführung",  # the caseworker's function, not their name
        "Fallübersicht gelesen",
        "insgesamt 2-mal angezeigt",
        "in Listen angezeigt: Fallliste",
        "Seite 1 von",
    ):
        assert expected in text, expected
    assert story.ahv.formatted() not in text
    assert "sub-4711" not in text
    assert "Meierhans" not in text
    page = pdf_to_png(letter.content)
    assert not is_blank(page)
    keep_example("auskunft-beispiel.pdf", letter.content, page)


async def test_a_caseworker_may_not_ask_and_the_refusal_is_audited(
    client: httpx.AsyncClient, coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    body = {"ahv_number": valid_ahv(1718), "ticket": "DS-18"}

    answer = await client.post(
        "/v1/access-reports", json=body, headers=headers(coordination_settings, "rav", "caseworker")
    )

    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["reason"] == "role_not_allowed"
    rows = await db.fetch("SELECT subject, detail FROM audit_log WHERE action = 'access-report'")
    assert [(r["subject"], json.loads(r["detail"])["outcome"]) for r in rows] == [(None, "denied")]


async def test_a_person_the_bus_has_no_data_about_gets_a_letter_saying_so(
    client: httpx.AsyncClient, coordination_settings: CoordinationSettings
) -> None:
    body = {"ahv_number": valid_ahv(1719)}

    as_json = await client.post(
        "/v1/access-reports", json=body, headers=headers(coordination_settings, "iv", "auditor")
    )
    letter = await client.post(
        "/v1/access-reports",
        json=body,
        headers=headers(coordination_settings, "iv", "auditor", Accept="application/pdf"),
    )

    assert as_json.json()["known"] is False
    text = words(letter.content)
    assert "Im IIZ-Fallbus sind heute keine Daten über Sie gespeichert" in text
    assert "Auskunft erstellt" in text  # the first request is on record
    keep_example("auskunft-unbekannt.pdf", letter.content)


async def test_the_page_downloads_the_letter_for_a_signed_in_coordinator(
    coordination_settings: CoordinationSettings,
) -> None:
    settings = coordination_settings.model_copy(update={"environment": "development"})
    ahv = AhvNumber(valid_ahv(1720))
    async with api_client(settings) as pages:
        await _sign_in(pages, settings, "rav", "coordinator")
        form = await pages.get("/auskunft")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert form.status_code == 200
        assert csrf is not None

        wrong = await pages.post(
            "/auskunft", data={"ahv": "756.1234", "grund": "Anfrage", "csrf_token": csrf[1]}
        )
        download = await pages.post(
            "/auskunft",
            data={"ahv": ahv.formatted(), "grund": "Anfrage per Brief", "csrf_token": csrf[1]},
        )

    assert wrong.status_code == 422
    assert "gültige AHV-Nummer" in wrong.text
    assert "756.1234" not in wrong.text
    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "keine Daten über Sie gespeichert" in words(download.content)


async def test_the_page_is_forbidden_to_a_caseworker_and_every_refusal_is_audited(
    coordination_settings: CoordinationSettings, db: asyncpg.Pool
) -> None:
    settings = coordination_settings.model_copy(update={"environment": "development"})
    ahv = valid_ahv(1721)
    async with api_client(settings) as pages:
        await _sign_in(pages, settings, "rav", "caseworker")
        form = await pages.get("/auskunft")
        posted = await pages.post(
            "/auskunft", data={"ahv": ahv, "grund": "Neugier", "csrf_token": "x"}
        )
        await _sign_in(pages, settings, "rav", "coordinator")
        forged = await pages.post(
            "/auskunft", data={"ahv": ahv, "grund": "untergeschoben", "csrf_token": "x"}
        )

    assert (form.status_code, posted.status_code, forged.status_code) == (403, 403, 400)
    assert "Kein Zugriff" in form.text
    rows = await db.fetch(
        "SELECT actor, subject, purpose, detail FROM audit_log"
        " WHERE action = 'access-report' ORDER BY seq"
    )
    seen = [(r["actor"], r["subject"], r["purpose"], json.loads(r["detail"])) for r in rows]
    assert seen == [
        ("rav/caseworker/anna", None, "Auskunftsformular", {"ticket": None, "outcome": "denied"}),
        ("rav/caseworker/anna", None, "Neugier", {"ticket": None, "outcome": "denied"}),
        (
            "rav/coordinator/anna",
            None,
            "Auskunftsformular",
            {"ticket": None, "outcome": "invalid", "reason": "formular"},
        ),
    ]
    assert all(ahv[4:] not in str(r) for r in seen)


async def _sign_in(
    pages: httpx.AsyncClient, settings: CoordinationSettings, institution: str, role: str
) -> None:
    token = mint_token(settings, "anna", institution, role, dt.timedelta(hours=1))
    form = await pages.get("/anmelden")
    signed = await pages.post(
        "/anmelden", data={"token": token, "nonce": form.cookies[CSRF_COOKIE]}
    )
    assert signed.status_code == 303, signed.text
