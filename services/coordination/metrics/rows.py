"""One row of the committee's figures (a scope in a period), as cells, JSON and CSV.

Which figure means what is defined in ``figures.py``; ``Row.private`` holds the counts that are
never published but that disclosure control must know.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from schemas.vocabulary import CaseOutcome

CANTON = "canton"
OUTCOMES: tuple[str, ...] = tuple(outcome.value for outcome in CaseOutcome)
CENT = Decimal("0.01")

Cell = int | float | Decimal | None

# The flat cell names of a row, in column order (dict figures are spliced in at their place).
SCALAR_FIGURES: tuple[str, ...] = (
    "cases_opened",
    "cases_active",
    "cases_closed",
    "median_days_to_first_measure",
    "parallel_cases",
    "parallel_share",
    "sequential_cases",
    "sequential_share",
    "consented_cases",
    "consent_share",
    "handoffs",
    "median_handoff_gap_days",
    "institutions_per_case",
    "referrals_answered",
    "referral_acceptance_rate",
    "median_referral_answer_days",
    "reentries_12m",
)
N_FIGURES: tuple[str, ...] = (
    "median_days_to_first_measure",
    "parallel_share",
    "sequential_share",
    "consent_share",
    "median_handoff_gap_days",
    "institutions_per_case",
    "referral_acceptance_rate",
    "median_referral_answer_days",
)

# The n of a share, mean or median that counts what another cell counts: that cell.
N_ALIASES: Mapping[str, str] = {
    "n.parallel_share": "cases_active",
    "n.consent_share": "cases_active",
    "n.sequential_share": "cases_active",
    "n.institutions_per_case": "cases_active",
    "n.median_handoff_gap_days": "handoffs",
    "n.referral_acceptance_rate": "referrals_answered",
    "n.median_referral_answer_days": "referrals_answered",
}


@dataclass(frozen=True)
class Row:
    """The figures of one scope in one period; suppressed cells are None and named in
    ``suppressed``."""

    scope: str
    period: str
    cases_opened: int | None
    cases_active: int | None
    cases_closed: int | None
    closed_by_outcome: Mapping[str, int | None]
    median_days_to_first_measure: float | None
    parallel_cases: int | None
    parallel_share: float | None
    sequential_cases: int | None
    sequential_share: float | None
    consented_cases: int | None
    consent_share: float | None
    handoffs: int | None
    median_handoff_gap_days: float | None
    institutions_per_case: float | None
    referrals_answered: int | None
    referral_acceptance_rate: float | None
    median_referral_answer_days: float | None
    reentries_12m: int | None
    measure_costs_chf: Mapping[str, Decimal | None]
    # n of each derived figure; keys N_FIGURES and "measure_costs_chf.<financer>".
    n: Mapping[str, int | None]
    suppressed: tuple[str, ...] = field(default=())
    # Never published: see the module docstring. Not part of cells(), to_dict() or the CSV.
    private: Mapping[str, int] = field(default_factory=dict, compare=False)
    # The cell key of each count (cell_key.py), by cell name; never published, like ``private``.
    cell_keys: Mapping[str, float] = field(default_factory=dict, compare=False)

    def cells(self) -> dict[str, Cell]:
        """Every figure as a flat cell: ``closed_by_outcome.employment``, ``n.parallel_share``."""
        cells: dict[str, Cell] = {name: getattr(self, name) for name in SCALAR_FIGURES}
        for outcome, count in self.closed_by_outcome.items():
            cells[f"closed_by_outcome.{outcome}"] = count
        for financer, chf in self.measure_costs_chf.items():
            cells[f"measure_costs_chf.{financer}"] = chf
        for name, n in self.n.items():
            cells[f"n.{name}"] = n
        return cells

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: cost sums as decimal strings ("1234.50"), suppressed cells as null."""
        data: dict[str, Any] = {"scope": self.scope, "period": self.period}
        data.update({name: getattr(self, name) for name in SCALAR_FIGURES})
        data["closed_by_outcome"] = dict(self.closed_by_outcome)
        data["measure_costs_chf"] = {
            financer: None if chf is None else str(chf)
            for financer, chf in self.measure_costs_chf.items()
        }
        data["n"] = dict(self.n)
        data["suppressed"] = list(self.suppressed)
        return data


def row_from_cells(
    scope: str, period: str, cells: Mapping[str, Cell], suppressed: Iterable[str] = ()
) -> Row:
    """The inverse of ``Row.cells``."""

    def part(prefix: str) -> dict[str, Any]:
        return {k[len(prefix) :]: v for k, v in cells.items() if k.startswith(prefix)}

    scalars: dict[str, Any] = {name: cells[name] for name in SCALAR_FIGURES}
    return Row(
        scope=scope,
        period=period,
        closed_by_outcome=part("closed_by_outcome."),
        measure_costs_chf=part("measure_costs_chf."),
        n=part("n."),
        suppressed=tuple(suppressed),
        **scalars,
    )


def rows_to_csv(rows: Sequence[Row]) -> str:
    """One line per scope x period, one column per cell; suppressed and no-data cells empty."""
    columns: list[str] = []
    for row in rows:
        columns.extend(name for name in row.cells() if name not in columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "period", *columns, "suppressed"])
    for row in rows:
        cells = row.cells()
        values = ["" if cells.get(name) is None else str(cells[name]) for name in columns]
        writer.writerow([row.scope, row.period, *values, " ".join(row.suppressed)])
    return out.getvalue()
