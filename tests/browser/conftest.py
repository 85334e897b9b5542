"""Browser tests: the coordination API served by uvicorn in this process, a small case story
on the real broker and database, and Debian's headless Chromium driven through chromedriver.

No skipping: without /usr/bin/chromium and /usr/bin/chromedriver (``infra/browser`` installs
them; ``make setup`` runs it) the tests fail and say so.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from services.coordination.api.app import create_api
from services.coordination.settings import CoordinationSettings
from tests.case_story import CaseStory, iv_in_parallel
from tests.infra import REPO
from tests.integration.coordination import conftest as coordination
from tests.integration.coordination.conftest import Publish, eventually, processed_count
from tests.tokens import mint_token

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=de-CH",
    "--window-size=1280,1000",
)
# Coordination's fixtures, registered here under their own names: a private schema and consumer
# group, the consumer running in this process, a publisher of canonical events.
coordination_settings = coordination.coordination_settings
person_registry = coordination.person_registry
db = coordination.db
running_coordination = coordination.running_coordination
publish = coordination.publish

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
READY_SECONDS = 30.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium against the pages")


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """Debian's Chromium through the chromedriver of the same package (never a download)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(
            f"headless Chromium is missing ({', '.join(missing)}): run `infra/browser` as root "
            "(Debian packages chromium and chromium-driver) or `make setup`",
            pytrace=False,
        )
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The browser with no cookies from an earlier test."""
    browser.delete_all_cookies()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    yield browser
    browser.delete_all_cookies()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, name: str) -> Iterator[str]:
    """An ASGI app under uvicorn on a free loopback port, in its own thread and event loop
    (the browser's requests must not wait for the test's loop); its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + READY_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError(f"{name} did not start on port {port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def served(coordination_settings: CoordinationSettings) -> Iterator[str]:
    """The coordination API (with its pages), served in its own thread."""
    # Development: the tests sign in by pasting a token, a page that exists only there.
    development = coordination_settings.model_copy(update={"environment": "development"})
    with serve_in_thread(create_api(development), "coordination-api") as base:
        yield base


def mint(settings: CoordinationSettings, institution: str, role: str, user: str) -> str:
    return mint_token(settings, user, institution, role, dt.timedelta(hours=1))


@dataclass(frozen=True)
class StoryCase:
    settings: CoordinationSettings
    base: str
    number: str
    story: CaseStory

    def token(self, institution: str, role: str = "coordinator", user: str = "anna") -> str:
        return mint(self.settings, institution, role, user)


@pytest.fixture
async def story_case(
    running_coordination: CoordinationSettings,
    publish: Publish,
    db: asyncpg.Pool,
    served: str,
) -> StoryCase:
    """The story published to the case-event topic and folded by the running consumer."""
    story = CaseStory(11)
    iv_in_parallel(story, project_code="IIZ-FALLKOORD", planned_end=dt.date(2026, 6, 30))
    await publish(story.events)

    async def all_processed() -> bool:
        return await processed_count(db) >= len(story.events)

    await eventually(all_processed, within=60)
    number = await db.fetchval(
        "SELECT case_number FROM cases WHERE pseudonym = $1", story.pseudonym
    )
    return StoryCase(running_coordination, served, number, story)


def sign_in(driver: webdriver.Chrome, base: str, token: str) -> None:
    """Paste the token into the German sign-in form, as a person would."""
    driver.get(f"{base}/anmelden")
    field = driver.find_element(By.ID, "token")
    field.clear()
    driver.execute_script("arguments[0].value = arguments[1];", field, token)
    driver.execute_script("window.signInFormStillShown = true;")
    driver.find_element(By.CSS_SELECTOR, "form.anmelden button[type=submit]").click()
    WebDriverWait(driver, READY_SECONDS).until(  # a new document answered the form
        lambda d: d.execute_script(
            "return !window.signInFormStillShown && document.readyState === 'complete';"
        )
    )


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """A full-page PNG in test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot: dict[str, Any] = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
