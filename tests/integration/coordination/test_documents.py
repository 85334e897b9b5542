"""The ZIF registration end to end on the real broker and database: a municipality's first
contact through the web form (consent, signed form, registration) reaches ZIF under that
consent, and ZIF downloads the signed form; nobody else can, and they cannot tell it exists.

Intake's HTTP door and coordination's consumer run in this process against the real Kafka and
PostgreSQL; the download goes through coordination's API (bearer tokens of the test identity
provider) and pages.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from faststream import TestApp

from schemas.registry import load_institutions
from schemas.topics import (
    CASE_EVENTS,
    COORDINATION_REJECTED,
    DELIVERIES,
    DELIVERY_OUTCOMES,
    INTAKE_REJECTED,
)
from services.common.database import asyncpg_dsn
from services.coordination.api.app import create_api
from services.coordination.ops.migrate import migrate as migrate_coordination
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app
from services.intake.http_door.form.consent import today
from services.intake.migrate import migrate as migrate_intake
from services.intake.settings import IntakeSettings
from tests.factories import valid_ahv
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    drop_schema,
    eventually,
    make_coordination_settings,
    prime_outcomes_at_end,
)
from tests.integration.intake.conftest import HttpApp, http_intake
from tests.integration.intake.form_fields import consent_fields, pdf, signed_form
from tests.kafka_tools import end_offsets, prime_group_at_end, read_between
from tests.person_registry import SESSION_PERSON_SCHEMA
from tests.tokens import mint_token

MUNICIPALITY = "sozialhilfe-2829"
DOCUMENT_SHARED = "ch.bl.iiz.document.shared.v1"
REFERRAL = "ch.bl.iiz.referral.requested.v1"
VOLATILE_HEADERS = {"date", "x-request-id"}


@dataclass
class Bus:
    intake: HttpApp
    coordination: CoordinationSettings
    api: httpx.AsyncClient
    pool: asyncpg.Pool

    def headers(self, institution: str, role: str = "caseworker") -> dict[str, str]:
        token = mint_token(self.coordination, "eva", institution, role, dt.timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def bus(infra: Infra) -> AsyncIterator[Bus]:
    suffix = uuid.uuid4().hex[:10]
    documents = f"documents_{suffix}"
    intake = IntakeSettings(
        environment="test",
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        database_url=infra.database_url,
        intake_db_schema=f"intake_{suffix}",
        intake_group_id=f"iiz-intake-test-{suffix}",
        intake_instance_id=f"test-{suffix}",
        document_db_schema=documents,
        person_db_schema=SESSION_PERSON_SCHEMA,  # the registry coordination reads keys from
        log_json=True,
    )
    coordination = make_coordination_settings(infra, document_db_schema=documents)
    await migrate_intake(intake)
    await migrate_coordination(coordination)
    await prime_group_at_end(coordination, coordination.coordination_group_id, [CASE_EVENTS])
    await prime_outcomes_at_end(coordination)
    pool = await asyncpg.create_pool(
        asyncpg_dsn(coordination.database_url),
        server_settings={"search_path": coordination.coordination_db_schema},
    )
    try:
        async with (
            TestApp(create_app(coordination)),
            http_intake(intake) as door,
            LifespanManager(create_api(coordination)) as api_app,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api_app.app), base_url="http://testserver"
            ) as client,
        ):
            yield Bus(door, coordination, client, pool)
    finally:
        await pool.close()
        await drop_schema(coordination)
        conn = await asyncpg.connect(asyncpg_dsn(intake.owner_database_url))
        try:
            await conn.execute(f'DROP SCHEMA "{intake.intake_db_schema}" CASCADE')
            await conn.execute(f'DROP SCHEMA "{documents}" CASCADE')
        finally:
            await conn.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def _register(bus: Bus, seed: int, content: bytes, **consent: Any) -> None:
    """The municipality's first contact: Anmeldung Erstgespräch with consent and signed form."""
    door = bus.intake
    token = await door.issue_token(MUNICIPALITY, "Sozialdienst Schalter")
    page = await door.client.get("/formular/anmelden")
    await door.client.post(
        "/formular/anmelden", data={"token": token, "csrf_token": _csrf(page.text)}
    )
    form = await door.client.get("/formular/erstgespraech")
    response = await door.client.post(
        "/formular/erstgespraech",
        data={
            "csrf_token": _csrf(form.text),
            "ahv_number": valid_ahv(seed),
            "case_ref": f"SH-2026-{seed}",
            **consent_fields(**consent),
        },
        files=signed_form(content),
    )
    assert response.status_code == 303, response.text


