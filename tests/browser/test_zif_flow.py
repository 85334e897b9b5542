"""The ZIF registration flow end to end, without e-mail, in headless Chromium: everyone signs in
through the local Keycloak; the municipality registers a person for the Erstgespräch on intake's
web form with the person's consent and the signed consent form; ZIF finds the case in its
worklist, reads the registration and downloads the signed form; ZIF answers with its binding
recommendation on the case page; the municipality reads the answer in its Posteingang.

Everything travels the real way: the form's submission goes through intake's pipeline to the
case-event topic on the real broker, coordination's consumer folds it and decides who may see
what, the pages read coordination's PostgreSQL, the document's bytes come from the encrypted
document store. Screenshots of every page are kept in test-artifacts/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.wait import WebDriverWait

from schemas.registry import load_institutions
from services.coordination.settings import CoordinationSettings
from services.intake.http_door.app import create_http_app
from services.intake.settings import IntakeSettings
from tests.browser.conftest import READY_SECONDS, screenshot, serve_in_thread
from tests.factories import valid_ahv
from tests.integration.coordination.conftest import eventually
from tests.integration.intake import conftest as intake
from tests.integration.intake.form_fields import pdf
from tests.oidc import coordination_overrides, provider, user_password

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MUNICIPALITY = "sozialhilfe-2829"  # Sozialdienst Liestal
MUNICIPAL_USER = f"koordination-{MUNICIPALITY}"
ZIF_USER = "koordination-zif"
RECOMMENDATION = "Verbindliche Empfehlung: Deutschkurs B1, danach Integrationsvorlehre."
CATEGORIES = ("case-admin", "integration", "documents", "identity")

# Intake's fixture, registered here under its own name: fresh schemas (also the documents').
intake_settings = intake.intake_settings


@pytest.fixture
def form_settings(intake_settings: IntakeSettings) -> IntakeSettings:
    """Intake's HTTP door and web form (fresh schemas), signing in through the local Keycloak."""
    return intake_settings.model_copy(
        update={
            "oidc_issuer": provider().issuer,
            "intake_oidc_client_secret": SecretStr(
                provider().variables["IIZ_INTAKE_OIDC_CLIENT_SECRET"]
            ),
        }
    )


@pytest.fixture
def coordination_settings(
    coordination_settings: CoordinationSettings, intake_settings: IntakeSettings
) -> CoordinationSettings:
    """The served coordination API signs in through the local Keycloak and reads the
    documents and person keys intake stored."""
    variables = provider().variables
    return coordination_settings.model_copy(
        update={
            **coordination_overrides(),
            "oidc_issuer": provider().issuer,
            "coordination_oidc_client_secret": SecretStr(
                variables["IIZ_COORDINATION_OIDC_CLIENT_SECRET"]
            ),
            "document_db_schema": intake_settings.document_db_schema,
            "person_db_schema": intake_settings.person_db_schema,
        }
    )


@pytest.fixture
def served_form(form_settings: IntakeSettings) -> Iterator[str]:
    """Intake's HTTP door with the web form, served in its own thread."""
    with serve_in_thread(create_http_app(form_settings), "intake-http") as base:
        yield base


def wait_for(page: webdriver.Chrome, css: str) -> None:
    WebDriverWait(page, READY_SECONDS).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def sign_in_at_keycloak(page: webdriver.Chrome, start: str, username: str, back_to: str) -> None:
    """From an app's sign-in page through Keycloak's German login form and back to the app."""
    page.get(start)
    page.find_element(By.ID, "kantonales-login").click()
    wait_for(page, "form#kc-form-login")
    page.find_element(By.ID, "username").send_keys(username)
    page.find_element(By.ID, "password").send_keys(user_password(username))
    page.find_element(By.ID, "kc-login").click()
    WebDriverWait(page, READY_SECONDS).until(lambda d: d.current_url.startswith(back_to))


def set_value(page: webdriver.Chrome, element_id: str, value: str) -> None:
    element = page.find_element(By.ID, element_id)
    page.execute_script("arguments[0].value = arguments[1];", element, value)


def register_for_first_interview(page: webdriver.Chrome, form: str, ahv: str, signed: Path) -> None:
    page.get(f"{form}/formular/erstgespraech")
    assert page.find_element(By.TAG_NAME, "h1").text == "Anmeldung Erstgespräch"
    page.find_element(By.ID, "ahv_number").send_keys(ahv)
    page.find_element(By.ID, "case_ref").send_keys("LI-2026-0815")
    set_value(page, "note", "Vorläufig aufgenommen seit 2025, Deutsch A2.")
    for category in CATEGORIES:
        box = page.find_element(
            By.CSS_SELECTOR, f"input[name=consent_categories][value='{category}']"
        )
        if not box.is_selected():
            box.click()
    today = dt.date.fromisoformat(
        page.find_element(By.ID, "consent_signed_on").get_attribute("max") or ""
    )
    set_value(page, "consent_signed_on", today.isoformat())
    set_value(page, "consent_valid_until", (today + dt.timedelta(days=365)).isoformat())
    page.find_element(By.ID, "consent_document").send_keys(str(signed))
    screenshot(page, "zif-anmeldung-formular")
    page.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait_for(page, "p[role=status]")


