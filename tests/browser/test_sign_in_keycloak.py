"""Signing in to the German pages in headless Chromium through the local Keycloak's German login
form (authorization code + PKCE), as ``koordination-rav``; signing out ends Keycloak's session
too: the next sign-in shows Keycloak's login form again. Screenshots of each step."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from services.coordination.settings import CoordinationSettings
from tests.browser.conftest import READY_SECONDS, screenshot
from tests.oidc import coordination_overrides, provider, user_password

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def coordination_settings(coordination_settings: CoordinationSettings) -> CoordinationSettings:
    """The served API signs in through the local Keycloak."""
    variables = provider().variables
    return coordination_settings.model_copy(
        update={
            **coordination_overrides(),
            "oidc_issuer": provider().issuer,
            "coordination_oidc_client_secret": SecretStr(
                variables["IIZ_COORDINATION_OIDC_CLIENT_SECRET"]
            ),
        }
    )


def wait_for(driver: webdriver.Chrome, css: str) -> None:
    WebDriverWait(driver, READY_SECONDS).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def to_keycloak(page: webdriver.Chrome) -> None:
    page.find_element(By.ID, "kantonales-login").click()
    wait_for(page, "form#kc-form-login")


def test_a_coordinator_signs_in_through_keycloak_and_out_again(
    served: str, page: webdriver.Chrome
) -> None:
    page.get(f"{served}/anmelden")
    assert page.find_element(By.TAG_NAME, "h1").text == "Anmelden"
    screenshot(page, "anmelden-kantonal")

    to_keycloak(page)
    assert page.current_url.startswith(provider().issuer)
    assert "Anmelden" in page.find_element(By.TAG_NAME, "body").text  # German (ui_locales=de)
    screenshot(page, "keycloak-anmelden")
    page.find_element(By.ID, "username").send_keys("koordination-rav")
    page.find_element(By.ID, "password").send_keys(user_password("koordination-rav"))
    page.find_element(By.ID, "kc-login").click()
    WebDriverWait(page, READY_SECONDS).until(lambda d: d.current_url.startswith(served))
    assert page.current_url == f"{served}/faelle"
    screenshot(page, "angemeldet-faelle")

    page.get(f"{served}/anmelden")
    signed_in_as = page.find_element(By.CSS_SELECTOR, ".wer").text
    assert signed_in_as == "Angemeldet: koordination-rav (RAV, Koordination)"
    [cookie] = [c for c in page.get_cookies() if c["name"] == "iiz_sitzung"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    screenshot(page, "angemeldet-kantonal")

    page.find_element(By.CSS_SELECTOR, ".sitzung form button").click()
    wait_for(page, "p[role=status]")
    assert page.current_url.startswith(f"{served}/anmelden?abgemeldet=1")
    assert "Sie sind abgemeldet." in page.find_element(By.TAG_NAME, "main").text
    assert not page.find_elements(By.CSS_SELECTOR, ".sitzung form")
    screenshot(page, "abgemeldet-kantonal")

    to_keycloak(page)  # Keycloak's session has ended too: its login form, no silent sign-in
    assert page.find_element(By.ID, "username").is_displayed()
    screenshot(page, "keycloak-anmelden-nach-abmeldung")
