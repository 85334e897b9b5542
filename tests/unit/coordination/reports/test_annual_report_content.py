"""The yearly report's content from published cells: Swiss German numbers, the canton before
the projects, a figure no row has left out, the change against the previous year in words."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from services.coordination.metrics.rows import CANTON
from services.coordination.reports.content import HEADLINE, build_report, has_year
from services.coordination.reports.numbers import DASH, formatted
from tests.unit.coordination.reports.published_rows import PROJECTS, publications


def test_numbers_are_printed_the_swiss_german_way() -> None:
    assert formatted(1234567, "count") == "1\u2019234\u2019567"
    assert formatted(0.4567, "percent") == "45,7 %"
    assert formatted(12.5, "days") == "12,5"
    assert formatted(1.8, "mean") == "1,80"
    assert formatted(Decimal("12300.00"), "chf") == "12\u2019300"
    assert formatted(Decimal("1234.50"), "chf") == "1\u2019234,50"
    assert formatted(None, "count") == DASH


def test_the_canton_comes_first_then_the_projects_in_the_registry_order() -> None:
    years, quarters = publications(2025)

    report = build_report(2025, years, quarters, {"IIZ-FALLKOORD": "B", "AC-PILOT": "A"})

    assert [s.scope for s in report.sections] == [CANTON, "IIZ-FALLKOORD", "AC-PILOT"]
    assert [s.title for s in report.sections] == ["Kanton Basel-Landschaft", "B", "A"]


def test_only_the_figures_the_rows_have_are_in_the_table() -> None:
    years, quarters = publications(2025)
    names = set(years.rows[0].cells())

    report = build_report(2025, years, quarters, PROJECTS)

    labels = [line.label for line in report.sections[0].tables[0].lines]
    assert labels == [label for key, label, _ in HEADLINE if key in names]


def test_the_change_against_the_previous_year_is_a_word_or_a_dash_when_either_is_blank() -> None:
    years, quarters = publications(2025, [(CANTON, "2024", "cases_closed")])
    canton = {r.period: r for r in years.rows if r.scope == CANTON}
    before, now = canton["2024"].cases_opened or 0, canton["2025"].cases_opened or 0
    expected = "gestiegen" if now > before else "gesunken" if now < before else "unverändert"

    lines = build_report(2025, years, quarters, PROJECTS).sections[0].tables[0].lines

    assert lines[0].trend == expected
    closed = next(line for line in lines if line.label == "Abgeschlossene Fälle")
    assert (closed.cells[0].text, closed.cells[0].withheld, closed.trend) == (DASH, True, DASH)


def test_a_year_without_published_rows_has_no_report() -> None:
    years, _ = publications(2025)

    assert has_year(years, 2025)
    assert not has_year(years, 2026)


def test_a_project_without_published_active_cases_gets_one_sentence_not_tables() -> None:
    years, quarters = publications(2025)
    idle = [
        replace(r, cases_active=0) if r.scope == "AC-PILOT" else r
        for r in [*years.rows, *quarters.rows]
    ]
    years = replace(years, rows=[r for r in idle if "Q" not in r.period])
    quarters = replace(quarters, rows=[r for r in idle if "Q" in r.period])

    sections = {s.scope: s for s in build_report(2025, years, quarters, PROJECTS).sections}

    assert sections["AC-PILOT"].quiet
    assert (sections["AC-PILOT"].tables, sections["AC-PILOT"].charts) == ([], [])
    assert not sections["IIZ-FALLKOORD"].quiet
