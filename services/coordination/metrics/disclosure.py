"""Disclosure control for the committee's figures: no count from 1 to threshold-1 is published
or recoverable from what is published.

Primary suppression: every count cell from 1 to threshold-1 (0 stays visible), and every derived
figure (median, share, mean, cost sum) whose n is from 1 to threshold-1 (n = 0 is None, "no
data", not a suppression). A share is also suppressed when it would give away a suppressed or
small count: ``parallel_share`` with ``parallel_cases`` suppressed, ``referral_acceptance_rate``
when accepted or declined (rate times n) is from 1 to threshold-1.

Complementary suppression against the linear equations an attacker knows: in every row
``cases_closed`` = sum of ``closed_by_outcome``; and, per scope, when a year row and its four
quarter rows are all given, year = sum of quarters for every additive cell (cases_opened,
cases_closed, each closed_by_outcome cell, reentries_12m, handoffs, referrals_answered, each
measure_costs_chf sum and its n, the n of median_days_to_first_measure; a financer absent from a
row is a known 0). Cost sums have no published total across financers. The algorithm: while some
suppressed cell is uniquely determined by those equations and the published cells (exact test:
its unit vector lies in the row space of the equations restricted to the suppressed cells,
Gaussian elimination over fractions), suppress one more published cell of an equation containing
it: the smallest nonzero one that makes it undetermined (zeros after all nonzero cells; if no
single cell does, the smallest, and repeat). This also catches patterns the "one unknown per
equation" rule misses (a suppressed cell bridging two suppressed rectangles). Bounds from
non-negativity are not protected beyond this: an equation whose published cells leave 0 for its
suppressed cells shows them to be 0, which is no disclosure of a value from 1 to threshold-1.

Callers publishing years pass whole years of quarters: with a year and only some of its
quarters, year - the published quarters discloses the missing ones, which ``protect`` cannot see.

The n of a derived figure that is another cell (cases_active, handoffs, referrals_answered)
follows that cell's suppression. Suppressed cells become None and are named in ``suppressed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from services.coordination.metrics.figures import Cell, Row, row_from_cells
from services.coordination.metrics.periods import quarters_of_year

Key = tuple[int, str]  # (row index, cell name)
Equation = tuple[Key, tuple[Key, ...]]  # total = sum of parts

# n cells that are another published cell under a second name.
N_ALIASES: Mapping[str, str] = {
    "n.parallel_share": "cases_active",
    "n.institutions_per_case": "cases_active",
    "n.median_handoff_gap_days": "handoffs",
    "n.referral_acceptance_rate": "referrals_answered",
    "n.median_referral_answer_days": "referrals_answered",
}
COUNTS = frozenset(
    {
        "cases_opened",
        "cases_active",
        "cases_closed",
        "parallel_cases",
        "handoffs",
        "referrals_answered",
        "reentries_12m",
        "n.median_days_to_first_measure",
    }
)
ADDITIVE = frozenset(
    {
        "cases_opened",
        "cases_closed",
        "reentries_12m",
        "handoffs",
        "referrals_answered",
        "n.median_days_to_first_measure",
    }
)
ADDITIVE_PREFIXES = ("closed_by_outcome.", "measure_costs_chf.", "n.measure_costs_chf.")


def is_count(name: str) -> bool:
    return name in COUNTS or name.startswith(("closed_by_outcome.", "n.measure_costs_chf."))


def is_additive(name: str) -> bool:
    return name in ADDITIVE or name.startswith(ADDITIVE_PREFIXES)


def n_of(name: str) -> str | None:
    """The cell holding the n of a derived figure; None for counts."""
    if name.startswith("measure_costs_chf."):
        return f"n.{name}"
    if is_count(name) or name.startswith("n."):
        return None
    return N_ALIASES.get(f"n.{name}", f"n.{name}")


def protect(rows: list[Row], *, threshold: int = 5) -> list[Row]:
    """The rows with every cell suppressed that would disclose a count from 1 to threshold-1."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    values = {(i, name): v for i, row in enumerate(rows) for name, v in row.cells().items()}
    suppressed = primary_suppression(values, threshold)
    equations = equations_of(rows)
    for group in _components(equations):
        _suppress_complementary(group, values, suppressed)
    for i, name in list(values):
        base = N_ALIASES.get(name)
        if base is not None and (i, base) in suppressed:
            suppressed.add((i, name))
    return [
        row_from_cells(
            row.scope,
            row.period,
            {name: None if (i, name) in suppressed else v for name, v in row.cells().items()},
            [name for name in row.cells() if (i, name) in suppressed],
        )
        for i, row in enumerate(rows)
    ]


