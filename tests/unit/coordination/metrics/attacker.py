"""The attacker of the committee's figures, written independently of ``disclosure.publish``.

He holds every download (the quarters, the years, the CSV) and knows the public perturbation
table: for each published count, every true count the table can turn into it. He knows, of the
true tables: each row's ``cases_closed`` = sum of its outcomes; answered referrals = accepted +
declined, where a published acceptance rate times answered gives the published accepted;
institutions per case times active cases gives the published institution links; an n cell is
the count it names; a named financer has a cost record, and a published cost sum has at least
threshold cases (so records) behind it; year = sum of its four quarters for every count of
things that happen on a day (a financer missing from a row is 0); canton = sum of the projects in
each period where the projects partition the canton's cases (a year only with its quarters);
the cases open at the start (active - opened) and at the end (active - closed) of each period,
the end of one period being the start of the next, a year starting with its Q1 and ending with
its Q4; the number of cases carried into the first quarter and year; and the inequalities
parallel + sequential <= active, consented <= active, re-entries <= opened, sequential <=
hand-offs. He knows which counts nest (what the smaller counts is part of what the larger
counts, so larger >= smaller): the canton holds each project; a year holds each of its quarters
(not for sequential cases, which must not be parallel in the period); active cases hold the
opened, closed, parallel, sequential and consented ones, closed cases each outcome, opened cases
the re-entries, answered referrals the accepted and the declined ones; and, since the same
contributors give the same published value, two nested counts published differently differ by
at least 1 (also through a chain of nestings). A financer not named in a row has a published n
of 0. He is lucky: an earlier download's value counts for a cell whose true value has not
changed since, and a blank count (named in ``suppressed``, or a blank rate or mean whose
denominator shows) whose true value is from 1 to threshold-1 is in [1, threshold-1] to him.

For each true count from 1 to threshold-1 he solves the least and the greatest integer value it
can take under all of that (mixed-integer programming, HiGHS); the count is *recovered* when
that range holds one integer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import pairwise

import numpy as np
from scipy.optimize import linprog  # type: ignore[import-untyped]  # scipy has no type hints
from scipy.sparse import csr_array  # type: ignore[import-untyped]

from services.coordination.metrics.cell_key import PerturbationTable
from services.coordination.metrics.rows import Cell, Row, rows_to_csv

Where = tuple[str, str, str]  # (scope, period, cell name)
Equation = dict[Where, int]
Download = tuple[Sequence[Row], Sequence[Row]]  # (the true rows then, what was published)

DAILY = (
    "cases_opened",
    "cases_closed",
    "reentries_12m",
    "handoffs",
    "referrals_answered",
    "accepted",
    "declined",
    "n.median_days_to_first_measure",
)
DAILY_PREFIXES = ("closed_by_outcome.", "n.measure_costs_chf.")
PER_CASE = (
    "cases_active",
    "parallel_cases",
    "sequential_cases",
    "consented_cases",
    "links",
    "start",
    "end",
)
COUNTED = (*DAILY, *PER_CASE)
ALIASES = {
    "n.parallel_share": "cases_active",
    "n.consent_share": "cases_active",
    "n.sequential_share": "cases_active",
    "n.institutions_per_case": "cases_active",
    "n.median_handoff_gap_days": "handoffs",
    "n.referral_acceptance_rate": "referrals_answered",
    "n.median_referral_answer_days": "referrals_answered",
}
AT_MOST = (
    (("parallel_cases", "sequential_cases"), ("cases_active",)),
    (("consented_cases",), ("cases_active",)),
    (("reentries_12m",), ("cases_opened",)),
    (("sequential_cases",), ("handoffs",)),
)
# (larger, smaller) in one row; cases_closed holds each closed_by_outcome too.
NESTED_IN_ROW = (
    ("cases_active", "cases_opened"),
    ("cases_active", "cases_closed"),
    ("cases_active", "parallel_cases"),
    ("cases_active", "sequential_cases"),
    ("cases_active", "consented_cases"),
    ("cases_opened", "reentries_12m"),
    ("referrals_answered", "accepted"),
    ("referrals_answered", "declined"),
)
CANTON_HOLDS = (
    "cases_opened",
    "cases_active",
    "cases_closed",
    "parallel_cases",
    "sequential_cases",
    "consented_cases",
    "handoffs",
    "referrals_answered",
    "accepted",
    "declined",
    "reentries_12m",
    "n.median_days_to_first_measure",
    "links",
)
YEAR_HOLDS = tuple(n for n in CANTON_HOLDS if n != "sequential_cases")
SECOND_VALUE = 1 - 1e-6


def is_counted(name: str) -> bool:
    return name in COUNTED or name.startswith(DAILY_PREFIXES)


def true_counts(rows: Sequence[Row]) -> dict[Where, int]:
    """Every count of the true tables, with the counts behind the rate, the mean, the stocks."""
    cells: dict[Where, int] = {}
    for r in rows:
        for name, v in r.cells().items():
            if is_counted(name) and isinstance(v, int):
                cells[(r.scope, r.period, name)] = v
        accepted = r.private["referrals_accepted"]
        cells[(r.scope, r.period, "accepted")] = accepted
        cells[(r.scope, r.period, "declined")] = (r.referrals_answered or 0) - accepted
        cells[(r.scope, r.period, "links")] = r.private["institution_links"]
        active = r.cases_active or 0
        cells[(r.scope, r.period, "start")] = active - (r.cases_opened or 0)
        cells[(r.scope, r.period, "end")] = active - (r.cases_closed or 0)
    return cells


def from_csv(download: Sequence[Row]) -> dict[Where, str]:
    """The cells of the CSV of a download, as text (the CSV is a download of its own)."""
    found: dict[Where, str] = {}
    for line in csv.DictReader(io.StringIO(rows_to_csv(download))):
        scope, period = line.pop("scope"), line.pop("period")
        line.pop("suppressed")
        found.update({(scope, period, n): v for n, v in line.items() if v})
    return found


def shown_counts(download: Sequence[Row]) -> dict[Where, int]:
    """The published counts a download shows or gives away (through a rate, a mean, an n)."""
    text = from_csv(download)
    shown: dict[Where, int] = {}
    for (scope, period, name), value in text.items():
        base = ALIASES.get(name, name)
        if is_counted(base):
            shown[(scope, period, base)] = int(value)
    for scope, period in {(s, p) for s, p, _ in text}:
        answered = shown.get((scope, period, "referrals_answered"))
        rate = text.get((scope, period, "referral_acceptance_rate"))
        if answered is not None and rate is not None and float(rate) < 1:
            # a rate of 1 may be clipped: then accepted is only >= answered
            shown[(scope, period, "accepted")] = round(float(rate) * answered)
        active = shown.get((scope, period, "cases_active"))
        mean = text.get((scope, period, "institutions_per_case"))
        if active is not None and mean is not None:
            shown[(scope, period, "links")] = round(float(mean) * active)
    return shown


def possible(table: PerturbationTable, published: int) -> tuple[int, int]:
    """The least and greatest true count the table turns into ``published`` (by enumeration);
    a value the table never publishes was published as it is."""
    can = [
        x
        for x in range(max(published, table.threshold) + table.max_deviation + 2)
        if any(v == published and p > 0 for v, p in table.row(x))
    ]
    return (min(can), max(can)) if can else (published, published)


def recovered(
    truth: Sequence[Row],
    downloads: Iterable[Sequence[Row] | Download],
    threshold: int = 5,
    table: PerturbationTable | None = None,
) -> list[Where]:
    """The true counts from 1 to threshold-1 the attacker pins to one value."""
    table = table or PerturbationTable(threshold)
    true = true_counts(truth)
    low: dict[Where, float] = dict.fromkeys(true, 0.0)
    high: dict[Where, float | None] = dict.fromkeys(true, None)
    seen: dict[Where, set[int]] = {}  # the published values of each count
    financers: dict[tuple[str, str], list[str]] = {}  # the n of the costs, per row
    for scope, period, name in true:
        if name.startswith("n.measure_costs_chf."):
            financers.setdefault((scope, period), []).append(name)

    def learn(key: Where, a: float, b: float | None) -> None:
        low[key] = max(low[key], a)
        if b is not None:
            high[key] = b if high[key] is None else min(b, high[key])  # type: ignore[type-var]

    for download in downloads:
        then, published = download if isinstance(download, tuple) else (truth, download)
        true_then = true_counts(then)

        def unchanged(key: Where) -> bool:
            return key in true and true_then.get(key) == true[key]  # noqa: B023

        shown = shown_counts(published)
        for key, value in shown.items():
            if unchanged(key):
                learn(key, *possible(table, value))
                seen.setdefault(key, set()).add(value)
        # A download that shows no count at all (withheld whole) blanks every cell whatever its
        # value: its blanks say nothing.
        for key in blank_counts(published, shown) if shown else ():
            if unchanged(key) and 1 <= true[key] < threshold:
                learn(key, 1, threshold - 1)  # lucky: he guesses the blank is a small count
        for r in published:
            for fin, chf in r.measure_costs_chf.items():
                key = (r.scope, r.period, f"n.measure_costs_chf.{fin}")
                if unchanged(key):
                    learn(key, threshold if chf is not None else 1, None)
            for name in financers.get((r.scope, r.period), ()):
                key = (r.scope, r.period, name)
                if name.removeprefix("n.") not in r.n and unchanged(key):
                    learn(key, *possible(table, 0))  # not named: its n is published as 0
                    seen.setdefault(key, set()).add(0)
    carried: set[Where] = set()
    for scope in {r.scope for r in truth}:  # the cases carried into the first quarter and year
        for quarters in (True, False):
            periods = [
                r.period for r in truth if r.scope == scope and ("Q" in r.period) is quarters
            ]
            if periods:
                key = (scope, min(periods), "start")
                low[key] = high[key] = true[key]
                carried.add(key)
    equations, at_most = identities(truth, true), inequalities(truth, true)
    nested = nestings(truth, true)
    at_most += [{smaller: 1, larger: -1} for larger, smaller in nested]
    value = {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}
    gaps = [
        {smaller: 1, larger: -1}
        for larger, smaller in nested
        if larger in value and smaller in value and value[larger] != value[smaller]
    ]
    for eq in [*equations, *at_most]:
        for key in eq:
            if key not in true:  # a financer missing from a row: 0
                low[key], high[key] = 0.0, 0.0
    targets = [k for k, v in true.items() if 1 <= v < threshold and k not in carried]
    return _pinned(low, high, equations, at_most, gaps, {k: true[k] for k in targets})


def blank_counts(download: Sequence[Row], shown: Mapping[Where, int]) -> set[Where]:
    """The counts a download shows to be blank: named in the CSV's ``suppressed`` column (an n
    names the count it is), the accepted referrals behind a blank rate and the institution
    links behind a blank mean whose denominator is shown."""
    blank: set[Where] = set()
    for line in csv.DictReader(io.StringIO(rows_to_csv(download))):
        scope, period = line["scope"], line["period"]
        for name in line["suppressed"].split():
            base = ALIASES.get(name, name)
            if is_counted(base):
                blank.add((scope, period, base))
            hidden = {"referral_acceptance_rate": "accepted", "institutions_per_case": "links"}
            denominator = {"accepted": "referrals_answered", "links": "cases_active"}
            if name in hidden and (scope, period, denominator[hidden[name]]) in shown:
                blank.add((scope, period, hidden[name]))
    return blank


def nestings(rows: Sequence[Row], true: Mapping[Where, Cell]) -> list[tuple[Where, Where]]:
    """(larger, smaller) for every pair of nested counts, through chains of nestings too."""
    by_key = {(r.scope, r.period) for r in rows}
    direct: dict[Where, set[Where]] = {}
    for scope, period, name in true:
        smaller = (scope, period, name)
        larger: list[Where] = []
        per_day = name.startswith(("closed_by_outcome.", "n.measure_costs_chf."))
        if (name in CANTON_HOLDS or per_day) and scope != "canton" and ("canton", period) in by_key:
            larger.append(("canton", period, name))
        if (name in YEAR_HOLDS or per_day) and "Q" in period:
            year = period.split("-Q")[0]
            if (scope, year) in by_key:
                larger.append((scope, year, name))
        larger += [(scope, period, big) for big, small in NESTED_IN_ROW if small == name]
        if name.startswith("closed_by_outcome."):
            larger.append((scope, period, "cases_closed"))
        for big in larger:
            direct.setdefault(big, set()).add(smaller)
    pairs: list[tuple[Where, Where]] = []
    for big in sorted(direct):
        below: set[Where] = set()
        todo = list(direct[big])
        while todo:
            key = todo.pop()
            if key not in below:
                below.add(key)
                todo += direct.get(key, ())
        pairs += [(big, small) for small in sorted(below)]
    return pairs


def identities(rows: Sequence[Row], true: Mapping[Where, Cell]) -> list[Equation]:
    eqs: list[Equation] = []
    by_key = {(r.scope, r.period): r for r in rows}
    scopes = sorted({r.scope for r in rows})
    periods = sorted({r.period for r in rows})
    names = {k[2] for k in true}
    for scope, period in by_key:
        active, opened, closed = (
            (scope, period, n) for n in ("cases_active", "cases_opened", "cases_closed")
        )
        eqs.append({active: 1, opened: -1, (scope, period, "start"): -1})
        eqs.append({active: 1, closed: -1, (scope, period, "end"): -1})
        outcomes = {(scope, period, n): -1 for n in names if n.startswith("closed_by_outcome.")}
        eqs.append({(scope, period, "cases_closed"): 1, **outcomes})
        eqs.append(
            {
                (scope, period, "referrals_answered"): 1,
                (scope, period, "accepted"): -1,
                (scope, period, "declined"): -1,
            }
        )
    daily = [n for n in names if n in DAILY or n.startswith(DAILY_PREFIXES)]
    for scope in scopes:
        for year in (p for p in periods if "Q" not in p):
            quarters = [f"{year}-Q{q}" for q in range(1, 5)]
            if not all((scope, p) in by_key for p in [year, *quarters]):
                continue
            for n in daily:
                eqs.append({(scope, year, n): 1, **{(scope, q, n): -1 for q in quarters}})
            eqs.append({(scope, year, "start"): 1, (scope, quarters[0], "start"): -1})
            eqs.append({(scope, year, "end"): 1, (scope, quarters[3], "end"): -1})
        for kind in (True, False):
            chain = [p for p in periods if ("Q" in p) is kind and (scope, p) in by_key]
            for a, b in pairwise(chain):
                if _follows(a, b):
                    eqs.append({(scope, b, "start"): 1, (scope, a, "end"): -1})
    projects = [s for s in scopes if s != "canton"]
    across = {
        period: [
            {("canton", period, n): 1, **{(s, period, n): -1 for s in projects}}
            for n in [*daily, *PER_CASE]
        ]
        for period in periods
    }
    partitioned = {p for p, eqs in across.items() if all(_sum(eq, true) == 0 for eq in eqs)}
    for period in partitioned if projects else ():
        quarters = [q for q in periods if q.startswith(f"{period}-Q")]
        if all(q in partitioned for q in quarters):  # a year with its quarters
            eqs.extend(across[period])
    return eqs


def inequalities(rows: Sequence[Row], true: Mapping[Where, Cell]) -> list[Equation]:
    """Rows whose sum is at most 0 (those that hold on the true cells)."""
    found: list[Equation] = []
    for r in rows:
        for smaller, larger in AT_MOST:
            eq = {(r.scope, r.period, n): 1 for n in smaller}
            eq.update({(r.scope, r.period, n): -1 for n in larger})
            if _sum(eq, true) <= 0:
                found.append(eq)
    return found


def _follows(a: str, b: str) -> bool:
    if "Q" not in a:
        return int(b) == int(a) + 1
    year, quarter = (int(x) for x in a.split("-Q"))
    return b == (f"{year + 1}-Q1" if quarter == 4 else f"{year}-Q{quarter + 1}")


def _sum(eq: Equation, true: Mapping[Where, Cell]) -> Decimal:
    return sum((Decimal(str(true.get(k) or 0)) * c for k, c in eq.items()), Decimal(0))


def _pinned(
    low: Mapping[Where, float],
    high: Mapping[Where, float | None],
    equations: Sequence[Equation],
    at_most: Sequence[Equation],
    gaps: Sequence[Equation],
    targets: Mapping[Where, int],
) -> list[Where]:
    """The targets whose least and greatest feasible integer value is their true value (rows
    of ``gaps`` sum to at most -1). An integer solution that moves a target clears it at once."""
    if not targets:
        return []
    cells = sorted(low)
    column = {k: c for c, k in enumerate(cells)}

    def matrix(rows: Sequence[Equation]) -> csr_array | None:
        if not rows:
            return None
        entries = [(r, column[k], c) for r, eq in enumerate(rows) for k, c in eq.items()]
        r_, c_, v_ = zip(*entries, strict=True)
        return csr_array((v_, (r_, c_)), shape=(len(rows), len(cells)))

    a_eq, a_ub = matrix(equations), matrix([*at_most, *gaps])
    b_ub = np.array([0.0] * len(at_most) + [-1.0] * len(gaps))
    bounds = [(low[k], high[k]) for k in cells]
    undecided = dict(targets)

    def solve(weights: Mapping[Where, float]) -> None:
        """Optimise, each weighted cell capped 2 above its true value; clear what moved."""
        cost = np.zeros(len(cells))
        capped = list(bounds)
        for key, weight in weights.items():
            cost[column[key]] = weight
            b = capped[column[key]]
            capped[column[key]] = (b[0], b[1] if b[1] is not None else targets[key] + 2)
        result = linprog(
            cost,
            A_ub=a_ub,
            b_ub=None if a_ub is None else b_ub,
            A_eq=a_eq,
            b_eq=None if a_eq is None else np.zeros(a_eq.shape[0]),
            bounds=capped,
            method="highs",
            integrality=np.ones(len(cells)),
        )
        assert result.status == 0, f"the true tables are infeasible: {result.message}"
        for key, value in list(undecided.items()):
            if abs(result.x[column[key]] - value) >= SECOND_VALUE:
                del undecided[key]

    for sign in (-1.0, 1.0):  # all targets down, then all up: most move in one of them
        solve(dict.fromkeys(undecided, sign))
    found: list[Where] = []
    for target in sorted(targets):
        for sign in (-1.0, 1.0):  # its own maximum, then its own minimum
            if target in undecided:
                solve({target: sign})
        if target in undecided:
            found.append(target)
            del undecided[target]
    return found