async def _document_decision(bus: Bus, recipient: str) -> asyncpg.Record | None:
    return await bus.pool.fetchrow(
        "SELECT t.event, d.allowed, d.basis_kind, d.reason FROM timeline t"
        " JOIN decisions d ON d.event_id = t.event_id AND d.recipient = $2"
        " WHERE t.type = $1",
        DOCUMENT_SHARED,
        recipient,
    )


async def _processed(bus: Bus) -> str:
    """Wait until coordination decided the announcement for ZIF; its document id."""
    found = await eventually(lambda: _document_decision(bus, "zif"))
    return str(json.loads(found["event"])["data"]["document_id"])


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VOLATILE_HEADERS}
    return response.status_code, headers, response.content


async def _downloads(bus: Bus) -> list[asyncpg.Record]:
    return list(
        await bus.pool.fetch(
            "SELECT actor, subject, object, basis, detail FROM audit_log"
            " WHERE action = 'download-document' ORDER BY seq"
        )
    )


async def test_the_registration_reaches_zif_under_the_consent_and_zif_downloads_the_signed_form(
    bus: Bus,
) -> None:
    content = pdf()
    await _register(bus, 601, content)
    document_id = await _processed(bus)

    types = [
        r["type"] for r in await bus.pool.fetch("SELECT type FROM timeline ORDER BY bus_offset")
    ]
    assert types == [
        "ch.bl.iiz.case.opened.v1",
        "ch.bl.iiz.consent.granted.v1",
        REFERRAL,
        DOCUMENT_SHARED,
    ]
    referral = await bus.pool.fetchrow(
        "SELECT d.allowed, d.basis_kind, d.consent_ids FROM timeline t JOIN decisions d"
        " ON d.event_id = t.event_id AND d.recipient = 'zif' WHERE t.type = $1",
        REFERRAL,
    )
    consent_id = await bus.pool.fetchval("SELECT consent_id FROM consents")
    assert referral is not None
    assert referral["allowed"] is True
    assert referral["basis_kind"] == "consent"
    assert referral["consent_ids"] == [consent_id]
    document = await _document_decision(bus, "zif")
    assert document is not None
    assert document["allowed"] is True
    assert await bus.pool.fetchval("SELECT count(*) FROM cases") == 1

    response = await bus.api.get(f"/v1/documents/{document_id}", headers=bus.headers("zif"))

    assert response.status_code == 200, response.text
    assert response.content == content
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="Einwilligung unterschrieben.pdf"'
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    page = await bus.api.get(f"/dokumente/{document_id}", headers=bus.headers("zif"))
    assert page.status_code == 200
    assert page.content == content
    [api_read, page_read] = await _downloads(bus)
    assert api_read["actor"] == "zif/caseworker/eva"
    assert '"outcome": "ok"' in api_read["detail"]
    assert "consent" in api_read["basis"]
    assert '"outcome": "ok"' in page_read["detail"]


async def test_an_institution_that_may_not_see_the_document_gets_the_404_of_an_unknown_one(
    bus: Bus,
) -> None:
    await _register(bus, 602, pdf())
    document_id = await _processed(bus)
    unknown = str(uuid.uuid4())

    for path in ("/v1/documents/{}", "/dokumente/{}"):
        refused = await bus.api.get(path.format(document_id), headers=bus.headers("rav"))
        missing = await bus.api.get(path.format(unknown), headers=bus.headers("rav"))
        assert refused.status_code == 404
        assert _comparable(refused) == _comparable(missing)

    outcomes = [(r["actor"], r["detail"]) for r in await _downloads(bus)]
    assert [a for a, _ in outcomes] == ["rav/caseworker/eva"] * 4
    assert ['"outcome": "denied"' in d for _, d in outcomes] == [True, False, True, False]
    assert ['"outcome": "not_found"' in d for _, d in outcomes] == [False, True, False, True]


