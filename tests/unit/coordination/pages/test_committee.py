"""The dashboard's view of metric rows: ordered scopes and periods, suppressed cells as dashes."""

from __future__ import annotations

from typing import Any

from services.coordination.pages.committee import COLUMNS, build


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


def test_suppressed_cells_are_dashes_marked_for_the_footnote() -> None:
    board = build([row("canton", "2026-Q3")], {})
    [(period, cells)] = board.tables[0].rows
    reentries = cells[[k for k, _, _ in COLUMNS].index("reentries_12m")]
    assert period == "2026-Q3"
    assert (reentries.text, reentries.suppressed) == ("\u2013", True)
    assert board.any_suppressed


def test_figures_are_formatted_the_swiss_german_way() -> None:
    board = build([row("canton", "2026-Q3")], {})
    texts = [c.text for c in board.tables[0].rows[0][1]]
    keys = [k for k, _, _ in COLUMNS]
    assert texts[keys.index("parallel_share")] == "30 %"
    assert texts[keys.index("median_handoff_gap_days")] == "21,5"


def test_a_scope_without_a_row_for_a_period_shows_dashes_without_footnote() -> None:
    board = build([row("canton", "2026-Q2"), row("AC-PILOT", "2026-Q3")], {})
    pilot = next(t for t in board.tables if t.scope == "AC-PILOT")
    missing = dict(pilot.rows)["2026-Q2"]
    assert all(c.text == "\u2013" and not c.suppressed for c in missing)
