"""The committee dashboard in headless Chromium, with published figures from a stand-in for
``published_figures``: SVG charts, German labels, blank cells as dashes, the disclosure control
told in German, the yearly reports linked; and the page of a realistic year (about 1,000 cases)
with a point for every project and the canton in every headline chart."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from typing import Any

import asyncpg
import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from schemas.registry.projects import load_projects
from services.coordination.api import metrics_routes
from services.coordination.metrics.api_data import publishable_rows
from services.coordination.metrics.disclosure import Publication, publish
from services.coordination.pages import routes
from services.coordination.settings import CoordinationSettings
from simulator.population import build_population, build_year_population
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


YEAR_ROWS = [row("canton", "2026"), row("IIZ-FALLKOORD", "2026", parallel_share=0.45)]


class GivenRow(dict[str, Any]):
    """A row as ``Row.to_dict()`` gives it, for a publication made up by hand."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


def given(rows: list[dict[str, Any]]) -> Publication:
    """Rows made up by hand, of which (say) 2 cells were perturbed and 7 are blank."""
    made_up: list[Any] = [GivenRow(r) for r in rows]
    return Publication(rows=made_up, cells=96, perturbed=2, blank=7, threshold=5, max_deviation=2)


def answering(monkeypatch: pytest.MonkeyPatch, publications: dict[str, Publication]) -> list[str]:
    """``published_figures`` answers with the publication of the period kind asked for and
    records the kinds asked for."""
    asked: list[str] = []

    async def published_figures(
        pool: Any, settings: CoordinationSettings, period: str
    ) -> Publication:
        asked.append(period)
        return publications[period]

    monkeypatch.setattr(routes, "published_figures", published_figures)
    monkeypatch.setattr(metrics_routes, "published_figures", published_figures)
    return asked


