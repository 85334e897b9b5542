"""The attacker of the committee's figures, written independently of ``protect``.

He holds every download he has made (cells with their values) and knows, of the true tables:
each row's ``cases_closed`` = sum of its outcomes; answered referrals = accepted + declined,
where a published acceptance rate times answered gives accepted; institutions per case times
active cases gives the institution links; an n cell equals the count it names; year = sum of its
four quarters for every count of things that happen on a day (a financer missing from a row is
0); canton = sum of the projects in each period where the projects partition the canton's cases
(a year only with its quarters); the cases open at the start (active - opened) and at the end
(active - closed) of each period, the end of one period being the start of the next, a year
starting with its Q1 and ending with its Q4; and the number of cases carried into the first
quarter and year. He is lucky: a cell of an earlier download counts as known when its value is
still the true one. A hidden cell is recovered when the identities and the known cells pin it to
one value: its unit vector lies in the row space of the identities restricted to the hidden
cells (exact elimination over fractions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from services.coordination.metrics.rows import Cell, Row

Where = tuple[str, str, str]  # (scope, period, cell name)
Equation = dict[Where, int]

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
DAILY_PREFIXES = ("closed_by_outcome.", "measure_costs_chf.", "n.measure_costs_chf.")
PER_CASE = ("cases_active", "parallel_cases", "links", "start", "end")
PRIVATE = ("accepted", "declined", "links", "start", "end")
ALIASES = {
    "n.parallel_share": "cases_active",
    "n.institutions_per_case": "cases_active",
    "n.median_handoff_gap_days": "handoffs",
    "n.referral_acceptance_rate": "referrals_answered",
    "n.median_referral_answer_days": "referrals_answered",
}


def true_cells(rows: Sequence[Row]) -> dict[Where, Cell]:
    """Every cell of the true tables, with the counts behind the rate and the mean."""
    cells: dict[Where, Cell] = {}
    for r in rows:
        cells.update({(r.scope, r.period, n): v for n, v in r.cells().items()})
        accepted = r.private["referrals_accepted"]
        cells[(r.scope, r.period, "accepted")] = accepted
        cells[(r.scope, r.period, "declined")] = (r.referrals_answered or 0) - accepted
        cells[(r.scope, r.period, "links")] = r.private["institution_links"]
        active = r.cases_active or 0
        cells[(r.scope, r.period, "start")] = active - (r.cases_opened or 0)
        cells[(r.scope, r.period, "end")] = active - (r.cases_closed or 0)
    return cells


def shown_cells(download: Sequence[Row]) -> dict[Where, Cell]:
    """What one download shows, with what its figures give away."""
    shown: dict[Where, Cell] = {}
    for r in download:
        cells = r.cells()
        shown.update({(r.scope, r.period, n): v for n, v in cells.items() if v is not None})
        answered, rate = cells["referrals_answered"], cells["referral_acceptance_rate"]
        if answered is not None and rate is not None:
            shown[(r.scope, r.period, "accepted")] = round(float(rate) * answered)
        active, mean = cells["cases_active"], cells["institutions_per_case"]
        if active is not None and mean is not None:
            shown[(r.scope, r.period, "links")] = round(float(mean) * active)
        for alias, base in ALIASES.items():
            if cells.get(alias) is not None:
                shown[(r.scope, r.period, base)] = cells[alias]
    return shown


def recovered(
    truth: Sequence[Row], downloads: Iterable[Sequence[Row]], threshold: int = 5
) -> list[Where]:
    """The suppressed cells the attacker pins down (zeros too), and the unpublished counts
    behind a rate or a mean that he pins to a value from 1 to threshold-1."""
    true = true_cells(truth)
    known: set[Where] = set()
    for download in downloads:
        known.update(k for k, v in shown_cells(download).items() if true.get(k) == v)
    for scope in {r.scope for r in truth}:  # the cases carried into the first quarter and year
        for quarters in (True, False):
            periods = [
                r.period for r in truth if r.scope == scope and ("Q" in r.period) is quarters
            ]
            if periods:
                known.add((scope, min(periods), "start"))
    hidden = {k for k, v in true.items() if k not in known and v is not None}
    pinned = _pinned(identities(truth, true), hidden)

    def disclosed(key: Where) -> bool:
        value = true[key]
        return key[2] not in PRIVATE or (isinstance(value, int) and 1 <= value < threshold)

    return sorted(k for k in pinned if disclosed(k))


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
    partitioned = {p for p, eqs in across.items() if all(_true(eq, true) for eq in eqs)}
    for period in partitioned if projects else ():
        quarters = [q for q in periods if q.startswith(f"{period}-Q")]
        if all(q in partitioned for q in quarters):  # a year with its quarters
            eqs.extend(across[period])
    return eqs


def _follows(a: str, b: str) -> bool:
    if "Q" not in a:
        return int(b) == int(a) + 1
    year, quarter = (int(x) for x in a.split("-Q"))
    return b == (f"{year + 1}-Q1" if quarter == 4 else f"{year}-Q{quarter + 1}")


def _true(eq: Equation, true: Mapping[Where, Cell]) -> bool:
    return sum(Decimal(str(true.get(k) or 0)) * c for k, c in eq.items()) == 0


def _pinned(equations: list[Equation], hidden: set[Where]) -> set[Where]:
    """Hidden cells whose unit vector is in the row space (sparse elimination over fractions)."""
    rows: list[dict[Where, Fraction]] = []
    for eq in equations:
        line = {k: Fraction(c) for k, c in eq.items() if k in hidden and c}
        if line:
            rows.append(line)
    pivots: dict[Where, dict[Where, Fraction]] = {}
    for line in rows:
        for key, row in pivots.items():  # reduce by every earlier pivot row
            if key in line:
                factor = line[key]
                for k, v in row.items():
                    line[k] = line.get(k, Fraction(0)) - factor * v
                line = {k: v for k, v in line.items() if v}
        if not line:
            continue
        lead = min(line)
        scale = line[lead]
        line = {k: v / scale for k, v in line.items()}
        for key, row in pivots.items():  # keep the earlier rows reduced
            if lead in row:
                factor = row[lead]
                for k, v in line.items():
                    row[k] = row.get(k, Fraction(0)) - factor * v
                pivots[key] = {k: v for k, v in row.items() if v}
        pivots[lead] = line
    return {key for key, row in pivots.items() if len(row) == 1}
