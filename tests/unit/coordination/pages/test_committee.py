"""The dashboard's view of published rows: ordered scopes and periods, blank cells as dashes,
charts for every scope, the yearly reports and the disclosure control in German."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.coordination.pages.committee import COLUMNS, build, method_note, reports


def row(scope: str, period: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scope": scope,
        "period": period,
        "cases_opened": 12,
        "cases_active": 30,
        "cases_closed": 7,
        "closed_by_outcome": {"employment": 3, "education": None, "other": 2},
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
        "suppressed": ["closed_by_outcome.education", "reentries_12m"],
    }
    return {**base, **changes}


def test_the_canton_comes_first_and_periods_are_in_order() -> None:
    rows = [row("IIZ-FALLKOORD", "2026-Q3"), row("canton", "2026-Q3"), row("canton", "2026-Q2")]
    board = build(rows, {"IIZ-FALLKOORD": "Fallkoordination"})
    assert board.scopes == ["canton", "IIZ-FALLKOORD"]
    assert board.periods == ["2026-Q2", "2026-Q3"]
    assert [t.name for t in board.tables] == ["Kanton", "Fallkoordination"]
    assert [s.name for s in board.figures[0].chart.series] == ["Kanton", "Fallkoordination"]


def test_blank_cells_are_plain_dashes_that_do_not_say_why() -> None:
    board = build([row("canton", "2026-Q3")], {})
    [(period, cells)] = board.tables[0].rows
    reentries = cells[[k for k, _, _ in board.columns].index("reentries_12m")]
    assert period == "2026-Q3"
    assert (reentries.text, reentries.blank) == ("\u2013", True)


def test_figures_are_formatted_the_swiss_german_way() -> None:
    board = build([row("canton", "2026-Q3")], {})
    texts = [c.text for c in board.tables[0].rows[0][1]]
    keys = [k for k, _, _ in board.columns]
    assert texts[keys.index("parallel_share")] == "30 %"
    assert texts[keys.index("median_handoff_gap_days")] == "21,5"


def test_a_scope_without_a_row_for_a_period_shows_dashes() -> None:
    board = build([row("canton", "2026-Q2"), row("AC-PILOT", "2026-Q3")], {})
    pilot = next(t for t in board.tables if t.scope == "AC-PILOT")
    missing = dict(pilot.rows)["2026-Q2"]
    assert all(c.text == "\u2013" for c in missing)


def test_every_headline_chart_has_a_point_for_every_scope_in_every_year() -> None:
    rows = [row(s, y) for s in ("canton", "AC-PILOT", "CM-BB") for y in ("2026", "2027")]
    board = build(rows, {"AC-PILOT": "Assessmentcenter"})
    assert [f.key for f in board.figures] == [
        "cases_active",
        "cases_opened",
        "parallel_share",
        "median_days_to_first_measure",
        "median_handoff_gap_days",
    ]
    for figure in board.figures:
        chart = figure.chart
        assert chart.grouped  # two years: the scopes side by side, not lines
        assert [s.name for s in chart.series] == ["Kanton", "Assessmentcenter", "CM-BB"]
        for series in chart.series:
            assert [p.period for seg in series.segments for p in seg] == ["2026", "2027"]
    [parallel] = [f for f in board.figures if f.key == "parallel_share"]
    assert parallel.chart.series[0].segments[0][0].label == "30 %"
    assert [o.name for o in board.outcomes] == ["Kanton", "Assessmentcenter", "CM-BB"]
    for outcomes in board.outcomes:
        assert [c.period for c in outcomes.chart.columns] == ["2026", "2027"]
        assert all(c.segments for c in outcomes.chart.columns)


def test_consent_coverage_and_sequential_paths_appear_once_the_rows_carry_them() -> None:
    without = build([row("canton", "2026")], {})
    assert "consent_share" not in [f.key for f in without.figures]
    assert "consent_share" not in [k for k, _, _ in without.columns]
    carrying = row("canton", "2026", consent_share=0.6, sequential_cases=4)
    board = build([carrying], {})
    assert board.figures[-1].key == "consent_share"
    assert board.figures[-1].title == "Anteil Fälle mit Einwilligung"
    texts = dict(
        zip(
            [k for k, _, _ in board.columns],
            [c.text for c in board.tables[0].rows[0][1]],
            strict=False,
        )
    )
    assert (texts["consent_share"], texts["sequential_cases"]) == ("60 %", "4")
    assert [k for k, _, _ in board.columns] == [k for k, _, _ in COLUMNS]


def test_the_yearly_reports_are_linked_for_every_published_year() -> None:
    assert [r.href for r in reports(["2026", "2027"])] == [
        "/ausschuss/bericht/2026.pdf",
        "/ausschuss/bericht/2027.pdf",
    ]
    assert [r.text for r in reports(["2026"])] == ["IIZ-Bericht 2026 (PDF)"]
    quarters = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
    assert [r.year for r in reports(quarters)] == ["2026"]  # 2027 has not ended


@dataclass(frozen=True)
class Disclosed:
    cells: int = 1520
    perturbed: int = 231
    blank: int = 48
    threshold: int = 5
    max_deviation: int = 2


def test_the_disclosure_control_is_told_in_german_with_its_numbers() -> None:
    note = method_note(Disclosed())
    assert "Cell-Key-Verfahren" in note.method
    assert "um höchstens ±2 verändert, Werte von 1 bis 4 werden nie gezeigt" in note.method
    assert "Summen einer Tabelle können deshalb vom Total abweichen" in note.method
    assert note.counts.startswith("In dieser Ansicht sind 48 von 1\u2019520 Zellen leer. ")
    assert "231" not in note.counts  # how many were perturbed is not told (review M1)
    assert note.dash.startswith("„\u2013“ = kein Wert")
    assert "weniger als 5 Fälle" in note.dash
    board = build([row("canton", "2026")], {}, Disclosed())
    assert board.note == note
