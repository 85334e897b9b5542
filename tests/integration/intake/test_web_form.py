"""The web form for municipal social services, on the real broker and database."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import httpx

from schemas.codec import from_kafka
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.intake.settings import IntakeSettings
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import valid_ahv
from tests.integration.intake.conftest import HttpApp, http_intake
from tests.integration.intake.form_fields import consent_fields, signed_form
from tests.kafka_tools import Record, end_offsets, read_until
from tests.sealed_records import events, opened

MUNICIPALITY = "sozialhilfe-2829"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


def _ce_id(record: Record) -> str:
    return dict(record.headers)["ce_id"].decode()


async def _login(door: HttpApp, institution: str = MUNICIPALITY) -> httpx.Response:
    token = await door.issue_token(institution, "Sozialdienst Schalter")
    page = await door.client.get("/formular/anmelden")
    return await door.client.post(
        "/formular/anmelden", data={"token": token, "csrf_token": _csrf(page.text)}
    )


async def _form_csrf(door: HttpApp, slug: str) -> str:
    page = await door.client.get(f"/formular/{slug}")
    assert page.status_code == 200, page.text
    return _csrf(page.text)


def _canonical_id_on(quittung: str) -> str:
    found = re.search(r"Kennung der Meldung</dt><dd>([0-9a-f-]{36})</dd>", quittung)
    assert found is not None, quittung
    return found.group(1)


async def _canonical(door: HttpApp, start: Any, canonical_id: str) -> Record:
    records = await read_until(
        door.settings, start, lambda rs: any(_ce_id(r) == canonical_id for r in rs)
    )
    return next(r for r in records if _ce_id(r) == canonical_id)


async def test_staff_of_a_municipality_log_in_with_their_token_and_see_the_forms(
    http_door: HttpApp,
) -> None:
    response = await _login(http_door)

    assert response.status_code == 303
    assert response.headers["location"] == "/formular"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    # Lax, not Strict: the same session must come back from the identity provider's sign-in
    # (a cross-site navigation); every POST of the form carries a CSRF token.
    assert "samesite=lax" in cookie
    overview = await http_door.client.get("/formular")
    assert overview.status_code == 200
    for title in (
        "Anmeldung Erstgespräch",
        "Anmeldung Potenzialabklärung",
        "Anmeldung Re-Assessment",
        "Dokument übermitteln",
    ):
        assert title in overview.text
    assert "Sozialdienst Liestal" in overview.text


async def test_a_rav_token_is_refused_at_the_form_login_with_a_german_explanation(
    http_door: HttpApp,
) -> None:
    response = await _login(http_door, "rav")

    assert response.status_code == 403
    assert "nur den Sozialdiensten der Gemeinden" in response.text
    assert (await http_door.client.get("/formular")).status_code == 303


async def test_an_unknown_token_is_refused_at_the_form_login(http_door: HttpApp) -> None:
    page = await http_door.client.get("/formular/anmelden")

    response = await http_door.client.post(
        "/formular/anmelden", data={"token": "iiz_wrong", "csrf_token": _csrf(page.text)}
    )

    assert response.status_code == 401
    assert "ungültig oder wurde widerrufen" in response.text


async def test_a_form_post_without_or_with_a_wrong_csrf_token_is_refused_403(
    http_door: HttpApp,
) -> None:
    await _login(http_door)
    fields = {"ahv_number": valid_ahv(41), "case_ref": "SH-41"}
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    without = await http_door.client.post("/formular/erstgespraech", data=fields)
    wrong = await http_door.client.post(
        "/formular/erstgespraech", data={**fields, "csrf_token": "forged"}
    )

    assert without.status_code == 403
    assert wrong.status_code == 403
    assert "Sicherheitsprüfung" in wrong.text
    assert await end_offsets(http_door.settings, [CASE_EVENTS]) == start


async def test_an_invalid_ahv_number_is_explained_in_german_next_to_the_field_and_not_echoed(
    http_door: HttpApp,
) -> None:
    await _login(http_door)
    valid = valid_ahv(42)
    wrong = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    start = await end_offsets(http_door.settings, [INTAKE_REJECTED])

    response = await http_door.client.post(
        "/formular/erstgespraech",
        data={
            "csrf_token": await _form_csrf(http_door, "erstgespraech"),
            "ahv_number": wrong,
            "case_ref": "SH-2026-042",
            "note": "Bitte um Termin am Vormittag",
            **consent_fields(),
        },
        files=signed_form(),
    )

    assert response.status_code == 422
    assert "Die AHV-Nummer ist ungültig: die Prüfziffer stimmt nicht." in response.text
    assert wrong not in response.text
    assert wrong.replace(".", "") not in response.text
    assert 'value="SH-2026-042"' in response.text
    assert "Bitte um Termin am Vormittag" in response.text
    dead = await read_until(
        http_door.settings,
        start,
        lambda rs: any(dict(r.headers)["iiz_channel"].startswith(b"http:formular/") for r in rs),
    )
    assert any(dict(r.headers)["iiz_reason"] == b"invalid_ahv" for r in dead)


async def test_a_missing_case_number_is_asked_for_in_german(http_door: HttpApp) -> None:
    await _login(http_door)

    response = await http_door.client.post(
        "/formular/potenzialabklaerung",
        data={
            "csrf_token": await _form_csrf(http_door, "potenzialabklaerung"),
            "ahv_number": valid_ahv(43),
            "case_ref": "",
            **consent_fields(),
        },
        files=signed_form(),
    )

    assert response.status_code == 422
    assert "Bitte die Fallnummer der Gemeinde angeben." in response.text
    assert find_valid_ahv_numbers(response.text) == []


async def test_a_valid_anmeldung_erstgespraech_gives_a_quittung_and_a_referral_to_the_zif(
    http_door: HttpApp,
) -> None:
    await _login(http_door)
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await http_door.client.post(
        "/formular/erstgespraech",
        data={
            "csrf_token": await _form_csrf(http_door, "erstgespraech"),
            "ahv_number": valid_ahv(44),
            "case_ref": "SH-2026-044",
            "answer_due": "2026-12-15",
            "note": "Familie mit zwei Kindern, Deutschkurs A1 besucht",
            **consent_fields(),
        },
        files=signed_form(),
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "Quittung" in response.text
    assert "angenommen" in response.text
    canonical_id = _canonical_id_on(response.text)
    record = await _canonical(http_door, start, canonical_id)
    [plain] = await opened(http_door.settings, [record])
    event = from_kafka(plain.key, plain.value, plain.headers)
    assert event.type == "ch.bl.iiz.referral.requested.v1"
    assert event.source == "/iiz/bl/sozialhilfe/2829"
    assert event.datacategory.value == "case-admin"
    assert event.data.to_institution == "zif"
    assert event.data.purpose.value == "zif-first-interview"
    assert event.data.person.case_ref == "SH-2026-044"
    assert str(event.data.answer_due) == "2026-12-15"
    assert find_valid_ahv_numbers(plain.value.decode()) == []


async def test_a_document_upload_announces_hash_size_and_type_but_not_the_content(
    http_door: HttpApp,
) -> None:
    await _login(http_door)
    content = b"%PDF-1.7\n" + uuid.uuid4().bytes * 1000 + b"\n%%EOF"
    start = await end_offsets(http_door.settings, [CASE_EVENTS])

    response = await http_door.client.post(
        "/formular/dokument",
        data={
            "csrf_token": await _form_csrf(http_door, "dokument"),
            "ahv_number": valid_ahv(45),
            "case_ref": "SH-2026-045",
        },
        files={"document": ("Kursbestätigung Deutsch A2.pdf", content, "text/plain")},
        follow_redirects=True,
    )

    assert response.status_code == 200, response.text
    assert "angenommen" in response.text
    record = await _canonical(http_door, start, _canonical_id_on(response.text))
    [event] = await events(http_door.settings, [record])
    assert event.type == "ch.bl.iiz.document.shared.v1"
    assert event.data.sha256 == hashlib.sha256(content).hexdigest()
    assert event.data.size_bytes == len(content)
    assert event.data.media_type == "application/pdf"
    assert event.data.title == "Kursbestätigung Deutsch A2.pdf"
    assert event.data.held_by == MUNICIPALITY
    assert content[9:40] not in record.value


async def test_the_document_page_says_how_the_document_is_kept_and_who_may_download_it(
    http_door: HttpApp,
) -> None:
    await _login(http_door)

    page = await http_door.client.get("/formular/dokument")

    assert "verschlüsselt" in page.text
    assert "jeder Abruf wird protokolliert" in page.text
    assert "PDF, JPEG oder PNG" in page.text


async def test_a_revoked_token_ends_the_form_session(http_door: HttpApp) -> None:
    token = await http_door.issue_token(MUNICIPALITY)
    page = await http_door.client.get("/formular/anmelden")
    await http_door.client.post(
        "/formular/anmelden", data={"token": token, "csrf_token": _csrf(page.text)}
    )
    assert (await http_door.client.get("/formular")).status_code == 200

    await http_door.revoke_token(token)

    response = await http_door.client.get("/formular")
    assert response.status_code == 303
    assert response.headers["location"] == "/formular/anmelden"


async def test_logging_out_ends_the_session(http_door: HttpApp) -> None:
    await _login(http_door)
    overview = await http_door.client.get("/formular")

    logged_out = await http_door.client.post(
        "/formular/abmelden", data={"csrf_token": _csrf(overview.text)}
    )

    assert "Sie sind abgemeldet." in logged_out.text
    assert (await http_door.client.get("/formular/erstgespraech")).status_code == 303


async def test_no_other_site_can_log_anyone_out(http_door: HttpApp) -> None:
    """Signing out is a POST with the session's CSRF token: a link or a forged form elsewhere
    does nothing."""
    await _login(http_door)

    by_link = await http_door.client.get("/formular/abmelden")
    forged = await http_door.client.post("/formular/abmelden", data={"csrf_token": "forged"})

    assert by_link.status_code == 404  # no page of that name: only the POST signs out
    assert forged.status_code == 403
    assert (await http_door.client.get("/formular/erstgespraech")).status_code == 200


async def test_a_document_over_the_size_limit_is_refused_413_in_german(
    intake_settings: IntakeSettings,
) -> None:
    settings = intake_settings.model_copy(update={"intake_max_document_bytes": 4096})
    async with http_intake(settings) as door:
        await _login(door)
        csrf = await _form_csrf(door, "dokument")

        response = await door.client.post(
            "/formular/dokument",
            data={"csrf_token": csrf, "ahv_number": valid_ahv(46), "case_ref": "SH-46"},
            files={"document": ("gross.pdf", b"%PDF-" + b"x" * 200_000, "application/pdf")},
        )

        assert response.status_code == 413
        assert "zu gross" in response.text
