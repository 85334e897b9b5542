"""The committee dashboard's view of the published figures: headline charts per figure (the
canton and every project), closed cases by outcome per scope, a table per scope, the links to the
yearly reports and what the disclosure control did, in German.

Pure. A row is ``Row.to_dict()`` of a published row; ``None`` is blank (too few cases behind a
median, share or sum) or without data, and shows as a dash. Which blank cell is blank for which
reason, or which count was perturbed, is not shown: that would tell which counts are exact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.coordination.metrics.disclosure import Publication
from services.coordination.pages.charts import BarChart, LineChart, line_chart, stacked_bars
from services.coordination.pages.wording import DASH, OUTCOMES

CANTON = "canton"
OUTCOME_KEYS = tuple(OUTCOMES)
FIGURES = (  # key, German title, unit, percent
    ("cases_active", "Aktive Fälle", "Fälle", False),
    ("cases_opened", "Eröffnete Fälle", "Fälle", False),
    ("parallel_share", "Anteil Fälle mit parallelen Angeboten", "%", True),
    ("median_days_to_first_measure", "Median Tage bis zur ersten Massnahme", "Tage", False),
    ("median_handoff_gap_days", "Median Lücke bei Übergaben", "Tage", False),
    ("consent_share", "Anteil Fälle mit Einwilligung", "%", True),
)
COLUMNS = (  # key, German header, kind
    ("cases_opened", "Eröffnet", "count"),
    ("cases_active", "Aktiv", "count"),
    ("cases_closed", "Abgeschlossen", "count"),
    ("parallel_share", "Anteil parallel", "percent"),
    ("sequential_cases", "Nur nacheinander", "count"),
    ("median_days_to_first_measure", "Median Tage bis 1. Massnahme", "days"),
    ("handoffs", "Übergaben", "count"),
    ("median_handoff_gap_days", "Median Übergabelücke (Tage)", "days"),
    ("institutions_per_case", "Institutionen pro Fall", "days"),
    ("referral_acceptance_rate", "Annahmequote Anmeldungen", "percent"),
    ("median_referral_answer_days", "Median Antwortzeit (Tage)", "days"),
    ("reentries_12m", "Wiedereintritte (12 Mt.)", "count"),
    ("consent_share", "Anteil mit Einwilligung", "percent"),
)
# Figures that not every publication carries yet: shown only when the rows have them.
OPTIONAL = frozenset({"sequential_cases", "consent_share"})
OUTCOME_CHART = {"width": 230, "height": 200}


@dataclass(frozen=True)
class Cell:
    text: str
    blank: bool


@dataclass(frozen=True)
class ScopeTable:
    scope: str
    name: str
    rows: list[tuple[str, list[Cell]]]  # period, cells in the columns' order then outcomes


@dataclass(frozen=True)
class FigureChart:
    key: str
    title: str
    unit: str
    chart: LineChart


@dataclass(frozen=True)
class ScopeOutcomes:
    scope: str
    name: str
    chart: BarChart


@dataclass(frozen=True)
class MethodNote:
    """The disclosure control in German: the method, its numbers here, what a dash means."""

    method: str
    counts: str
    dash: str


@dataclass(frozen=True)
class Report:
    year: str
    href: str
    text: str


@dataclass(frozen=True)
class Dashboard:
    periods: list[str]
    scopes: list[str]
    figures: list[FigureChart]
    outcomes: list[ScopeOutcomes]
    outcome_legend: list[tuple[str, str]]  # outcome key, colour
    columns: list[tuple[str, str, str]]
    tables: list[ScopeTable]
    reports: list[Report]
    note: MethodNote | None


def scope_name(scope: str, projects: Mapping[str, str]) -> str:
    return "Kanton" if scope == CANTON else projects.get(scope, scope)


def build(
    rows: Sequence[Mapping[str, Any]],
    projects: Mapping[str, str],
    disclosure: Publication | None = None,
) -> Dashboard:
    """Charts (canton and every project) and tables from the rows of one period kind."""
    periods = sorted({str(r["period"]) for r in rows})
    scopes = sorted({str(r["scope"]) for r in rows}, key=lambda s: (s != CANTON, s))
    by_key = {(str(r["scope"]), str(r["period"])): r for r in rows}
    carried = {key for r in rows for key in r}

    def values(key: str) -> dict[str, list[float | None]]:
        return {
            scope_name(s, projects): [_number(by_key.get((s, p), {}).get(key)) for p in periods]
            for s in scopes
        }

    figures = [
        FigureChart(key, title, unit, line_chart(periods, values(key), percent=percent))
        for key, title, unit, percent in FIGURES
        if key not in OPTIONAL or key in carried
    ]
    outcomes = [
        ScopeOutcomes(
            s,
            scope_name(s, projects),
            stacked_bars(
                periods,
                [by_key.get((s, p), {}).get("closed_by_outcome") or {} for p in periods],
                OUTCOME_KEYS,
                **OUTCOME_CHART,
            ),
        )
        for s in scopes
    ]
    columns = [c for c in COLUMNS if c[0] not in OPTIONAL or c[0] in carried]
    tables = [
        ScopeTable(
            s, scope_name(s, projects), [(p, _cells(by_key.get((s, p)), columns)) for p in periods]
        )
        for s in scopes
    ]
    return Dashboard(
        periods=periods,
        scopes=scopes,
        figures=figures,
        outcomes=outcomes,
        outcome_legend=outcomes[0].chart.legend if outcomes else [],
        columns=columns,
        tables=tables,
        reports=reports(periods),
        note=None if disclosure is None else method_note(disclosure),
    )


def reports(periods: Sequence[str]) -> list[Report]:
    """The yearly reports of the years published here: the years themselves, or the years
    whose fourth quarter is published (a year is published once it has ended)."""
    years = sorted({p[:4] for p in periods if "Q" not in p or p.endswith("Q4")})
    return [
        Report(year, f"/ausschuss/bericht/{year}.pdf", f"IIZ-Bericht {year} (PDF)")
        for year in years
    ]


def method_note(disclosure: Publication) -> MethodNote:
    """What was done to the figures, how often, and what a dash means."""
    d = disclosure
    low = "der Wert 1 wird" if d.threshold == 2 else f"Werte von 1 bis {d.threshold - 1} werden"
    method = (
        "Schutz vor Rückschlüssen auf einzelne Personen (Cell-Key-Verfahren): Zählwerte sind "
        f"um höchstens ±{d.max_deviation} verändert, {low} nie gezeigt. Summen einer Tabelle "
        "können deshalb vom Total abweichen, etwa die Projekte vom Kanton oder die Ergebnisse "
        "von den abgeschlossenen Fällen. Anteile sind aus den veränderten Zählwerten "
        f"gerechnet; Mediane und Beträge stehen nur, wo mindestens {d.threshold} Fälle "
        "dahinter stehen."
    )
    counts = (
        f"In dieser Ansicht sind {_thousands(d.blank)} von {_thousands(d.cells)} Zellen leer. "
        "Wie viele Zählwerte verändert sind, wird nicht gezeigt: bei wenigen Fällen verriete "
        "schon diese Zahl, was hinter den Nullen geschehen ist."
    )
    dash = (
        f"„{DASH}“ = kein Wert: keine Fälle, oder weniger als {d.threshold} Fälle hinter einem "
        "Median, Anteil oder Betrag."
    )
    return MethodNote(method, counts, dash)


def _thousands(value: int) -> str:
    return f"{value:,}".replace(",", "\u2019")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _cells(row: Mapping[str, Any] | None, columns: Sequence[tuple[str, str, str]]) -> list[Cell]:
    if row is None:
        return [Cell(DASH, True) for _ in range(len(columns) + len(OUTCOME_KEYS))]
    cells = [_cell(row.get(key), kind) for key, _, kind in columns]
    outcomes = row.get("closed_by_outcome") or {}
    return cells + [_cell(outcomes.get(k), "count") for k in OUTCOME_KEYS]


def _cell(value: Any, kind: str) -> Cell:
    if value is None:
        return Cell(DASH, True)
    if kind == "percent":
        return Cell(f"{float(value) * 100:.0f} %", False)
    if kind == "days":
        return Cell(f"{float(value):.1f}".replace(".", ","), False)
    return Cell(str(value), False)
