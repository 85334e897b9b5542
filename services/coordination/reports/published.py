"""What the report is made of: the published rows of one period kind and the parameters of the
disclosure control that made them (a ``metrics.disclosure.Publication``), and a look-up of one
cell by scope, period and name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from services.coordination.metrics.rows import Row

Value = int | float | Decimal | None


@dataclass(frozen=True)
class Cell:
    """One published cell: its value (None: blank) and whether disclosure control blanked it
    (else a None means "no data")."""

    value: Value
    withheld: bool


NO_ROW = Cell(None, False)


class PublishedCells:
    """The cells of published rows, by scope, period and cell name (``closed_by_outcome.x``,
    ``measure_costs_chf.iv``); a cell the rows do not have is "no data"."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._cells = {(r.scope, r.period): (r.cells(), frozenset(r.suppressed)) for r in rows}

    def cell(self, scope: str, period: str, name: str) -> Cell:
        found = self._cells.get((scope, period))
        if found is None:
            return NO_ROW
        cells, withheld = found
        return Cell(cells.get(name), name in withheld)

    def has(self, name: str) -> bool:
        """Whether any row has the cell (new figures may not be published yet)."""
        return any(name in cells for cells, _ in self._cells.values())

    def names_with_prefix(self, prefix: str) -> list[str]:
        """The parts of a dict figure (``closed_by_outcome.``), sorted, without the prefix."""
        names = {n for cells, _ in self._cells.values() for n in cells if n.startswith(prefix)}
        return sorted(n.removeprefix(prefix) for n in names)

    def scopes(self) -> set[str]:
        return {scope for scope, _ in self._cells}

    def periods(self) -> set[str]:
        return {period for _, period in self._cells}
