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

- Nestings (``nestings``): a pair (A, B) of counts where what B counts (its cases, or its
  events with their keys: ``figures._cell_keys``) is always part of what A counts, so that
  A >= B; and, since the same contributors give the same cell key and so the same published
  value, A >= B + 1 wherever the two are published with different values. Over scopes: the
  canton holds each project, for every count of the same period (the projects need not
  partition it). Over time: a year holds each of its quarters (same scope), for every count but
  ``sequential_cases`` (a case sequential in a quarter may be parallel in another quarter of the
  year) and the stocks. In a row: ``cases_active`` holds ``cases_opened``, ``cases_closed``,
  ``parallel_cases``, ``sequential_cases`` and ``consented_cases``; ``cases_closed`` each
  ``closed_by_outcome``; ``cases_opened`` ``reentries_12m``; ``referrals_answered`` the accepted
  and the declined. The n aliases (``rows.N_ALIASES``) are the cells they name, so they appear
  under those names only. ``nestings`` returns the transitive closure (the canton's year holds a
  project's quarter), so that a chain through a blank cell is not lost.

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


# The private counts: computed and audited, never published (disclosure.py shows two of them
# perturbed, through the figures derived from them).
PRIVATE = ("referrals_accepted", "referrals_declined", "institution_links", START, END)
# Every count; each one adds up over scopes and nests in the canton's.
COUNTS = frozenset(
    {
        "cases_opened",
        "cases_active",
        "cases_closed",
        "parallel_cases",
        "sequential_cases",
        "consented_cases",
        "handoffs",
        "referrals_answered",
        "reentries_12m",
        "n.median_days_to_first_measure",
        *PRIVATE,
    }
)
NESTED_OVER_SCOPES = COUNTS
NESTED_PREFIXES = ("closed_by_outcome.", "n.measure_costs_chf.")
# sequential_cases: "not parallel in P" does not nest over periods; the stocks do not either.
NESTED_OVER_TIME = NESTED_OVER_SCOPES - {"sequential_cases", START, END}
# (larger, smaller cells) within a row; cases_closed holds each closed_by_outcome (added per row).
NESTED_IN_ROW: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "cases_active",
        ("cases_opened", "cases_closed", "parallel_cases", "sequential_cases", "consented_cases"),
    ),
    ("cases_opened", ("reentries_12m",)),
    ("referrals_answered", ("referrals_accepted", "referrals_declined")),
)
Nesting = tuple[Key, Key]  # (larger, smaller)


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


def nestings(
    rows: Sequence[Row], values: Mapping[Key, Cell], *, closed: bool = True
) -> list[Nesting]:
    """Every (larger, smaller) pair of counts of the module docstring, transitively closed
    (``closed``) or only the direct ones. A cell absent from ``values`` (a financer without
    records in a row) is a known 0 and is in no pair; every pair holds on the true values by
    the definitions of ``figures.py``."""
    where = {(row.scope, row.period): i for i, row in enumerate(rows)}
    names: dict[int, set[str]] = {}
    for i, name in values:
        names.setdefault(i, set()).add(name)

    def nested(name: str, over: frozenset[str]) -> bool:
        return name in over or name.startswith(NESTED_PREFIXES)

    below: dict[Key, set[Key]] = {}

    def add(larger: Key, smaller: Key) -> None:
        if smaller in values and larger != smaller:
            below.setdefault(larger, set()).add(smaller)

    for i, row in enumerate(rows):
        own = names.get(i, set())
        for big, parts in NESTED_IN_ROW:
            for name in parts:
                add((i, big), (i, name))
        for name in sorted(n for n in own if n.startswith("closed_by_outcome.")):
            add((i, "cases_closed"), (i, name))
        canton = where.get((CANTON, row.period))
        if row.scope != CANTON and canton is not None:
            for name in sorted(n for n in own if nested(n, NESTED_OVER_SCOPES)):
                add((canton, name), (i, name))
        if "Q" not in row.period:
            for quarter in quarters_of_year(row.period):
                q = where.get((row.scope, quarter))
                if q is not None:
                    for name in sorted(n for n in names.get(q, ()) if nested(n, NESTED_OVER_TIME)):
                        add((i, name), (q, name))
    if not closed:
        return [(larger, smaller) for larger in sorted(below) for smaller in sorted(below[larger])]
    closure: list[Nesting] = []
    for larger in sorted(below):
        seen: set[Key] = set()
        stack = list(below[larger])
        while stack:
            key = stack.pop()
            if key not in seen:
                seen.add(key)
                stack.extend(below.get(key, ()))
        closure.extend((larger, smaller) for smaller in sorted(seen))
    return closure
