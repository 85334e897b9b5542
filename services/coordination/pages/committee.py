"""The committee dashboard's view of the metric rows: charts per figure and a table per scope.

Pure. A row is what ``metrics.api_data.metrics_rows`` returns; ``None`` is suppressed (listed
in the row's ``suppressed``) or without data, and shows as a dash.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.coordination.pages.charts import BarChart, LineChart, line_chart, stacked_bars
from services.coordination.pages.wording import DASH, OUTCOMES

CANTON = "canton"
OUTCOME_KEYS = tuple(OUTCOMES)
FIGURES = (  # key, German title, unit, percent
    ("parallel_share", "Anteil Fälle mit parallelen Angeboten", "%", True),
    ("median_days_to_first_measure", "Median Tage bis zur ersten Massnahme", "Tage", False),
    ("median_handoff_gap_days", "Median Lücke bei Übergaben", "Tage", False),
)
COLUMNS = (  # key, German header, kind
    ("cases_opened", "Eröffnet", "count"),
    ("cases_active", "Aktiv", "count"),
    ("cases_closed", "Abgeschlossen", "count"),
    ("parallel_share", "Anteil parallel", "percent"),
    ("median_days_to_first_measure", "Median Tage bis 1. Massnahme", "days"),
    ("handoffs", "Übergaben", "count"),
    ("median_handoff_gap_days", "Median Übergabelücke (Tage)", "days"),
    ("institutions_per_case", "Institutionen pro Fall", "days"),
    ("referral_acceptance_rate", "Annahmequote Anmeldungen", "percent"),
    ("median_referral_answer_days", "Median Antwortzeit (Tage)", "days"),
    ("reentries_12m", "Wiedereintritte (12 Mt.)", "count"),
)


@dataclass(frozen=True)
class Cell:
    text: str
    suppressed: bool


@dataclass(frozen=True)
class ScopeTable:
    scope: str
    name: str
    rows: list[tuple[str, list[Cell]]]  # period, cells in COLUMNS order then outcomes


@dataclass(frozen=True)
class FigureChart:
    key: str
    title: str
    unit: str
    chart: LineChart


@dataclass(frozen=True)
class Dashboard:
    periods: list[str]
    scopes: list[str]
    figures: list[FigureChart]
    outcomes: BarChart
    tables: list[ScopeTable]
    any_suppressed: bool


def scope_name(scope: str, projects: Mapping[str, str]) -> str:
    return "Kanton" if scope == CANTON else projects.get(scope, scope)


def build(rows: Sequence[Mapping[str, Any]], projects: Mapping[str, str]) -> Dashboard:
    """Charts (canton and every project) and tables from the rows of one period kind."""
    periods = sorted({str(r["period"]) for r in rows})
    scopes = sorted({str(r["scope"]) for r in rows}, key=lambda s: (s != CANTON, s))
    by_key = {(str(r["scope"]), str(r["period"])): r for r in rows}

    def values(key: str) -> dict[str, list[float | None]]:
        return {
            scope_name(s, projects): [_number(by_key.get((s, p), {}).get(key)) for p in periods]
            for s in scopes
        }

    figures = [
        FigureChart(key, title, unit, line_chart(periods, values(key), percent=percent))
        for key, title, unit, percent in FIGURES
    ]
    canton = [by_key.get((CANTON, p), {}).get("closed_by_outcome") or {} for p in periods]
    outcomes = stacked_bars(periods, canton, OUTCOME_KEYS)
    tables = [
        ScopeTable(s, scope_name(s, projects), [(p, _cells(by_key.get((s, p)))) for p in periods])
        for s in scopes
    ]
    return Dashboard(
        periods=periods,
        scopes=scopes,
        figures=figures,
        outcomes=outcomes,
        tables=tables,
        any_suppressed=any(r.get("suppressed") for r in rows),
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _cells(row: Mapping[str, Any] | None) -> list[Cell]:
    if row is None:
        return [Cell(DASH, False) for _ in range(len(COLUMNS) + len(OUTCOME_KEYS))]
    suppressed = set(row.get("suppressed") or ())
    cells = [_cell(row.get(key), kind, key in suppressed) for key, _, kind in COLUMNS]
    outcomes = row.get("closed_by_outcome") or {}
    cells += [
        _cell(outcomes.get(k), "count", f"closed_by_outcome.{k}" in suppressed)
        for k in OUTCOME_KEYS
    ]
    return cells


def _cell(value: Any, kind: str, suppressed: bool) -> Cell:
    if value is None:
        return Cell(DASH, suppressed)
    if kind == "percent":
        return Cell(f"{float(value) * 100:.0f} %", False)
    if kind == "days":
        return Cell(f"{float(value):.1f}".replace(".", ","), False)
    return Cell(str(value), False)
