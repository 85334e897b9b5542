"""The yearly report's content, from published cells only: per scope (the canton, then each IIZ
project) a table of the headline figures over the previous year, the year's quarters and the
year, tables of outcomes and costs, and the charts (``charts.py``). Pure: nothing here sees a
case, and every number it prints is ``numbers.formatted`` of one published cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.coordination.metrics.disclosure import Publication
from services.coordination.metrics.rows import CANTON
from services.coordination.pages.wording import OUTCOMES
from services.coordination.reports.charts import ChartBox, scope_charts
from services.coordination.reports.numbers import DASH, Kind, formatted
from services.coordination.reports.published import Cell, PublishedCells

# key, German label, kind; a key that no row has (a figure not yet published) is left out.
HEADLINE: tuple[tuple[str, str, Kind], ...] = (
    ("cases_opened", "Eröffnete Fälle", "count"),
    ("cases_active", "Aktive Fälle", "count"),
    ("cases_closed", "Abgeschlossene Fälle", "count"),
    ("parallel_cases", "Fälle mit parallelen Angeboten", "count"),
    ("parallel_share", "Anteil mit parallelen Angeboten", "percent"),
    ("sequential_cases", "Fälle mit sequenziellen Übergaben", "count"),
    ("sequential_share", "Anteil mit sequenziellen Übergaben", "percent"),
    ("median_days_to_first_measure", "Tage bis zur ersten Massnahme (Median)", "days"),
    ("handoffs", "Übergaben", "count"),
    ("median_handoff_gap_days", "Lücke bei Übergaben, Tage (Median)", "days"),
    ("institutions_per_case", "Institutionen pro Fall (Mittel)", "mean"),
    ("referrals_answered", "Beantwortete Anmeldungen", "count"),
    ("referral_acceptance_rate", "Annahmequote der Anmeldungen", "percent"),
    ("median_referral_answer_days", "Antwortzeit auf Anmeldungen, Tage (Median)", "days"),
    ("reentries_12m", "Wiedereintritte innert Jahresfrist", "count"),
    ("consented_cases", "Fälle mit gültiger Einwilligung", "count"),
    ("consent_share", "Anteil mit gültiger Einwilligung", "percent"),
)
FINANCERS = {  # kinds of financing institution (metrics.load.financer_kinds)
    "alv-rav": "Arbeitslosenversicherung (RAV)",
    "iv": "Invalidenversicherung (IV-Stelle)",
    "social-services": "Sozialhilfe (Gemeinden)",
    "ksa": "Kantonales Sozialamt",
    "assessmentcenter": "Assessmentcenter",
    "integration": "Integration (ZIF)",
    "berufsbildung": "Berufsbildung",
    "unknown": "nicht angegeben",
}
TRENDS = {1: "gestiegen", -1: "gesunken", 0: "unverändert"}


@dataclass(frozen=True)
class Shown:
    """A cell as printed: the text and whether it is blank by disclosure control (footnote)."""

    text: str
    withheld: bool


@dataclass(frozen=True)
class Line:
    label: str
    cells: list[Shown]  # in the table's column order
    trend: str  # the year against the previous year, in words (a dash if either is blank)


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    lines: list[Line]

    @property
    def any_withheld(self) -> bool:
        return any(c.withheld for line in self.lines for c in line.cells)


@dataclass(frozen=True)
class ScopeSection:
    scope: str
    title: str
    tables: list[Table]
    charts: list[ChartBox]
    quiet: bool = False  # no published active case in any column: one sentence, no tables

    @property
    def any_blank(self) -> bool:
        return any(c.text == DASH for t in self.tables for line in t.lines for c in line.cells)


@dataclass(frozen=True)
class Methods:
    threshold: int
    max_deviation: int
    years: Publication
    quarters: Publication


@dataclass(frozen=True)
class Report:
    year: int
    sections: list[ScopeSection]
    methods: Methods

    @property
    def title(self) -> str:
        return f"IIZ-Tätigkeitsbericht {self.year}"


def report_periods(year: int) -> list[str]:
    """The table columns: the previous year, the year's quarters, the year."""
    return [str(year - 1), *(f"{year}-Q{q}" for q in range(1, 5)), str(year)]


def chart_periods(year: int) -> list[str]:
    """The charts' axis: the quarters of the previous year and of the year."""
    return [f"{y}-Q{q}" for y in (year - 1, year) for q in range(1, 5)]


def has_year(years: Publication, year: int) -> bool:
    """Whether the year is published (else there is no report for it)."""
    return any(r.period == str(year) for r in years.rows)


def build_report(
    year: int,
    years: Publication,
    quarters: Publication,
    projects: Mapping[str, str],
) -> Report:
    """The report of ``year`` from the published rows of the years and of the quarters; the
    scopes are the canton, then the projects in ``projects`` order (code → name)."""
    cells = PublishedCells([*years.rows, *quarters.rows])
    present = cells.scopes()
    scopes = [CANTON, *(code for code in projects if code in present)]
    sections = [_section(scope, year, cells, projects) for scope in scopes]
    return Report(
        year=year,
        sections=sections,
        methods=Methods(years.threshold, years.max_deviation, years, quarters),
    )


def scope_title(scope: str, projects: Mapping[str, str]) -> str:
    return "Kanton Basel-Landschaft" if scope == CANTON else projects.get(scope, scope)


def _section(
    scope: str, year: int, cells: PublishedCells, projects: Mapping[str, str]
) -> ScopeSection:
    periods = report_periods(year)
    columns = [_column_label(p) for p in periods]

    def lines(rows: Sequence[tuple[str, str, Kind]]) -> list[Line]:
        return [
            _line(label, [cells.cell(scope, p, key) for p in periods], kind)
            for key, label, kind in rows
        ]

    headline = [(k, label, kind) for k, label, kind in HEADLINE if cells.has(k)]
    outcomes: list[tuple[str, str, Kind]] = [
        (f"closed_by_outcome.{k}", OUTCOMES.get(k, k), "count") for k in _outcome_keys(cells)
    ]
    financers = cells.names_with_prefix("measure_costs_chf.")
    costs: list[tuple[str, str, Kind]] = [
        (f"measure_costs_chf.{f}", FINANCERS.get(f, f), "chf") for f in financers
    ]
    tables = [
        Table("Kennzahlen", columns, lines(headline)),
        Table("Abgeschlossene Fälle nach Ergebnis", columns, lines(outcomes)),
    ]
    if costs:
        tables.append(Table("Massnahmenkosten nach Finanzierung (CHF)", columns, lines(costs)))
    title = scope_title(scope, projects)
    if all(not cells.cell(scope, p, "cases_active").value for p in periods):
        return ScopeSection(scope, title, [], [], quiet=True)
    charts = scope_charts(scope, chart_periods(year), cells, FINANCERS)
    return ScopeSection(scope, title, tables, charts)


def _outcome_keys(cells: PublishedCells) -> list[str]:
    present = set(cells.names_with_prefix("closed_by_outcome."))
    return [k for k in OUTCOMES if k in present] + sorted(present - set(OUTCOMES))


def _column_label(period: str) -> str:
    return period.split("-")[1] if "-Q" in period else period


def _line(label: str, found: list[Cell], kind: Kind) -> Line:
    shown = [Shown(formatted(c.value, kind), c.value is None and c.withheld) for c in found]
    before, now = found[0].value, found[-1].value
    if before is None or now is None:
        return Line(label, shown, DASH)
    was, is_ = float(str(before)), float(str(now))
    return Line(label, shown, TRENDS[(is_ > was) - (is_ < was)])
