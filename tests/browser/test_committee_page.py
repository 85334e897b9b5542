"""The committee dashboard in headless Chromium, with metric rows from a stand-in for
``metrics.api_data.metrics_rows``: SVG charts, German labels, suppressed cells as dashes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import asyncpg
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from schemas.registry.projects import load_projects
from services.coordination.metrics.api_data import publishable_rows
from services.coordination.metrics.disclosure import protect
from services.coordination.pages import routes
from services.coordination.settings import CoordinationSettings
from simulator.population import build_population
from tests.browser.conftest import mint, screenshot, sign_in
from tests.e2e.metrics_truth import facts_from_scripts

pytestmark = [pytest.mark.browser, pytest.mark.integration]
DASH = "\u2013"


def row(scope: str, period: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scope": scope,
        "period": period,
        "cases_opened": 12,
        "cases_active": 30,
        "cases_closed": 7,
        "closed_by_outcome": {
            "employment": 3,
            "education": None,
            "iv-measure": 0,
            "iv-pension": 0,
            "social-assistance-exit": None,
            "moved-away": 0,
            "other": 2,
        },
        "median_days_to_first_measure": 14.0,
        "parallel_cases": 9,
        "parallel_share": 0.3,
        "handoffs": 6,
        "median_handoff_gap_days": 21.5,
        "institutions_per_case": 2.4,
        "referrals_answered": 8,
        "referral_acceptance_rate": 0.75,
        "median_referral_answer_days": 6.0,
        "reentries_12m": None,
        "measure_costs_chf": {"iv": "12345.00", "rav": None},
        "suppressed": [
            "closed_by_outcome.education",
            "closed_by_outcome.social-assistance-exit",
            "reentries_12m",
        ],
    }
    return {**base, **changes}


ROWS = [
    row("canton", "2026-Q1", parallel_share=0.2, median_days_to_first_measure=20.0),
    row("canton", "2026-Q2", parallel_share=0.25),
    row("canton", "2026-Q3"),
    row("IIZ-FALLKOORD", "2026-Q1", parallel_share=0.4),
    row("IIZ-FALLKOORD", "2026-Q2", parallel_share=None, suppressed=["parallel_share"]),
    row("IIZ-FALLKOORD", "2026-Q3", parallel_share=0.5),
]


@pytest.fixture
def fake_metrics(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``metrics_rows`` answers with ROWS and records the period asked for."""
    asked: list[str] = []

    async def metrics_rows(
        pool: Any, settings: CoordinationSettings, period: str
    ) -> list[dict[str, Any]]:
        asked.append(period)
        return ROWS

    monkeypatch.setattr(routes, "metrics_rows", metrics_rows)
    return asked