def primary_suppression(values: Mapping[Key, Cell], threshold: int) -> set[Key]:
    """Small counts, figures with a small n, and shares that would give a small count away."""

    def small(v: Cell) -> bool:
        return v is not None and 1 <= v < threshold

    suppressed = {key for key, v in values.items() if is_count(key[1]) and small(v)}
    for (i, name), v in values.items():
        n_name = n_of(name)
        if v is None or n_name is None:
            continue
        n = values.get((i, n_name))
        if small(n) or (name == "parallel_share" and (i, "parallel_cases") in suppressed):
            suppressed.add((i, name))
        elif name == "referral_acceptance_rate" and isinstance(n, int):
            accepted = round(float(v) * n)
            if small(accepted) or small(n - accepted):
                suppressed.add((i, name))
    return suppressed


def equations_of(rows: Sequence[Row]) -> list[Equation]:
    """Row totals, and year = sum of its four quarters wherever all five rows are given."""
    equations: list[Equation] = []
    where = {(row.scope, row.period): i for i, row in enumerate(rows)}
    if len(where) != len(rows):
        raise ValueError("two rows have the same scope and period")
    for i, row in enumerate(rows):
        outcomes = tuple((i, f"closed_by_outcome.{o}") for o in row.closed_by_outcome)
        equations.append(((i, "cases_closed"), outcomes))
        quarters = [where.get((row.scope, q)) for q in quarters_of_year(row.period)]
        present = [q for q in quarters if q is not None]
        if len(present) < 4:
            continue
        names = {n for j in (i, *present) for n in rows[j].cells() if is_additive(n)}
        for name in sorted(names):
            equations.append(((i, name), tuple((q, name) for q in present)))
    return equations


def determined(equations: Sequence[Equation], suppressed: set[Key]) -> list[Key]:
    """The suppressed cells whose value the equations and the published cells fix."""
    unknowns = sorted({k for eq in equations for k in (eq[0], *eq[1]) if k in suppressed})
    column = {key: c for c, key in enumerate(unknowns)}
    matrix: list[list[Fraction]] = []
    for total, parts in equations:
        line = [Fraction(0)] * len(unknowns)
        for key, sign in ((total, 1), *((p, -1) for p in parts)):
            if key in column:
                line[column[key]] += sign
        if any(line):
            matrix.append(line)
    pivots = _reduce(matrix)
    return [
        unknowns[c]
        for r, c in enumerate(pivots)
        if sum(1 for x in matrix[r] if x) == 1  # its row is the unit vector of that cell
    ]


def _reduce(matrix: list[list[Fraction]]) -> list[int]:
    """Reduced row echelon form in place; the pivot column of each leading row."""
    pivots: list[int] = []
    width = len(matrix[0]) if matrix else 0
    for c in range(width):
        r = len(pivots)
        pivot = next((k for k in range(r, len(matrix)) if matrix[k][c]), None)
        if pivot is None:
            continue
        matrix[r], matrix[pivot] = matrix[pivot], matrix[r]
        lead = matrix[r][c]
        matrix[r] = [x / lead for x in matrix[r]]
        for k, line in enumerate(matrix):
            if k != r and line[c]:
                factor = line[c]
                matrix[k] = [a - factor * b for a, b in zip(line, matrix[r], strict=True)]
        pivots.append(c)
    return pivots


def _components(equations: Iterable[Equation]) -> list[list[Equation]]:
    """The equations grouped so that no two groups share a cell (each is protected alone)."""
    parent: dict[Key, Key] = {}

    def root(key: Key) -> Key:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    equations = list(equations)
    for total, parts in equations:
        for part in parts:
            parent[root(part)] = root(total)
    groups: dict[Key, list[Equation]] = {}
    for eq in equations:
        groups.setdefault(root(eq[0]), []).append(eq)
    return list(groups.values())


def _suppress_complementary(
    equations: list[Equation], values: Mapping[Key, Cell], suppressed: set[Key]
) -> None:
    """Suppress published cells until no suppressed cell of these equations is determined."""
    while found := determined(equations, suppressed):
        target = found[0]
        near = [eq for eq in equations if target == eq[0] or target in eq[1]]
        candidates = _published(near, values, suppressed) or _published(
            equations, values, suppressed
        )
        if not candidates:
            raise RuntimeError(f"cannot protect {target[1]}: every cell is already suppressed")
        chosen = next(
            (c for c in candidates if target not in determined(equations, suppressed | {c})),
            candidates[0],
        )
        suppressed.add(chosen)


def _published(
    equations: Iterable[Equation], values: Mapping[Key, Cell], suppressed: set[Key]
) -> list[Key]:
    """Published cells of the equations, smallest nonzero first, zeros last."""
    keys = {k for eq in equations for k in (eq[0], *eq[1])}
    published = [k for k in keys if k in values and k not in suppressed]

    def order(key: Key) -> tuple[bool, Decimal, Key]:
        v = values[key]
        amount = Decimal(0) if v is None else Decimal(str(v))
        return (amount == 0, amount, key)

    return sorted(published, key=order)
