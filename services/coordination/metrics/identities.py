"""The linear identities (and inequalities) between the committee's true cells that an attacker
may know; the cell-key method's audit (``disclosure.py``) assumes he knows every one.

Each identity is a mapping cell -> coefficient whose sum is a known constant (0, or the cases
carried into the first period). A cell is ``(row index, name)``; names are those of
``Row.cells()`` plus the private counts ``referrals_accepted``, ``referrals_declined``,
``institution_links``, ``cases_open_at_start`` and ``cases_open_at_end``. A cell absent from a
row (a financer without costs there) is a known 0.

- In a row: ``cases_closed`` = sum of ``closed_by_outcome``; ``referrals_answered`` = accepted +
  declined.
- Over time, per scope, where a year and its four quarters are all given: year = sum of the
  quarters, for every count of things that happen on one day (``TIME_ADDITIVE``).
- Over scopes, per period: canton = sum of the projects, for those and for the counts of cases
  (``SCOPE_ADDITIVE``), in every period where the projects partition the canton's cases: where
  it is true of every such cell of the period (a year only when its quarters are partitioned
  too). Elsewhere some case is in no project or in two, and an attacker who assumes it is
  misled, not informed. (Taking it cell by cell, or a year whose deviations happen to cancel,
  would let a later download imply something new about ended quarters.)
- Cases carried over, as stock and flow: the private cells ``cases_open_at_start`` (active -
  opened) and ``cases_open_at_end`` (active - closed) of a period; the end of one period is the
  start of the next (quarter to quarter, year to year); a year starts with its Q1 and ends with
  its Q4. With the stocks as cells of their own, every identity that more periods imply between
  the ones already published is among these (a later download adds none about earlier periods).

- Inequalities (``inequalities``): parallel + sequential cases <= active cases (a case on the
  sequential path is not parallel), consented cases <= active, re-entries <= opened, cases on the
  sequential path <= hand-offs, accepted referrals <= answered (declined >= 0 says it too).

Only identities that hold on the true values are returned, so every one is an exact attack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from services.coordination.metrics.periods import quarters_of_year
from services.coordination.metrics.rows import CANTON, Cell, Row

Key = tuple[int, str]
Identity = dict[Key, int]

TIME_ADDITIVE = frozenset(
    {
        "cases_opened",
        "cases_closed",
        "reentries_12m",
        "handoffs",
        "referrals_answered",
        "referrals_accepted",
        "referrals_declined",
        "n.median_days_to_first_measure",
    }
)
TIME_ADDITIVE_PREFIXES = ("closed_by_outcome.", "measure_costs_chf.", "n.measure_costs_chf.")
START, END = "cases_open_at_start", "cases_open_at_end"
SCOPE_ADDITIVE = TIME_ADDITIVE | {
    "cases_active",
    "parallel_cases",
    "sequential_cases",
    "consented_cases",
    "institution_links",
    START,
    END,
}
# (smaller cells, larger cells): the sum of the first is at most the sum of the second.
AT_MOST: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("parallel_cases", "sequential_cases"), ("cases_active",)),
    (("consented_cases",), ("cases_active",)),
    (("reentries_12m",), ("cases_opened",)),
    (("sequential_cases",), ("handoffs",)),
    (("referrals_accepted",), ("referrals_answered",)),
)


def adds_up_over_time(name: str) -> bool:
    return name in TIME_ADDITIVE or name.startswith(TIME_ADDITIVE_PREFIXES)


def adds_up_over_scopes(name: str) -> bool:
    return name in SCOPE_ADDITIVE or name.startswith(TIME_ADDITIVE_PREFIXES)


def identities(rows: Sequence[Row], values: Mapping[Key, Cell]) -> list[Identity]:
    """Every identity of the module docstring that holds on ``values``."""
    where = {(row.scope, row.period): i for i, row in enumerate(rows)}
    if len(where) != len(rows):
        raise ValueError("two rows have the same scope and period")
    names: dict[int, set[str]] = {}
    for i, name in values:
        names.setdefault(i, set()).add(name)
    found = [*_within_rows(rows, names), *_years(rows, where, names)]
    found.extend(_carried_over(rows, where))
    found = [eq for eq in found if _holds(eq, values)]
    across = _scopes(rows, names)
    partitioned = {p for p, eqs in across.items() if all(_holds(eq, values) for eq in eqs)}
    for period in sorted(partitioned):
        quarters = () if "Q" in period else quarters_of_year(period)
        if all(q in partitioned or q not in across for q in quarters):
            found.extend(across[period])
    return found


def _within_rows(rows: Sequence[Row], names: Mapping[int, set[str]]) -> list[Identity]:
    found: list[Identity] = []
    for i in range(len(rows)):
        outcomes = sorted(n for n in names.get(i, ()) if n.startswith("closed_by_outcome."))
        found.append(_total((i, "cases_closed"), [(i, n) for n in outcomes]))
        parts = [(i, "referrals_accepted"), (i, "referrals_declined")]
        found.append(_total((i, "referrals_answered"), parts))
    return found


def _years(
    rows: Sequence[Row], where: Mapping[tuple[str, str], int], names: Mapping[int, set[str]]
) -> list[Identity]:
    found: list[Identity] = []
    for i, row in enumerate(rows):
        quarters = [where.get((row.scope, q)) for q in quarters_of_year(row.period)]
        present = [q for q in quarters if q is not None]
        if len(present) < 4:
            continue
        additive = {n for j in (i, *present) for n in names.get(j, ()) if adds_up_over_time(n)}
        found.extend(_total((i, n), [(q, n) for q in present]) for n in sorted(additive))
    return found


def _scopes(rows: Sequence[Row], names: Mapping[int, set[str]]) -> dict[str, list[Identity]]:
    """Per period: canton = sum of the projects, for every cell that adds up over scopes."""
    found: dict[str, list[Identity]] = {}
    by_period: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_period.setdefault(row.period, []).append(i)
    for period, members in by_period.items():
        canton = [i for i in members if rows[i].scope == CANTON]
        projects = [i for i in members if rows[i].scope != CANTON]
        if len(canton) != 1 or not projects:
            continue
        additive = {n for j in members for n in names.get(j, ()) if adds_up_over_scopes(n)}
        found[period] = [
            _total((canton[0], n), [(j, n) for j in projects]) for n in sorted(additive)
        ]
    return found


def _carried_over(rows: Sequence[Row], where: Mapping[tuple[str, str], int]) -> list[Identity]:
    """Stock and flow: the cases open at a period's start and end (private cells) link periods."""
    found: list[Identity] = []
    for i in range(len(rows)):
        found.append({(i, "cases_active"): 1, (i, "cases_opened"): -1, (i, START): -1})
        found.append({(i, "cases_active"): 1, (i, "cases_closed"): -1, (i, END): -1})
    for (scope, period), i in where.items():
        following = where.get((scope, _next(period)))
        if following is not None:
            found.append({(following, START): 1, (i, END): -1})
        if "Q" not in period:
            first, last = where.get((scope, f"{period}-Q1")), where.get((scope, f"{period}-Q4"))
            if first is not None:
                found.append({(i, START): 1, (first, START): -1})
            if last is not None:
                found.append({(i, END): 1, (last, END): -1})
    return found


