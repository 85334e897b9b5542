"""ZIF answers a municipality's registration on the case page, and the municipality reads the
answer in its Posteingang, in headless Chromium against the served API, the running consumer,
the real broker and database. The answer travels the real way: the page publishes it to the
case-event topic, coordination's consumer folds it and decides who may see it."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from schemas.events import CaseOpened, ConsentGranted, ReferralRequested
from schemas.vocabulary import DataCategory, ReferralPurpose
from services.coordination.settings import CoordinationSettings
from tests.browser.conftest import READY_SECONDS, StoryCase, screenshot, sign_in
from tests.case_story import CaseStory
from tests.integration.coordination.conftest import Publish, eventually, processed_count

pytestmark = [pytest.mark.browser, pytest.mark.integration]
MUNICIPALITY = "sozialhilfe-2770"
RECOMMENDATION = "Verbindliche Empfehlung: Deutschkurs B1, danach Integrationsvorlehre."


@pytest.fixture
def coordination_settings(coordination_settings: CoordinationSettings) -> CoordinationSettings:
    """Served in development so that ``sign_in`` may paste a minted token (until the browser
    tests sign in at the local Keycloak: then only ``sign_in_as`` changes)."""
    return coordination_settings.model_copy(update={"environment": "development"})


def sign_in_as(page: webdriver.Chrome, story: StoryCase, institution: str, role: str) -> None:
    """Signed in as a user of ``institution`` (one place to change how tests sign in)."""
    sign_in(page, story.base, story.token(institution, role, user="eva"))


@pytest.fixture
async def zif_case(
    running_coordination: CoordinationSettings,
    publish: Publish,
    db: asyncpg.Pool,
    served: str,
) -> StoryCase:
    story = CaseStory(1602)
    story.by(MUNICIPALITY, CaseOpened, reason="Integrationsagenda", project_code="IAS-VAFL")
    story.by(
        MUNICIPALITY,
        ConsentGranted,
        institutions=[MUNICIPALITY, "zif"],
        categories=[DataCategory.CASE_ADMIN, DataCategory.INTEGRATION],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1602",
    )
    story.by(
        MUNICIPALITY,
        ReferralRequested,
        to_institution="zif",
        purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
        answer_due=dt.date(2026, 3, 20),
    )
    await publish(story.events)
    await eventually(lambda: _processed(db, len(story.events)), within=60)
    number = await db.fetchval(
        "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
    )
    return StoryCase(running_coordination, served, number, story)


async def _processed(db: asyncpg.Pool, count: int) -> bool:
    return await processed_count(db) >= count


async def _status(db: asyncpg.Pool, expected: str) -> bool:
    return bool(await db.fetchval("SELECT status FROM referrals") == expected)


def _answer(page: webdriver.Chrome, kind: str, **fields: str) -> None:
    page.find_element(By.ID, f"antwort-{kind}").click()
    for name, value in fields.items():
        element = page.find_element(By.ID, name)
        page.execute_script("arguments[0].value = arguments[1];", element, value)
    sent = page.find_element(By.CSS_SELECTOR, "form.antwort button[type=submit]")
    sent.click()
    WebDriverWait(page, READY_SECONDS).until(staleness_of(sent))  # the answer's page, not the form


async def test_zif_answers_on_the_case_page_and_the_municipality_reads_it_in_its_posteingang(
    zif_case: StoryCase, page: webdriver.Chrome, db: asyncpg.Pool
) -> None:
    base, number = zif_case.base, zif_case.number
    sign_in_as(page, zif_case, "zif", "caseworker")
    page.get(f"{base}/fall/{number}")
    section = page.find_element(By.CSS_SELECTOR, "section.antworten")
    assert "Anmeldungen an Ihre Institution" in section.text
    section.find_element(By.LINK_TEXT, "Beantworten").click()
    assert page.find_element(By.TAG_NAME, "h1").text == "Anmeldung beantworten"
    assert "Erstgespräch ZIF" in page.find_element(By.CSS_SELECTOR, "section.anmeldung").text
    screenshot(page, "antwort-zif-formular")

    _answer(page, "accept", termin="2026-03-16")
    assert "Ihre Zusage wurde übermittelt" in page.find_element(By.CSS_SELECTOR, "main").text
    await eventually(lambda: _status(db, "accepted"), within=60)

    page.get(f"{base}/fall/{number}")
    page.find_element(By.CSS_SELECTOR, "section.antworten").find_element(
        By.LINK_TEXT, "Abschliessen"
    ).click()
    _answer(page, "complete", ergebnis=RECOMMENDATION)
    assert "Abschluss mit Ergebnis" in page.find_element(By.CSS_SELECTOR, "main").text
    screenshot(page, "antwort-zif-gesendet")
    await eventually(lambda: _status(db, "completed"), within=60)
    page.get(f"{base}/posteingang")
    assert "Anmeldung" in page.find_element(By.CSS_SELECTOR, "table.posteingang").text

    page.delete_all_cookies()
    sign_in_as(page, zif_case, MUNICIPALITY, "caseworker")
    page.find_element(By.CSS_SELECTOR, "a.nav-posteingang").click()
    assert page.find_element(By.TAG_NAME, "h1").text == "Posteingang"
    rows = page.find_elements(By.CSS_SELECTOR, "tr.eintrag")
    assert [r.find_elements(By.TAG_NAME, "td")[2].text.split("\n")[0] for r in rows] == [
        "Zuweisung abgeschlossen neu",
        "Anmeldung angenommen neu",
    ]
    assert RECOMMENDATION in rows[0].text
    assert "16.03.2026" in rows[1].text
    assert "2 ungelesene Einträge" in page.find_element(By.CSS_SELECTOR, "main").text
    screenshot(page, "posteingang-gemeinde")

    rows[0].find_element(By.CSS_SELECTOR, "a.oeffnen").click()
    assert page.find_element(By.TAG_NAME, "h1").text == f"Fall {number}"
    page.get(f"{base}/posteingang")
    assert "1 ungelesener Eintrag" in page.find_element(By.CSS_SELECTOR, "main").text
    assert "gelesen" in (
        page.find_elements(By.CSS_SELECTOR, "tr.eintrag")[0].get_attribute("class") or ""
    )
    mark = page.find_element(By.CSS_SELECTOR, "form.posteingang button[type=submit]")
    mark.click()
    WebDriverWait(page, READY_SECONDS).until(staleness_of(mark))  # the Posteingang again
    assert "0 ungelesene Einträge" in page.find_element(By.CSS_SELECTOR, "main").text
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'read-inbox' AND actor LIKE $1",
        f"{MUNICIPALITY}/%",
    )
    assert audited == 3