@pytest.fixture
def fake_metrics(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``published_figures`` answers with ROWS and YEAR_ROWS."""
    return answering(monkeypatch, {"quarter": given(ROWS), "year": given(YEAR_ROWS)})


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
    headings = [h.text for h in page.find_elements(By.CSS_SELECTOR, ".diagramm-karte h2")]
    assert headings == [
        "Aktive Fälle (Fälle)",
        "Eröffnete Fälle (Fälle)",
        "Anteil Fälle mit parallelen Angeboten",
        "Median Tage bis zur ersten Massnahme (Tage)",
        "Median Lücke bei Übergaben (Tage)",
    ]
    outcomes = page.find_element(By.CSS_SELECTOR, "section.ergebnisse")
    assert outcomes.find_element(By.TAG_NAME, "h2").text == "Abgeschlossene Fälle nach Ergebnis"
    by_scope = outcomes.find_elements(By.CSS_SELECTOR, "figure.ergebnis")
    assert [f.get_attribute("data-scope") for f in by_scope] == ["canton", "IIZ-FALLKOORD"]
    assert all(f.find_elements(By.CSS_SELECTOR, "rect") for f in by_scope)
    assert len(page.find_elements(By.CSS_SELECTOR, "svg.diagramm")) == 5 + 2
    parallel = page.find_element(By.CSS_SELECTOR, "[data-kennzahl=parallel_share]")
    points = parallel.find_elements(By.CSS_SELECTOR, "g.reihe[data-reihe=Kanton] circle.punkt")
    assert [p.get_attribute("data-periode") for p in points] == ["2026-Q1", "2026-Q2", "2026-Q3"]
    assert "Operative IIZ-Fallkoordination" in parallel.text  # projects by name in the legend
    canton = page.find_element(By.CSS_SELECTOR, "section.tabelle[data-scope=canton]")
    blank = canton.find_elements(By.CSS_SELECTOR, "td.leer")
    assert blank
    assert all(cell.text == DASH for cell in blank)  # no mark of why, nor of what was perturbed
    assert not canton.find_elements(By.CSS_SELECTOR, "sup")
    assert "Wiedereintritte (12 Mt.)" in canton.text
    assert "30 %" in canton.text
    method = page.find_element(By.CSS_SELECTOR, "section.methode").text
    assert "Cell-Key-Verfahren" in method
    assert (
        "Zählwerte sind um höchstens ±2 verändert, Werte von 1 bis 4 werden nie gezeigt" in method
    )
    assert "Summen einer Tabelle können deshalb vom Total abweichen" in method
    assert "In dieser Ansicht sind 7 von 96 Zellen leer." in method
    footnote = page.find_element(By.CSS_SELECTOR, "p.fussnote").text
    assert footnote.startswith(f"„{DASH}“ = kein Wert: keine Fälle, oder weniger als 5 Fälle")
    assert not page.find_elements(By.CSS_SELECTOR, "a.bericht")  # no year has ended here
    csv = page.find_element(By.CSS_SELECTOR, "a.csv")
    assert csv.text == "CSV herunterladen"
    assert (csv.get_attribute("href") or "").endswith("/v1/metrics?format=csv&period=quarter")
    screenshot(page, "ausschuss")

    page.find_element(By.LINK_TEXT, "Jahre").click()
    assert fake_metrics == ["quarter", "year"]
    report = page.find_element(By.CSS_SELECTOR, "a.bericht")
    assert report.text == "IIZ-Bericht 2026 (PDF)"
    assert (report.get_attribute("href") or "").endswith("/ausschuss/bericht/2026.pdf")
    bars = page.find_elements(By.CSS_SELECTOR, "[data-kennzahl=parallel_share] rect.saeule")
    assert len(bars) == 2  # one year: the canton and the project side by side

    page.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not page.find_element(By.CSS_SELECTOR, "a.csv").is_displayed()
    screenshot(page, "ausschuss-druck")
    token = mint(coordination_settings, "ksa", "committee", "carla")
    async with httpx.AsyncClient(base_url=served) as client:
        answer = await client.get(
            "/v1/metrics", params={"period": "year"}, headers={"Authorization": f"Bearer {token}"}
        )
    assert answer.status_code == 200
    assert answer.json()["disclosure"] == {
        "method": "cell-key",
        "threshold": 5,
        "max_deviation": 2,
        "cells": 96,
        "blank": 7,
    }
    assert answer.json()["note"].startswith("Counts are perturbed by the cell-key method")
    assert [r["period"] for r in answer.json()["rows"]] == ["2026", "2026"]
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
    does, answering for ``published_figures``."""
    facts = facts_from_scripts(build_population(200, 20261122).persons)
    as_of = dt.date(max(f.closed_on or f.opened_on for f in facts).year + 1, 1, 1)
    projects = [p.code for p in load_projects().projects]
    rows = publishable_rows(facts, as_of=as_of, projects=projects)
    quarters = publish([r for r in rows if "Q" in r.period])
    answering(monkeypatch, {"quarter": quarters})
    return [r.to_dict() for r in quarters.rows]


def test_the_dashboard_shows_the_figures_of_a_simulated_population(
    served: str,
    coordination_settings: CoordinationSettings,
    simulated_metrics: list[dict[str, Any]],
    page: webdriver.Chrome,
) -> None:
    sign_in(page, served, mint(coordination_settings, "ksa", "committee", "carla"))

    assert page.find_elements(By.CSS_SELECTOR, "section.diagramm-karte svg.diagramm")
    canton = page.find_element(By.CSS_SELECTOR, "section.tabelle[data-scope=canton]")
    shown = {
        cells[0].text: cells[1].text
        for tr in canton.find_elements(By.CSS_SELECTOR, "tbody tr")
        if (cells := tr.find_elements(By.CSS_SELECTOR, "th, td"))
    }
    expected = {
        r["period"]: (str(r["cases_opened"]) if r["cases_opened"] is not None else DASH)
        for r in simulated_metrics
        if r["scope"] == "canton"
    }
    assert shown == expected
    figures = [td.text for td in canton.find_elements(By.CSS_SELECTOR, "tbody td")]
    assert any(v not in ("0", DASH, "") for v in figures), "the canton's table is blank"
    screenshot(page, "ausschuss-simulation")


@pytest.fixture
def a_year_published(monkeypatch: pytest.MonkeyPatch) -> dict[str, Publication]:
    """The figures of the year `make demo-year` simulates (2025, about 1,250 persons at BL's
    volume, ``build_year_population``) as the page gets them on 1 January 2026: every quarter
    and the year, through the disclosure control (record keys drawn as the secret would)."""
    rnd = random.Random(18)
    facts = [
        replace(fact, record_key=rnd.random())
        for fact in facts_from_scripts(build_year_population(2025, 18).persons)
    ]
    projects = [p.code for p in load_projects().projects]
    rows = publishable_rows(facts, as_of=dt.date(2026, 1, 1), projects=projects)
    published = {
        "quarter": publish([r for r in rows if "Q" in r.period]),
        "year": publish([r for r in rows if "Q" not in r.period]),
    }
    answering(monkeypatch, published)
    return published


HEADLINES = {
    "cases_active": "Aktive Fälle (Fälle)",
    "cases_opened": "Eröffnete Fälle (Fälle)",
    "parallel_share": "Anteil Fälle mit parallelen Angeboten",
    "median_days_to_first_measure": "Median Tage bis zur ersten Massnahme (Tage)",
}


def test_a_year_at_bl_volume_shows_every_project_and_the_canton_in_every_headline_chart(
    served: str,
    coordination_settings: CoordinationSettings,
    a_year_published: dict[str, Publication],
    page: webdriver.Chrome,
) -> None:
    sign_in(page, served, mint(coordination_settings, "ksa", "committee", "carla"))
    page.find_element(By.LINK_TEXT, "Jahre").click()

    year = a_year_published["year"]
    names = ["Kanton", *(p.name for p in sorted(load_projects().projects, key=lambda p: p.code))]
    charts = {
        s.get_attribute("data-kennzahl"): s
        for s in page.find_elements(By.CSS_SELECTOR, "section.diagramm-karte")
    }
    for key, heading in HEADLINES.items():
        assert charts[key].find_element(By.TAG_NAME, "h2").text == heading
    headlines = list(HEADLINES)
    if "consent_share" in year.rows[0].to_dict():  # consent coverage, once the rows carry it
        headlines.append("consent_share")
        assert charts["consent_share"].find_element(By.TAG_NAME, "h2").text == (
            "Anteil Fälle mit Einwilligung"
        )
    for key in headlines:
        for name in names:
            point = charts[key].find_element(
                By.CSS_SELECTOR, f'g.reihe[data-reihe="{name}"] circle.punkt[data-periode="2025"]'
            )
            assert point.rect["width"] > 0, f"{key}: no point for {name}"
        labels = charts[key].find_elements(By.CSS_SELECTOR, "text.wert")
        assert len(labels) == len(names)  # each point says its value
    for scope in ("canton", *(p.code for p in load_projects().projects)):
        bars = page.find_elements(
            By.CSS_SELECTOR, f'figure.ergebnis[data-scope="{scope}"] rect[data-periode="2025"]'
        )
        assert bars, f"no outcome bar for {scope}"

    method = page.find_element(By.CSS_SELECTOR, "section.methode").text
    cells = f"{year.cells:,}".replace(",", "\u2019")
    assert "Cell-Key-Verfahren" in method
    assert f"In dieser Ansicht sind {year.blank} von {cells} Zellen leer." in method
    assert "Zählwerte sind um höchstens ±2 verändert" in method
    assert "Werte von 1 bis 4 werden nie gezeigt" in method
    assert f"„{DASH}“ = kein Wert" in method
    [report] = page.find_elements(By.CSS_SELECTOR, "a.bericht")
    assert report.text == "IIZ-Bericht 2025 (PDF)"
    assert (report.get_attribute("href") or "").endswith("/ausschuss/bericht/2025.pdf")
    screenshot(page, "committee-year")

    page.find_element(By.LINK_TEXT, "Quartale").click()
    parallel = page.find_element(By.CSS_SELECTOR, "[data-kennzahl=parallel_share]")
    for name in names:
        line = parallel.find_elements(By.CSS_SELECTOR, f'g.reihe[data-reihe="{name}"] polyline')
        assert line, f"no line over the quarters for {name}"
    screenshot(page, "committee-quarters")
