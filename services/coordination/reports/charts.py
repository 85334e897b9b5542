"""The charts of one scope in the yearly report, over the eight quarters of the previous year
and the year: the committee dashboard's SVG geometry (``pages.charts``) fed with published
cells only. A blank cell is a gap in a line or a bar segment left out (marked with a dash)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.coordination.pages.charts import BarChart, LineChart, line_chart, stacked_bars
from services.coordination.pages.wording import OUTCOMES
from services.coordination.reports.published import PublishedCells

WIDTH, HEIGHT = 640, 210


@dataclass(frozen=True)
class ChartBox:
    """One chart with its title; exactly one of ``line`` and ``bars`` is set. ``names`` gives
    the German legend label of each bar key."""

    key: str
    title: str
    line: LineChart | None = None
    bars: BarChart | None = None
    names: Mapping[str, str] | None = None

    @property
    def has_gaps(self) -> bool:
        if self.line is not None:
            return any(s.missing for s in self.line.series)
        return self.bars is not None and any(c.suppressed for c in self.bars.columns)


def scope_charts(
    scope: str, periods: Sequence[str], cells: PublishedCells, financers: Mapping[str, str]
) -> list[ChartBox]:
    """Cases; parallel and sequential paths; shares; medians in days; outcomes; costs."""

    def values(named: Mapping[str, str]) -> dict[str, list[float | None]]:
        return {
            label: [_number(cells.cell(scope, p, key).value) for p in periods]
            for key, label in named.items()
            if cells.has(key)
        }

    def bars(key: str, title: str, parts: Mapping[str, str]) -> ChartBox:
        counts = [{k: _count(cells, scope, p, f"{key}{k}") for k in parts} for p in periods]
        geometry = stacked_bars(periods, counts, list(parts), width=WIDTH, height=HEIGHT)
        return ChartBox(key or "paths", title, bars=geometry, names=parts)

    def lines(key: str, title: str, named: Mapping[str, str], percent: bool) -> ChartBox:
        geometry = line_chart(periods, values(named), percent=percent, width=WIDTH, height=HEIGHT)
        return ChartBox(key, title, line=geometry)

    paths = {"parallel_cases": "parallel"}
    if cells.has("sequential_cases"):
        paths["sequential_cases"] = "sequenziell"
    present = set(cells.names_with_prefix("measure_costs_chf."))
    costs = {f: financers.get(f, f) for f in sorted(present)}
    return [
        lines(
            "cases",
            "Fälle pro Quartal",
            {"cases_opened": "eröffnet", "cases_active": "aktiv", "cases_closed": "abgeschlossen"},
            percent=False,
        ),
        bars("", "Fälle mit parallelen und mit sequenziellen Wegen", paths),
        lines(
            "shares",
            "Anteile pro Quartal",
            {
                "parallel_share": "parallel",
                "sequential_share": "sequenziell",
                "consent_share": "mit Einwilligung",
                "referral_acceptance_rate": "Anmeldungen angenommen",
            },
            percent=True,
        ),
        lines(
            "medians",
            "Mediane pro Quartal (Tage)",
            {
                "median_days_to_first_measure": "bis zur ersten Massnahme",
                "median_handoff_gap_days": "Lücke bei Übergaben",
                "median_referral_answer_days": "Antwort auf Anmeldungen",
            },
            percent=False,
        ),
        bars("closed_by_outcome.", "Abgeschlossene Fälle nach Ergebnis", OUTCOMES),
        bars("measure_costs_chf.", "Massnahmenkosten nach Finanzierung (CHF)", costs),
    ]


def _number(value: object) -> float | None:
    return None if value is None else float(str(value))


def _count(cells: PublishedCells, scope: str, period: str, name: str) -> int | None:
    """A bar segment: None where disclosure control blanked it; no data is no segment."""
    cell = cells.cell(scope, period, name)
    if cell.value is None:
        return None if cell.withheld else 0
    return int(cell.value)
