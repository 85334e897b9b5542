"""Hand-built published rows for the yearly report's tests: every cell of ``rows.SCALAR_FIGURES``
(so new figures are filled too), outcomes and costs, some cells blank by disclosure control."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from decimal import Decimal

from services.coordination.metrics.disclosure import Publication
from services.coordination.metrics.rows import (
    CANTON,
    OUTCOMES,
    SCALAR_FIGURES,
    Cell,
    Row,
    row_from_cells,
)

PROJECTS = {
    "AC-PILOT": "Kantonales Assessmentcenter (Pilot)",
    "IIZ-FALLKOORD": "Operative IIZ-Fallkoordination ALV \u2013 Sozialhilfe \u2013 IV",
}
FINANCERS = ("alv-rav", "iv", "social-services")


def _value(name: str, rng: random.Random) -> Cell:
    if name.endswith(("_share", "_rate")):
        return round(rng.uniform(0.05, 0.95), 4)
    if name.startswith("median_"):
        return round(rng.uniform(0, 60) * 2) / 2
    if name == "institutions_per_case":
        return round(rng.uniform(1, 3), 2)
    return int(rng.choice([0, 5, 6, *range(7, 2500)]))


def published_row(scope: str, period: str, seed: int, blank: Iterable[str] = ()) -> Row:
    """A row with plausible values; the cells named in ``blank`` are None and suppressed."""
    rng = random.Random(seed)
    cells: dict[str, Cell] = {name: _value(name, rng) for name in SCALAR_FIGURES}
    for outcome in OUTCOMES:
        cells[f"closed_by_outcome.{outcome}"] = rng.choice([0, 5, 9, 17, 40, 1234])
    for financer in FINANCERS:
        cells[f"measure_costs_chf.{financer}"] = Decimal(rng.randrange(0, 400_000, 100))
    withheld = tuple(blank)
    for name in withheld:
        cells[name] = None
    return row_from_cells(scope, period, cells, withheld)


def publications(
    year: int, blank: Sequence[tuple[str, str, str]] = ()
) -> tuple[Publication, Publication]:
    """Years (the year and the one before) and their quarters for the canton and PROJECTS;
    ``blank``: (scope, period, cell) made blank."""
    scopes = [*PROJECTS, CANTON]
    years = [str(year - 1), str(year)]
    quarters = [f"{y}-Q{q}" for y in years for q in range(1, 5)]

    def rows(periods: list[str]) -> list[Row]:
        return [
            published_row(
                s,
                p,
                zlib.crc32(f"{s}/{p}".encode()),
                [c for bs, bp, c in blank if (bs, bp) == (s, p)],
            )
            for s in scopes
            for p in periods
        ]

    def publication(made: list[Row]) -> Publication:
        cells = sum(len(r.cells()) for r in made)
        blank = sum(len(r.suppressed) for r in made)
        return Publication(made, cells, cells // 3, blank, threshold=5, max_deviation=2)

    return publication(rows(years)), publication(rows(quarters))