async def test_the_committee_sees_german_svg_charts_with_suppressed_cells_as_dashes(
    served: str,
    coordination_settings: CoordinationSettings,
    db: asyncpg.Pool,
    fake_metrics: list[str],
    page: webdriver.Chrome,
) -> None:
    sign_in(page, served, mint(coordination_settings, "ksa", "committee", "carla"))

    assert page.current_url.endswith("/ausschuss")  # committee members land on the dashboard
    assert fake_metrics == ["quarter"]
    assert page.find_element(By.TAG_NAME, "h1").text == "IIZ-Ausschuss: Kennzahlen"
    charts = page.find_elements(By.CSS_SELECTOR, "svg.diagramm")
    assert len(charts) == 4
    headings = [h.text for h in page.find_elements(By.CSS_SELECTOR, ".diagramm-karte h2")]
    assert headings == [
        "Anteil Fälle mit parallelen Angeboten",
        "Median Tage bis zur ersten Massnahme (Tage)",
        "Median Lücke bei Übergaben (Tage)",
        "Abgeschlossene Fälle nach Ergebnis (Kanton)",
    ]
    parallel = page.find_element(By.CSS_SELECTOR, "[data-kennzahl=parallel_share]")
    assert parallel.find_elements(By.CSS_SELECTOR, "g.reihe[data-reihe=Kanton] polyline")
    assert "Operative IIZ-Fallkoordination" in parallel.text  # projects by name in the legend
    outcome_bars = page.find_elements(By.CSS_SELECTOR, "[data-kennzahl=closed_by_outcome] rect")
    assert outcome_bars
    canton = page.find_element(By.CSS_SELECTOR, "section.tabelle[data-scope=canton]")
    suppressed = canton.find_elements(By.CSS_SELECTOR, "td.unterdrueckt")
    assert suppressed
    assert all(cell.text == f"{DASH}*" for cell in suppressed)
    assert "Wiedereintritte (12 Mt.)" in canton.text
    assert "30 %" in canton.text
    footnote = page.find_element(By.CSS_SELECTOR, "p.fussnote").text
    assert "aus Datenschutzgründen unterdrückt: weniger als 5 Fälle" in footnote
    csv = page.find_element(By.CSS_SELECTOR, "a.csv")
    assert csv.text == "CSV herunterladen"
    assert (csv.get_attribute("href") or "").endswith("/v1/metrics?format=csv&period=quarter")
    screenshot(page, "ausschuss")

    page.find_element(By.LINK_TEXT, "Jahre").click()
    assert fake_metrics == ["quarter", "year"]

    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not page.find_element(By.CSS_SELECTOR, "a.csv").is_displayed()
    screenshot(page, "ausschuss-druck")
    audited = await db.fetch(
        "SELECT actor, detail FROM audit_log WHERE action = 'read-metrics-page' ORDER BY seq"
    )
    assert [(r["actor"], json.loads(r["detail"])["period"]) for r in audited] == [
        ("ksa/committee/carla", "quarter"),
        ("ksa/committee/carla", "year"),
    ]


def test_a_coordinator_is_refused_the_committee_dashboard(
    served: str,
    coordination_settings: CoordinationSettings,
    fake_metrics: list[str],
    page: webdriver.Chrome,
) -> None:
    sign_in(page, served, mint(coordination_settings, "rav", "coordinator", "anna"))
    page.get(f"{served}/ausschuss")

    assert page.find_element(By.TAG_NAME, "h1").text == "Kein Zugriff"
    assert not page.find_elements(By.CSS_SELECTOR, "svg.diagramm")
    assert fake_metrics == []


@pytest.fixture
def simulated_metrics(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The figures of a simulated population (200 persons), computed and protected as the API
    does, answering for ``metrics_rows``."""
    facts = facts_from_scripts(build_population(200, 20261122).persons)
    as_of = dt.date(max(f.closed_on or f.opened_on for f in facts).year + 1, 1, 1)
    projects = [p.code for p in load_projects().projects]
    rows = publishable_rows(facts, as_of=as_of, projects=projects)
    quarters = [r.to_dict() for r in protect(rows) if "Q" in r.period]

    async def metrics_rows(
        pool: Any, settings: CoordinationSettings, period: str
    ) -> list[dict[str, Any]]:
        return quarters

    monkeypatch.setattr(routes, "metrics_rows", metrics_rows)
    return quarters


def test_the_dashboard_shows_the_figures_of_a_simulated_population(
    served: str,
    coordination_settings: CoordinationSettings,
    simulated_metrics: list[dict[str, Any]],
    page: webdriver.Chrome,
) -> None:
    sign_in(page, served, mint(coordination_settings, "ksa", "committee", "carla"))

    assert len(page.find_elements(By.CSS_SELECTOR, "svg.diagramm")) == 4
    canton = page.find_element(By.CSS_SELECTOR, "section.tabelle[data-scope=canton]")
    shown = {
        cells[0].text: cells[1].text
        for tr in canton.find_elements(By.CSS_SELECTOR, "tbody tr")
        if (cells := tr.find_elements(By.CSS_SELECTOR, "th, td"))
    }
    expected = {
        r["period"]: (str(r["cases_opened"]) if r["cases_opened"] is not None else f"{DASH}*")
        for r in simulated_metrics
        if r["scope"] == "canton"
    }
    assert shown == expected
    figures = [td.text for td in canton.find_elements(By.CSS_SELECTOR, "tbody td")]
    assert any(v not in ("0", f"{DASH}*", "") for v in figures), "the canton's table is blank"
    screenshot(page, "ausschuss-simulation")