def _next(period: str) -> str:
    """The period after a quarter ("2026-Q4" -> "2027-Q1") or a year ("2026" -> "2027")."""
    if "Q" not in period:
        return str(int(period) + 1)
    year, quarter = period.split("-Q")
    return f"{int(year) + 1}-Q1" if quarter == "4" else f"{year}-Q{int(quarter) + 1}"


def _total(total: Key, parts: Sequence[Key]) -> Identity:
    eq: Identity = {total: 1}
    for part in parts:
        eq[part] = eq.get(part, 0) - 1
    return eq


def _holds(eq: Identity, values: Mapping[Key, Cell]) -> bool:
    total = sum((Decimal(str(values.get(k) or 0)) * c for k, c in eq.items()), Decimal(0))
    return total == 0


def inequalities(rows: Sequence[Row], values: Mapping[Key, Cell]) -> list[Identity]:
    """Each ``AT_MOST`` of the module docstring as a row whose sum is <= 0, where it holds."""
    found: list[Identity] = []
    for i in range(len(rows)):
        for smaller, larger in AT_MOST:
            eq: Identity = {(i, n): 1 for n in smaller}
            eq.update({(i, n): -1 for n in larger})
            if _at_most_zero(eq, values):
                found.append(eq)
    return found


def _at_most_zero(eq: Identity, values: Mapping[Key, Cell]) -> bool:
    total = sum((Decimal(str(values.get(k) or 0)) * c for k, c in eq.items()), Decimal(0))
    return total <= 0
