""" "Meine Fälle" and "Fristen" in headless Chromium, judged against an injected today
(5 December 2026: long after the story's newest event in March 2026), each case linked to its
page; the committee is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from services.coordination.settings import CoordinationSettings
from tests.browser.conftest import StoryCase, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TODAY = dt.date(2026, 12, 5)
WEEK = "(30.11.2026 \u2013 06.12.2026)"  # Monday to Sunday, en dash
SignIn = Callable[[StoryCase, str, str], None]


@pytest.fixture
def coordination_settings(coordination_settings: CoordinationSettings) -> CoordinationSettings:
    """The served API judges on TODAY, as the demo's does on its last simulated day."""
    return coordination_settings.model_copy(update={"coordination_today": TODAY})


@pytest.fixture
def signed_in(page: webdriver.Chrome) -> Iterator[Callable[[StoryCase, str, str], None]]:
    """Signs the browser in as a user of an institution (the one place to change how these
    tests sign in): every request carries the user's bearer token, which the pages accept
    beside the session; cleared after the test."""

    def sign_in_as(story: StoryCase, institution: str, role: str) -> None:
        token = story.token(institution, role)
        page.execute_cdp_cmd("Network.enable", {})
        page.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {token}"}}
        )

    yield sign_in_as
    page.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


def test_my_cases_lists_the_case_with_its_overdue_referral_judged_today(
    story_case: StoryCase, page: webdriver.Chrome, signed_in: SignIn
) -> None:
    signed_in(story_case, "rav", "coordinator")
    page.get(f"{story_case.base}/faelle")

    assert page.find_element(By.TAG_NAME, "h1").text == "Meine Fälle"
    assert page.find_element(By.CSS_SELECTOR, ".heute").text == "05.12.2026"
    row = page.find_element(By.CSS_SELECTOR, f"tr.fall[data-fall='{story_case.number}']")
    assert "ueberfaellig" in (row.get_attribute("class") or "")
    overdue = row.find_element(By.CSS_SELECTOR, ".ueberfaellige").text
    assert "09.03.2026: Antwort von Assessmentcenter auf Ihre Anmeldung" in overdue
    assert "IV-Stelle, RAV" in row.find_element(By.CSS_SELECTOR, ".aktiv").text
    assert page.find_element(By.CSS_SELECTOR, "a.nav-faelle").text == "Meine Fälle"
    screenshot(page, "faelle-rav")

    row.find_element(By.LINK_TEXT, story_case.number).click()
    assert page.find_element(By.TAG_NAME, "h1").text == f"Fall {story_case.number}"
    assert page.find_element(By.CSS_SELECTOR, ".beurteilt").text == "05.12.2026"
    deadlines = page.find_element(By.CSS_SELECTOR, "table.fristen").text
    assert "30.06.2026 Geplantes Ende der Massnahme RAV überfällig" in deadlines


def test_filtering_to_closed_cases_leaves_none_and_says_so(
    story_case: StoryCase, page: webdriver.Chrome, signed_in: SignIn
) -> None:
    signed_in(story_case, "rav", "coordinator")
    page.get(f"{story_case.base}/faelle")
    page.find_element(By.LINK_TEXT, "abgeschlossene").click()

    assert "status=abgeschlossen" in page.current_url
    assert not page.find_elements(By.CSS_SELECTOR, "tr.fall")
    assert "Keine Fälle für diese Auswahl." in page.find_element(By.TAG_NAME, "main").text


def test_fristen_shows_the_referral_the_assessmentcenter_has_not_answered(
    story_case: StoryCase, page: webdriver.Chrome, signed_in: SignIn
) -> None:
    signed_in(story_case, "assessmentcenter", "caseworker")
    page.get(f"{story_case.base}/fristen")

    assert page.find_element(By.TAG_NAME, "h1").text == "Fristen"
    text = page.find_element(By.TAG_NAME, "main").text
    assert WEEK in text
    [item] = page.find_elements(By.CSS_SELECTOR, "table.fristenliste tr.frist")
    assert "ueberfaellig" in (item.get_attribute("class") or "")
    assert "09.03.2026 überfällig Antwort auf Anmeldung von RAV" in item.text
    assert item.find_element(By.LINK_TEXT, story_case.number).get_attribute("href") is not None
    screenshot(page, "fristen-assessmentcenter")


def test_the_committee_gets_no_case_list(
    story_case: StoryCase, page: webdriver.Chrome, signed_in: SignIn
) -> None:
    signed_in(story_case, "ksa", "committee")
    page.get(f"{story_case.base}/faelle")

    assert page.find_element(By.TAG_NAME, "h1").text == "Kein Zugriff"
    assert story_case.number not in page.page_source
