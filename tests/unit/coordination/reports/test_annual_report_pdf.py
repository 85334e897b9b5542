"""The yearly IIZ report as a PDF, from hand-built published rows: a section per project and for
the canton, a methods page with the disclosure control's parameters, charts that render, a dash
for a blank cell, and no number that is not one of the published values as the report prints
them (it computes nothing itself, so it is under the same disclosure control as the page)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from services.coordination.metrics.rows import CANTON
from services.coordination.pages.charts import AxisTick
from services.coordination.reports.charts import ChartBox
from services.coordination.reports.content import HEADLINE, Report, build_report
from services.coordination.reports.numbers import DASH, Kind, formatted, tick
from services.coordination.reports.render import render_report
from tests.pdf_pages import is_blank, page_count, pdf_text, pdf_to_png, words
from tests.unit.coordination.reports.published_rows import PROJECTS, Publication, publications

YEAR = 2025
BLANK = [
    (CANTON, "2025", "median_handoff_gap_days"),
    ("AC-PILOT", "2025-Q2", "closed_by_outcome.employment"),
    ("IIZ-FALLKOORD", "2024", "parallel_share"),
]
KINDS: dict[str, Kind] = {key: kind for key, _, kind in HEADLINE}
# The frame around the figures: period labels, quarter headers, page numbers, the date.
FRAME = re.compile(r"\b\d{4}-Q[1-4]\b|\bQ[1-4]\b|\b(19|20)\d\d\b|Seite \d+ von \d+|\d+\. \w+ \d{4}")
NUMBER = re.compile(r"\d[\d\u2019]*(?:,\d+)?(?: %)?")


@pytest.fixture(scope="module")
def published() -> tuple[Publication, Publication]:
    return publications(YEAR, BLANK)


@pytest.fixture(scope="module")
def report(published: tuple[Publication, Publication]) -> Report:
    years, quarters = published
    return build_report(YEAR, years, quarters, PROJECTS)


@pytest.fixture(scope="module")
def pdf(report: Report) -> bytes:
    return render_report(report, made_on=dt.date(2026, 1, 20))


def kind_of(name: str) -> Kind:
    if name.startswith("measure_costs_chf."):
        return "chf"
    return KINDS.get(name, "count")


def axis(chart: ChartBox) -> list[AxisTick]:
    """A chart's value axis: its tick labels are the only numbers that are not figures."""
    drawn = chart.line or chart.bars
    assert drawn is not None
    return drawn.y_ticks


def printed_values(*publications: Publication) -> set[str]:
    """Every published cell as the report prints it."""
    return {
        formatted(value, kind_of(name))
        for publication in publications
        for row in publication.rows
        for name, value in row.cells().items()
        if value is not None
    }


def test_the_report_has_a_section_for_the_canton_and_each_project_and_a_methods_page(
    pdf: bytes,
) -> None:
    text = words(pdf)

    for expected in (
        "Kanton Basel-Landschaft \u2014 IIZ-Ausschuss",
        "IIZ-Tätigkeitsbericht 2025",
        "Kanton Basel-Landschaft Kennzahlen",
        *(f"{name} Kennzahlen" for name in PROJECTS.values()),
        "Abgeschlossene Fälle nach Ergebnis",
        "Massnahmenkosten nach Finanzierung (CHF)",
        "Fälle mit parallelen und mit sequenziellen Wegen",
        "Mediane pro Quartal (Tage)",
        "Methoden Was gezählt wird",
        "Übergabe am selben Tag",
        "sequenzielle Übergabe ohne Lücke, kein paralleles Angebot",
        f"Seite 1 von {page_count(pdf)}",
    ):
        assert expected in text, expected
    assert text.index("Kanton Basel-Landschaft Kennzahlen") < text.index(
        f"{PROJECTS['AC-PILOT']} Kennzahlen"
    )


def test_the_methods_page_takes_the_disclosure_parameters_from_the_publication(
    pdf: bytes, published: tuple[Publication, Publication]
) -> None:
    years, quarters = published
    text = words(pdf)

    assert "um höchstens ±2" in text
    assert "Werte von 1 bis 4 erscheinen nie; sie werden zu 0 oder zu 5" in text
    assert "Summe einer Tabelle (etwa der Ergebnisse) vom Total abweichen" in text
    assert "wenn die (veränderte) Zahl der Fälle dahinter über 5 liegt" in text
    assert "wenn mindestens 5 verschiedene Fälle dahinter stehen" in text
    assert f"von {years.cells} Zellen {years.blank} leer" in text
    assert f"von {quarters.cells} Zellen {quarters.blank}." in text
    assert "Wie viele Zählwerte verändert sind, wird nicht angegeben" in text


def test_every_number_printed_is_a_published_value_as_the_report_formats_it(
    pdf: bytes, report: Report, published: tuple[Publication, Publication]
) -> None:
    pages = pdf_text(pdf).split("\f")
    methods = next(i for i, page in enumerate(pages) if "Was gezählt wird" in page)
    ticks = {tick(t.label) for s in report.sections for c in s.charts for t in axis(c)}
    allowed = printed_values(*published) | ticks

    printed = [n for page in pages[:methods] for n in NUMBER.findall(FRAME.sub(" ", page))]

    assert len(printed) > 300  # the tables are there
    assert sorted(set(printed) - allowed) == []
    years, _ = published
    canton = next(r for r in years.rows if (r.scope, r.period) == (CANTON, "2025"))
    assert formatted(canton.cases_opened, "count") in printed
    assert formatted(canton.parallel_share, "percent") in printed


def test_a_blank_cell_prints_a_dash_with_the_footnote(
    pdf: bytes, published: tuple[Publication, Publication]
) -> None:
    years, quarters = published
    periods = ["2024", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    rows = {r.period: r for r in [*years.rows, *quarters.rows] if r.scope == CANTON}
    shown = " ".join(formatted(rows[p].median_handoff_gap_days, "days") for p in periods)

    text = words(pdf)

    # the year's cell is blank (a dash, starred), and so is the change against the previous year
    assert f"Lücke bei Übergaben, Tage (Median) {shown} {DASH} * {DASH}" in text
    assert "mit * durch die Geheimhaltung nicht veröffentlicht" in text


def test_the_pages_and_their_charts_render(pdf: bytes) -> None:
    pages = pdf_text(pdf).split("\f")
    charts = next(i for i, page in enumerate(pages) if "Fälle pro Quartal" in page)

    assert not is_blank(pdf_to_png(pdf, 0))
    image = pdf_to_png(pdf, charts)
    assert not is_blank(image)
    colours = {
        image.getpixel((x, y)) for x in range(0, image.width, 4) for y in range(0, image.height, 4)
    }
    assert (0x1F, 0x4E, 0x79) in colours or len(colours) > 20  # lines and bars drawn
