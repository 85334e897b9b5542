"""The coordinator's case page in headless Chromium: signed in through /anmelden, one lane per
institution, a parallel band, open referrals and deadlines, consents, and nothing the caller's
institution may not see."""

from __future__ import annotations

import base64

import asyncpg
import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser.conftest import SCREENSHOTS, StoryCase, screenshot, sign_in
from tests.case_story import HEALTH_TEXT

pytestmark = [pytest.mark.browser, pytest.mark.integration]
UNKNOWN_CASE = "IIZ-2099-999999"


def lanes(driver: webdriver.Chrome) -> list[str]:
    return [
        g.get_attribute("data-institution") or ""
        for g in driver.find_elements(By.CSS_SELECTOR, "svg.schwimmbahnen g.bahn")
    ]


def test_signing_in_keeps_the_session_in_an_httponly_lax_cookie_never_in_the_url(
    story_case: StoryCase, page: webdriver.Chrome
) -> None:
    page.get(f"{story_case.base}/fall/{story_case.number}")
    assert page.current_url.endswith("/anmelden")  # not signed in: to the sign-in page
    assert page.find_element(By.TAG_NAME, "h1").text == "Anmelden"
    screenshot(page, "anmelden")

    token = story_case.token("rav")
    sign_in(page, story_case.base, token)

    [cookie] = [c for c in page.get_cookies() if c["name"] == "iiz_sitzung"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"  # Lax: it must come back from the identity provider
    assert token not in cookie["value"]  # the session names the caller, it keeps no token
    assert token not in page.current_url
    assert page.find_element(By.CSS_SELECTOR, ".wer").text == "Angemeldet: anna (RAV, Koordination)"


def test_the_rav_coordinator_sees_lanes_a_parallel_band_referrals_and_consents(
    story_case: StoryCase, page: webdriver.Chrome
) -> None:
    sign_in(page, story_case.base, story_case.token("rav"))
    page.get(f"{story_case.base}/fall/{story_case.number}")

    assert page.find_element(By.TAG_NAME, "h1").text == f"Fall {story_case.number}"
    assert lanes(page)[:2] == ["rav", "iv"]
    assert "assessmentcenter" in lanes(page)
    assert page.find_elements(By.CSS_SELECTOR, "svg.schwimmbahnen rect.parallel-band")
    assert page.find_elements(By.CSS_SELECTOR, "g.bahn[data-institution=rav] rect.balken.benefit")
    assert page.find_elements(By.CSS_SELECTOR, "g.bahn[data-institution=iv] rect.balken.referral")
    waiting = "g.bahn[data-institution=assessmentcenter] rect.balken.anmeldung"
    assert page.find_elements(By.CSS_SELECTOR, waiting)  # the open referral, still waiting
    text = page.find_element(By.TAG_NAME, "main").text
    assert "Parallel\nJa" in text or "Ja: mehrere Institutionen" in text
    deadlines = page.find_element(By.CSS_SELECTOR, "table.fristen").text
    assert "Antwort auf Anmeldung an Assessmentcenter" in deadlines
    assert "überfällig" in deadlines
    assert "Geplantes Ende der Massnahme" in deadlines
    consents = page.find_element(By.CSS_SELECTOR, "table.einwilligungen").text
    assert "gültig" in consents
    assert "IV-Stelle, RAV" in consents
    assert "nicht eingeschlossen" in consents  # health is not covered
    # the caller's withheld field: named as withheld, its value nowhere on the page
    assert HEALTH_TEXT not in page.page_source
    withheld = "Zurückgehalten: Hindernisse (Gesundheit), Gesundheitliche Einschränkungen"
    assert withheld in text
    assert "Teilzeitpensum prüfen" in text
    screenshot(page, "fall-rav")

    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not page.find_element(By.CSS_SELECTOR, ".sitzung form button").is_displayed()
    screenshot(page, "fall-rav-druck")
    pdf = page.execute_cdp_cmd("Page.printToPDF", {"landscape": True, "printBackground": True})
    printed = base64.b64decode(pdf["data"])
    assert printed.startswith(b"%PDF")
    (SCREENSHOTS / "fall-rav.pdf").write_bytes(printed)


def test_iv_sees_its_own_assessment_in_full(story_case: StoryCase, page: webdriver.Chrome) -> None:
    sign_in(page, story_case.base, story_case.token("iv", "caseworker", "beat"))
    page.get(f"{story_case.base}/fall/{story_case.number}")

    assert HEALTH_TEXT in page.find_element(By.CSS_SELECTOR, "section.ereignisse").text
    assert {"rav", "iv"} <= set(lanes(page))
    screenshot(page, "fall-iv")


def test_an_uninvolved_institution_gets_the_same_404_page_as_for_an_unknown_case(
    story_case: StoryCase, page: webdriver.Chrome
) -> None:
    sign_in(page, story_case.base, story_case.token("berufsbildung"))
    page.get(f"{story_case.base}/fall/{UNKNOWN_CASE}")
    unknown = page.find_element(By.TAG_NAME, "main").get_attribute("innerHTML")
    page.get(f"{story_case.base}/fall/{story_case.number}")
    hidden = page.find_element(By.TAG_NAME, "main").get_attribute("innerHTML")

    assert hidden == unknown
    assert page.find_element(By.TAG_NAME, "h1").text == "Fall nicht gefunden"
    assert not page.find_elements(By.CSS_SELECTOR, "svg.schwimmbahnen")
    for secret in (story_case.number, "rav", "Teilzeitpensum", HEALTH_TEXT, "Einwilligung"):
        assert secret not in (hidden or "")
    screenshot(page, "fall-nicht-gefunden")


async def test_every_page_view_leaves_one_audit_row_and_the_404s_match_byte_for_byte(
    story_case: StoryCase, db: asyncpg.Pool
) -> None:
    def bearer(institution: str, role: str = "coordinator") -> dict[str, str]:
        return {"Authorization": f"Bearer {story_case.token(institution, role)}"}

    async with httpx.AsyncClient(base_url=story_case.base) as http:
        before = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'read-case-page'")
        seen = await http.get(f"/fall/{story_case.number}", headers=bearer("rav"))
        hidden = await http.get(f"/fall/{story_case.number}", headers=bearer("berufsbildung"))
        unknown = await http.get(f"/fall/{UNKNOWN_CASE}", headers=bearer("berufsbildung"))
        committee = await http.get(f"/fall/{story_case.number}", headers=bearer("rav", "committee"))
        anonymous = await http.get(f"/fall/{story_case.number}")

    assert seen.status_code == 200
    assert (hidden.status_code, unknown.status_code, committee.status_code) == (404, 404, 404)
    assert hidden.content == unknown.content
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/anmelden"
    assert "no-store" in seen.headers["cache-control"]
    assert "default-src 'none'" in seen.headers["content-security-policy"]
    rows = await db.fetch(
        "SELECT actor, object, detail FROM audit_log WHERE action = 'read-case-page' ORDER BY seq"
    )
    assert len(rows) - before == 4
    outcomes = [(r["actor"], r["object"]) for r in rows[before:]]
    assert outcomes == [
        ("rav/coordinator/anna", story_case.number),
        ("berufsbildung/coordinator/anna", story_case.number),
        ("berufsbildung/coordinator/anna", UNKNOWN_CASE),
        ("rav/committee/anna", story_case.number),
    ]
    assert '"outcome": "ok"' in rows[before]["detail"]
    assert '"outcome": "denied"' in rows[before + 1]["detail"]
    assert '"outcome": "not_found"' in rows[before + 2]["detail"]