async def test_without_the_documents_category_zif_gets_the_registration_but_not_the_form(
    bus: Bus,
) -> None:
    await _register(bus, 603, pdf(), categories=("case-admin", "integration"))
    await eventually(lambda: _document_decision(bus, "zif"))
    document = await _document_decision(bus, "zif")
    assert document is not None
    assert document["allowed"] is False
    document_id = json.loads(document["event"])["data"]["document_id"]

    response = await bus.api.get(f"/v1/documents/{document_id}", headers=bus.headers("zif"))

    assert response.status_code == 404
    assert response.json()["reason"] == "document_not_found"


async def test_a_tampered_stored_document_is_refused_clearly_and_audited(bus: Bus) -> None:
    await _register(bus, 604, pdf())
    document_id = await _processed(bus)
    owner = await asyncpg.connect(asyncpg_dsn(bus.intake.settings.owner_database_url))
    try:
        await owner.execute(
            f'UPDATE "{bus.intake.settings.document_db_schema}".documents'  # noqa: S608
            " SET sealed = overlay(sealed placing '\\x00'::bytea from length(sealed) - 20)"
            " WHERE document_id = $1",
            uuid.UUID(document_id),
        )
    finally:
        await owner.close()

    response = await bus.api.get(f"/v1/documents/{document_id}", headers=bus.headers("zif"))
    page = await bus.api.get(f"/dokumente/{document_id}", headers=bus.headers("zif"))

    assert response.status_code == 409
    assert response.json()["reason"] == "document_damaged"
    assert page.status_code == 409
    assert "Echtheitsprüfung" in page.text
    assert ['"outcome": "damaged"' in r["detail"] for r in await _downloads(bus)] == [True, True]


async def test_nothing_of_the_document_goes_onto_any_topic(bus: Bus) -> None:
    registry = load_institutions()
    topics = [
        CASE_EVENTS,
        DELIVERIES,
        DELIVERY_OUTCOMES,
        INTAKE_REJECTED,
        COORDINATION_REJECTED,
        *{i.delivery_topic for i in registry.institutions},
    ]
    start = await end_offsets(bus.coordination, topics)
    content = pdf()
    await _register(bus, 605, content)
    await _processed(bus)

    records = await read_between(
        bus.coordination, start, await end_offsets(bus.coordination, topics)
    )

    # Any run of 48 bytes, raw or in base64 at each of the three alignments.
    needles = [content[100:148]] + [base64.b64encode(content[i : i + 48]) for i in (0, 1, 2)]
    assert records
    for record in records:
        blobs = [record.value or b"", record.key or b"", *(v for _, v in record.headers)]
        assert not any(n in blob for n in needles for blob in blobs), record.topic


async def test_once_the_consent_has_expired_the_signed_form_is_no_longer_handed_out(
    bus: Bus,
) -> None:
    """The announcement was allowed under the consent; the download is an act of today and needs
    the consent today: the day after it expired, ZIF gets the 404 of an unknown document."""
    content = pdf()
    await _register(bus, 604, content, valid_days=1)
    document_id = await _processed(bus)
    expired = bus.coordination.model_copy(
        update={"coordination_today": today() + dt.timedelta(days=2)}
    )

    async with (
        LifespanManager(create_api(expired)) as later,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=later.app), base_url="http://testserver"
        ) as client,
    ):
        after_expiry = await client.get(f"/v1/documents/{document_id}", headers=bus.headers("zif"))
    while_valid = await bus.api.get(f"/v1/documents/{document_id}", headers=bus.headers("zif"))

    assert after_expiry.status_code == 404
    assert after_expiry.json()["reason"] == "document_not_found"
    assert while_valid.status_code == 200
    assert while_valid.content == content
    outcomes = [r["detail"] for r in await _downloads(bus)]
    assert ['"outcome": "denied"' in d for d in outcomes] == [True, False]
