"""The web form's consent section and documents, on the real broker and database: a ZIF
registration publishes its events in order with the consent; uploads are stored sealed (the
plaintext is not in the table), checked by content, and nothing of them goes onto Kafka."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.ahv import AhvNumber
from schemas.topics import CASE_EVENTS
from services.common.database import asyncpg_dsn
from services.common.document_seal import DocumentSeal
from services.common.keyring import Keyring
from services.common.person_registry import PersonKey, PersonRegistry
from services.intake.http_door.form.uploads import document_seal
from tests.factories import valid_ahv
from tests.integration.intake.conftest import HttpApp
from tests.integration.intake.form_fields import consent_fields, pdf, signed_form
from tests.kafka_tools import Record, end_offsets, read_between
from tests.sealed_records import events as canonical_events

MUNICIPALITY = "sozialhilfe-2829"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def _login(door: HttpApp) -> None:
    token = await door.issue_token(MUNICIPALITY, "Sozialdienst Schalter")
    page = await door.client.get("/formular/anmelden")
    await door.client.post(
        "/formular/anmelden", data={"token": token, "csrf_token": _csrf(page.text)}
    )


async def _post(
    door: HttpApp, slug: str, fields: dict[str, Any], files: dict[str, Any]
) -> httpx.Response:
    page = await door.client.get(f"/formular/{slug}")
    return await door.client.post(
        f"/formular/{slug}",
        data={"csrf_token": _csrf(page.text), **fields},
        files=files,
        follow_redirects=True,
    )


async def _stored(door: HttpApp) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(door.settings.owner_database_url))
    try:
        return list(
            await conn.fetch(
                f'SELECT * FROM "{door.settings.document_db_schema}".documents'  # noqa: S608
            )
        )
    finally:
        await conn.close()


async def _published_since(door: HttpApp, start: Any) -> list[Record]:
    ends = await end_offsets(door.settings, [CASE_EVENTS])
    return await read_between(door.settings, start, ends)


async def _mine(door: HttpApp, records: list[Record], case_ref: str) -> list[Any]:
    found = await canonical_events(door.settings, records)
    return [e for e in found if e.data.person.case_ref == case_ref]


async def test_a_zif_registration_opens_the_case_records_the_consent_refers_and_announces_the_form(
    http_door: HttpApp,
) -> None:
    await _login(http_door)
    marker = uuid.uuid4().hex.encode()
    content = pdf(marker)
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await _post(
        http_door,
        "potenzialabklaerung",
        {"ahv_number": valid_ahv(501), "case_ref": "SH-2026-501", **consent_fields()},
        signed_form(content),
    )

    assert response.status_code == 200, response.text
    assert "Einwilligung" in response.text
    records = await _published_since(http_door, start)
    events = await _mine(http_door, records, "SH-2026-501")
    assert [e.type for e in events] == [
        "ch.bl.iiz.case.opened.v1",
        "ch.bl.iiz.consent.granted.v1",
        "ch.bl.iiz.referral.requested.v1",
        "ch.bl.iiz.document.shared.v1",
    ]
    _opened, consent, referral, document = events
    assert len({e.subject for e in events}) == 1
    assert consent.data.institutions == [MUNICIPALITY, "zif"]
    assert [c.value for c in consent.data.categories] == [
        "case-admin",
        "integration",
        "documents",
        "identity",
    ]
    assert consent.data.document_ref == str(document.data.document_id)
    assert referral.data.to_institution == "zif"
    assert document.data.sha256 == hashlib.sha256(content).hexdigest()
    assert document.data.size_bytes == len(content)
    assert document.data.media_type == "application/pdf"
    [row] = [r for r in await _stored(http_door) if r["document_id"] == document.data.document_id]
    assert row["sha256"] == document.data.sha256
    assert row["pseudonym"] == document.subject
    assert row["held_by"] == MUNICIPALITY
    assert marker not in bytes(row["sealed"])
    assert row["sealed"].startswith(b"d1:")
    seal = document_seal(http_door.settings)
    assert seal.open(row["document_id"], bytes(row["sealed"]), row["sha256"]) == content
    assert all(marker not in r.value for r in records)


async def test_without_first_contact_the_registration_opens_no_case(http_door: HttpApp) -> None:
    await _login(http_door)
    start = await end_offsets(http_door.settings, [CASE_EVENTS])
    fields = {**consent_fields(), "open_case": ""}

    response = await _post(
        http_door,
        "re-assessment",
        {"ahv_number": valid_ahv(502), "case_ref": "SH-2026-502", **fields},
        signed_form(),
    )

    assert response.status_code == 200, response.text
    events = await _mine(http_door, await _published_since(http_door, start), "SH-2026-502")
    assert [e.type.split(".")[3] for e in events] == ["consent", "referral", "document"]


async def test_health_is_consented_only_when_ticked_and_case_admin_is_required(
    http_door: HttpApp,
) -> None:
    await _login(http_door)

    response = await _post(
        http_door,
        "erstgespraech",
        {
            "ahv_number": valid_ahv(503),
            "case_ref": "SH-2026-503",
            **consent_fields(categories=("integration", "health")),
        },
        signed_form(),
    )

    assert response.status_code == 422
    assert "Bitte «Fallführung» ankreuzen" in response.text
    assert 'value="health" checked' in response.text  # what was ticked stays ticked
    assert await _stored(http_door) == []


async def test_a_file_that_is_not_pdf_jpeg_or_png_is_refused_whatever_its_name(
    http_door: HttpApp,
) -> None:
    await _login(http_door)
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    for content in (b"GIF89a" + b"\x00" * 64, b"%PDF-1.7 but never ends", PNG[:-12], b"MZ\x90"):
        response = await _post(
            http_door,
            "dokument",
            {"ahv_number": valid_ahv(504), "case_ref": "SH-2026-504"},
            {"document": ("Vertrag.pdf", content, "application/pdf")},
        )
        assert response.status_code == 422, content
        assert "bitte ein PDF, JPEG oder PNG hochladen" in response.text

    empty = await _post(
        http_door,
        "dokument",
        {"ahv_number": valid_ahv(504), "case_ref": "SH-2026-504"},
        {"document": ("leer.pdf", b"", "application/pdf")},
    )
    assert empty.status_code == 422
    assert "Die Datei ist leer." in empty.text
    assert await _stored(http_door) == []
    assert await end_offsets(http_door.settings, [CASE_EVENTS]) == start


async def test_the_content_decides_the_type_not_the_name(http_door: HttpApp) -> None:
    await _login(http_door)
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await _post(
        http_door,
        "dokument",
        {"ahv_number": valid_ahv(505), "case_ref": "SH-2026-505"},
        {"document": ("Zeugnis.pdf", PNG, "application/pdf")},
    )

    assert response.status_code == 200, response.text
    [event] = await _mine(http_door, await _published_since(http_door, start), "SH-2026-505")
    assert event.data.media_type == "image/png"
    [row] = await _stored(http_door)
    assert row["media_type"] == "image/png"
    assert PNG[16:] not in bytes(row["sealed"])


def test_a_sealed_document_opens_only_under_its_own_id() -> None:
    seal = DocumentSeal(Keyring("d1", {"d1": b"k" * 32}))
    document_id = uuid.uuid4()
    sealed = seal.seal(document_id, PNG)

    assert seal.open(document_id, sealed, hashlib.sha256(PNG).hexdigest()) == PNG


async def test_the_form_resolves_the_person_once_and_stores_the_document_under_the_events_subject(
    http_door: HttpApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Resolving twice could give two subjects (an erasure or a pseudonym-key rollout in between):
    # the document would then sit under a subject no erasure of the events' person finds.
    resolved: list[list[str]] = []
    resolve = PersonRegistry.resolve

    async def counted(self: PersonRegistry, ahvs: Iterable[AhvNumber]) -> dict[str, PersonKey]:
        found = await resolve(self, ahvs)
        resolved.append(sorted(p.subject for p in found.values()))
        return found

    monkeypatch.setattr(PersonRegistry, "resolve", counted)
    await _login(http_door)
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await _post(
        http_door,
        "potenzialabklaerung",
        {"ahv_number": valid_ahv(502), "case_ref": "SH-2026-502", **consent_fields()},
        signed_form(pdf(b"once")),
    )

    assert response.status_code == 200, response.text
    assert len(resolved) == 1
    events = await _mine(http_door, await _published_since(http_door, start), "SH-2026-502")
    assert {e.subject for e in events} == set(resolved[0])
    document = events[-1]
    [row] = [r for r in await _stored(http_door) if r["document_id"] == document.data.document_id]
    assert row["pseudonym"] == document.subject