def download(page: webdriver.Chrome, link: Any, folder: Path) -> Path:
    """Click a download link as a person would; the file Chromium saved in ``folder``."""
    folder.mkdir()
    page.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    link.click()

    def saved(_: webdriver.Chrome) -> list[Path]:
        files = [f for f in folder.iterdir() if not f.name.endswith(".crdownload")]
        return files if files and not list(folder.glob("*.crdownload")) else []

    [file] = WebDriverWait(page, READY_SECONDS).until(saved)
    return file


def answer(page: webdriver.Chrome, link: str, kind: str, **fields: str) -> None:
    """Open the answer form from the case page's list of referrals to us, and send it."""
    section = page.find_element(By.CSS_SELECTOR, "section.antworten")
    section.find_element(By.LINK_TEXT, link).click()
    page.find_element(By.ID, f"antwort-{kind}").click()
    for name, value in fields.items():
        set_value(page, name, value)
    sent = page.find_element(By.CSS_SELECTOR, "form.antwort button[type=submit]")
    sent.click()
    WebDriverWait(page, READY_SECONDS).until(staleness_of(sent))  # the answer's page, not the form
    wait_for(page, "main")


async def has_status(db: asyncpg.Pool, expected: str) -> bool:
    return await referral_status(db) == expected


async def referral_status(db: asyncpg.Pool) -> str | None:
    status: str | None = await db.fetchval("SELECT status FROM referrals")
    return status


async def test_a_municipality_registers_a_person_with_zif_and_reads_zifs_answer_without_email(
    running_coordination: CoordinationSettings,
    served: str,
    served_form: str,
    db: asyncpg.Pool,
    page: webdriver.Chrome,
    tmp_path: Path,
) -> None:
    signed_form = pdf(uuid.uuid4().hex.encode())
    signed = tmp_path / "Einwilligung unterschrieben.pdf"
    signed.write_bytes(signed_form)
    ahv = valid_ahv(int(uuid.uuid4().int % 10**8))

    # The municipality signs in to the web form and registers the person, with the consent.
    sign_in_at_keycloak(page, f"{served_form}/formular/anmelden", MUNICIPAL_USER, served_form)
    register_for_first_interview(page, served_form, ahv, signed)
    receipt = page.find_element(By.TAG_NAME, "main").text
    assert "angenommen" in receipt
    assert hashlib.sha256(signed_form).hexdigest() in receipt
    assert ahv not in page.page_source
    screenshot(page, "zif-anmeldung-quittung")
    page.find_element(By.CSS_SELECTOR, "form.abmelden button").click()
    wait_for(page, "p[role=status]")

    # Coordination folds the registration: ZIF takes part and may see it under the consent.
    async def registration_reached_zif() -> bool:
        return await referral_status(db) == "open" and bool(
            await db.fetchval("SELECT count(*) FROM decisions WHERE recipient = 'zif' AND allowed")
        )

    await eventually(registration_reached_zif, within=90)

    # ZIF signs in to the pages, finds the case in its worklist and reads the registration.
    sign_in_at_keycloak(page, f"{served}/anmelden", ZIF_USER, f"{served}/faelle")
    screenshot(page, "zif-faelle")
    [case_link] = page.find_elements(By.CSS_SELECTOR, "table.faelle td a[href^='/fall/']")
    case_number = case_link.text
    case_link.click()
    assert page.find_element(By.TAG_NAME, "h1").text == f"Fall {case_number}"
    screenshot(page, "zif-fall")
    assert "Erstgespräch" in page.find_element(By.TAG_NAME, "main").text

    # ... and downloads the signed consent form: exactly the bytes the municipality uploaded.
    saved = download(page, page.find_element(By.CSS_SELECTOR, "a.dokument"), tmp_path / "zif")
    assert saved.read_bytes() == signed_form
    assert saved.suffix == ".pdf"
    audited = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'download-document' AND actor LIKE 'zif/%'"
    )
    assert audited == 1

    # ZIF accepts on the case page, holds the Erstgespräch, and answers with its binding
    # recommendation.
    answer(
        page, "Beantworten", "accept", termin=(dt.date.today() + dt.timedelta(days=7)).isoformat()
    )
    await eventually(lambda: has_status(db, "accepted"), within=90)
    page.get(f"{served}/fall/{case_number}")
    answer(page, "Abschliessen", "complete", ergebnis=RECOMMENDATION)
    assert "Abschluss mit Ergebnis" in page.find_element(By.TAG_NAME, "main").text
    screenshot(page, "zif-antwort-gesendet")
    page.find_element(By.CSS_SELECTOR, ".sitzung form button").click()
    wait_for(page, "p[role=status]")

    await eventually(lambda: has_status(db, "completed"), within=90)

    # The municipality signs in to the pages and reads ZIF's answer in its Posteingang.
    sign_in_at_keycloak(page, f"{served}/anmelden", MUNICIPAL_USER, f"{served}/faelle")
    page.find_element(By.CSS_SELECTOR, "a.nav-posteingang").click()
    assert page.find_element(By.TAG_NAME, "h1").text == "Posteingang"
    rows = page.find_elements(By.CSS_SELECTOR, "tr.eintrag")
    assert RECOMMENDATION in rows[0].text
    assert "Zuweisung abgeschlossen" in rows[0].text
    screenshot(page, "zif-posteingang-gemeinde")
    assert load_institutions().by_id[MUNICIPALITY].name in page.page_source
