"""Disclosure control: no count from 1 to threshold-1 is published, or recoverable by an attacker
who knows every published cell and every equation between the cells.

The attacker (``recovered``) is written independently of ``protect``: he knows each row's
``cases_closed`` = sum of ``closed_by_outcome``, year = sum of its four quarters for every
additive cell (a financer missing from a row is 0), that an n cell equals the count it names, and
that share x n gives a count back. A suppressed cell is recovered when its unit vector lies in the
row space of those equations restricted to the suppressed cells (exact rank test over fractions:
rank(A) == rank(A + e_cell)). Non-negativity adds one more attack, an equation whose published
cells leave 0 for its suppressed ones: it only ever shows zeros (asserted), never a value from 1
to threshold-1, so ``protect`` accepts it rather than suppressing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from services.coordination.metrics.disclosure import equations_of, primary_suppression, protect
from services.coordination.metrics.figures import OUTCOMES, Cell, Row, row_from_cells

THRESHOLD = 5
FINANCERS = ("iv", "rav", "sozialhilfe")
QUARTERS = ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")
Where = tuple[str, str, str]  # (scope, period, cell name)

# What the attacker knows to add up over periods, written out here rather than imported.
ADDITIVE = (
    "cases_opened",
    "cases_closed",
    "reentries_12m",
    "handoffs",
    "referrals_answered",
    "n.median_days_to_first_measure",
)
COUNTS = (*ADDITIVE, "cases_active", "parallel_cases")
N_OF = {
    "median_days_to_first_measure": "n.median_days_to_first_measure",
    "parallel_share": "cases_active",
    "median_handoff_gap_days": "handoffs",
    "institutions_per_case": "cases_active",
    "referral_acceptance_rate": "referrals_answered",
    "median_referral_answer_days": "referrals_answered",
}
ALIASES = {
    "n.parallel_share": "cases_active",
    "n.institutions_per_case": "cases_active",
    "n.median_handoff_gap_days": "handoffs",
    "n.referral_acceptance_rate": "referrals_answered",
    "n.median_referral_answer_days": "referrals_answered",
}


@dataclass
class Counts:
    """The raw counts of one scope x period, from which a consistent Row is built."""

    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    opened: int = 0
    reentries: int = 0
    handoffs: int = 0
    answered: int = 0
    accepted: int = 0
    active: int = 0
    parallel: int = 0
    measured: int = 0
    costs: dict[str, tuple[int, Decimal]] = field(default_factory=dict)


def make_row(scope: str, period: str, c: Counts) -> Row:
    def stat(n: int, value: float) -> float | None:
        return value if n else None

    return Row(
        scope=scope,
        period=period,
        cases_opened=c.opened,
        cases_active=c.active,
        cases_closed=sum(c.outcomes.values()),
        closed_by_outcome=dict(c.outcomes),
        median_days_to_first_measure=stat(c.measured, 12.5),
        parallel_cases=c.parallel,
        parallel_share=stat(c.active, round(c.parallel / max(c.active, 1), 4)),
        handoffs=c.handoffs,
        median_handoff_gap_days=stat(c.handoffs, 9.0),
        institutions_per_case=stat(c.active, 1.75),
        referrals_answered=c.answered,
        referral_acceptance_rate=stat(c.answered, round(c.accepted / max(c.answered, 1), 4)),
        median_referral_answer_days=stat(c.answered, 6.0),
        reentries_12m=c.reentries,
        measure_costs_chf={fin: chf for fin, (n, chf) in sorted(c.costs.items()) if n},
        n={
            "median_days_to_first_measure": c.measured,
            "parallel_share": c.active,
            "median_handoff_gap_days": c.handoffs,
            "institutions_per_case": c.active,
            "referral_acceptance_rate": c.answered,
            "median_referral_answer_days": c.answered,
            **{f"measure_costs_chf.{fin}": n for fin, (n, _) in sorted(c.costs.items()) if n},
        },
    )


def year_of(quarters: Sequence[Counts], active: int, parallel: int) -> Counts:
    costs: dict[str, tuple[int, Decimal]] = {}
    for q in quarters:
        for fin, (n, chf) in q.costs.items():
            old_n, old_chf = costs.get(fin, (0, Decimal("0.00")))
            costs[fin] = (old_n + n, old_chf + chf)
    return Counts(
        outcomes={o: sum(q.outcomes[o] for q in quarters) for o in OUTCOMES},
        opened=sum(q.opened for q in quarters),
        reentries=sum(q.reentries for q in quarters),
        handoffs=sum(q.handoffs for q in quarters),
        answered=sum(q.answered for q in quarters),
        accepted=sum(q.accepted for q in quarters),
        active=active,
        parallel=parallel,
        measured=sum(q.measured for q in quarters),
        costs=costs,
    )


# ---------------------------------------------------------------- the attacker


def recovered(truth: Sequence[Row], published: Sequence[Row]) -> list[Where]:
    """The suppressed cells the attacker can pin to one value (empty when protection holds)."""
    true = _cells(truth)
    shown = _cells(published)
    hidden = sorted(k for k, v in shown.items() if v is None and true[k] is not None)
    equations = _equations(truth)
    found: set[Where] = set()
    for scope, period, name in hidden:
        # share x n = count: a published share and n give the count back.
        if name == "parallel_cases" and all(
            shown[(scope, period, n)] is not None for n in ("parallel_share", "cases_active")
        ):
            found.add((scope, period, name))
    for component in _components(hidden, equations):
        column = {key: i for i, key in enumerate(component)}
        matrix = [
            [Fraction(coefficients.get(key, 0)) for key in component]
            for coefficients in equations
            if any(key in column for key in coefficients)
        ]
        rank = _rank(matrix)
        for key, i in column.items():
            unit = [Fraction(int(j == i)) for j in range(len(component))]
            if _rank([*matrix, unit]) == rank:
                found.add(key)
    return sorted(found)


def _components(hidden: list[Where], equations: list[dict[Where, int]]) -> list[list[Where]]:
    """The suppressed cells split into groups no equation links (each is attacked alone)."""
    group = {key: {key} for key in hidden}
    for coefficients in equations:
        linked = [key for key in coefficients if key in group]
        for key in linked[1:]:
            if group[key] is not group[linked[0]]:
                merged = group[linked[0]] | group[key]
                for member in merged:
                    group[member] = merged
    unique = {id(g): g for g in group.values()}
    return [sorted(g) for g in unique.values()]


def forced_to_zero(truth: Sequence[Row], published: Sequence[Row]) -> list[Where]:
    """Suppressed cells in an equation whose published cells leave 0 for its unknowns."""
    true = _cells(truth)
    shown = _cells(published)
    forced: list[Where] = []
    for coefficients in _equations(truth):
        total = next(k for k, c in coefficients.items() if c == 1)
        unknown = [k for k in coefficients if shown.get(k, 0) is None]
        if shown.get(total, 0) is None or not unknown:
            continue
        rest = sum(shown.get(k) or 0 for k in coefficients if k != total)
        if shown.get(total, 0) == rest:
            forced.extend(unknown)
    assert all(true[k] == 0 for k in forced), "a forced cell is not 0"
    return forced


def _cells(rows: Sequence[Row]) -> dict[Where, Cell]:
    return {(r.scope, r.period, name): v for r in rows for name, v in r.cells().items()}


def _equations(rows: Sequence[Row]) -> list[dict[Where, int]]:
    """Each equation as cell -> coefficient (= 0); the total has +1, its parts -1."""
    equations: list[dict[Where, int]] = []
    for r in rows:
        closed = {(r.scope, r.period, f"closed_by_outcome.{o}"): -1 for o in r.closed_by_outcome}
        equations.append({(r.scope, r.period, "cases_closed"): 1, **closed})
        for alias, base in ALIASES.items():
            equations.append({(r.scope, r.period, alias): 1, (r.scope, r.period, base): -1})
    for year in (r for r in rows if "Q" not in r.period):
        quarters = [r for r in rows if r.scope == year.scope and r.period.startswith(year.period)]
        if len({r.period for r in quarters}) - 1 != 4:
            continue
        names = {
            name
            for r in quarters
            for name in r.cells()
            if name in ADDITIVE
            or name.startswith(("closed_by_outcome.", "measure_costs_chf.", "n.measure_costs_"))
        }
        for name in names:
            equation = {(r.scope, r.period, name): -1 for r in quarters if r is not year}
            equation[(year.scope, year.period, name)] = 1
            equations.append(equation)
    return equations


def _rank(matrix: list[list[Fraction]]) -> int:
    rows = [list(line) for line in matrix]
    rank = 0
    for c in range(len(rows[0]) if rows else 0):
        pivot = next((r for r in range(rank, len(rows)) if rows[r][c]), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        for r in range(rank + 1, len(rows)):
            if rows[r][c]:
                factor = rows[r][c] / rows[rank][c]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[rank], strict=True)]
        rank += 1
    return rank


def assert_safe(truth: list[Row], published: list[Row], threshold: int = THRESHOLD) -> None:
    """Every published cell is true, no small count or small-n figure shows, nothing recovers."""
    true, shown = _cells(truth), _cells(published)
    assert all(v is None or v == true[k] for k, v in shown.items())
    for (scope, period, name), v in shown.items():
        small = isinstance(v, int) and 1 <= v < threshold
        is_count = name in COUNTS or name.startswith(("closed_by_", "n."))
        assert not (is_count and small), f"{scope} {period} {name} = {v} is published"
        n_name = N_OF.get(name) or (f"n.{name}" if name.startswith("measure_costs") else None)
        if v is not None and n_name is not None:
            n = true[(scope, period, n_name)]
            assert not (isinstance(n, int) and 1 <= n < threshold), f"{name} with n={n}"
    for r in published:
        suppressed = {name for name, v in r.cells().items() if v is None}
        true_none = {
            name for name, v in r.cells().items() if true[(r.scope, r.period, name)] is None
        }
        assert set(r.suppressed) == suppressed - true_none
    assert recovered(truth, published) == []
    forced_to_zero(truth, published)


def primary_only(rows: list[Row], threshold: int = THRESHOLD) -> list[Row]:
    """A deliberately weakened protect: small cells only, no complementary suppression."""
    values = {(i, n): v for i, r in enumerate(rows) for n, v in r.cells().items()}
    hidden = primary_suppression(values, threshold)
    return [
        row_from_cells(
            r.scope, r.period, {n: None if (i, n) in hidden else v for n, v in r.cells().items()}
        )
        for i, r in enumerate(rows)
    ]


def one_unknown_rule(rows: list[Row], threshold: int = THRESHOLD) -> list[Row]:
    """Another weakened protect: complement only equations left with exactly one unknown."""
    values = {(i, n): v for i, r in enumerate(rows) for n, v in r.cells().items()}
    hidden = primary_suppression(values, threshold)
    changed = True
    while changed:
        changed = False
        for total, parts in equations_of(rows):
            cells = [k for k in (total, *parts) if k in values]
            unknown = [k for k in cells if k in hidden]
            if len(unknown) == 1 and len(cells) > 1:
                hidden.add(min((k for k in cells if k not in hidden), key=lambda k: values[k] or 0))
                changed = True
    hidden |= {(i, n) for i, n in values if (i, ALIASES.get(n, "")) in hidden}
    return [
        row_from_cells(
            r.scope, r.period, {n: None if (i, n) in hidden else v for n, v in r.cells().items()}
        )
        for i, r in enumerate(rows)
    ]


# ---------------------------------------------------------------- random tables

small = st.one_of(st.integers(0, 6), st.integers(0, 6), st.integers(0, 40))


@st.composite
def quarter_counts(draw: st.DrawFn) -> Counts:
    answered = draw(small)
    active = draw(small)
    opened = draw(small)
    costs = {}
    for fin in FINANCERS:
        n = draw(small)
        if n:
            costs[fin] = (n, Decimal(draw(st.integers(0, 10**7))) / 100)
    return Counts(
        outcomes={o: draw(small) for o in OUTCOMES},
        opened=opened,
        reentries=draw(st.integers(0, opened)),
        handoffs=draw(small),
        answered=answered,
        accepted=draw(st.integers(0, answered)),
        active=active,
        parallel=draw(st.integers(0, active)),
        measured=draw(st.integers(0, opened)),
        costs=costs,
    )


@st.composite
def tables(draw: st.DrawFn) -> list[Row]:
    """Quarter rows then year rows of one or two scopes, the years the sums of their quarters."""
    quarter_rows: list[Row] = []
    year_rows: list[Row] = []
    for scope in draw(st.sampled_from([("canton",), ("p1", "canton")])):
        quarters = [draw(quarter_counts()) for _ in QUARTERS]
        active = max(q.active for q in quarters) + draw(small)
        year = year_of(quarters, active, draw(st.integers(0, active)))
        quarter_rows.extend(make_row(scope, p, q) for p, q in zip(QUARTERS, quarters, strict=True))
        year_rows.append(make_row(scope, "2026", year))
    return [*quarter_rows, *year_rows]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_an_attacker_recovers_no_suppressed_cell(truth: list[Row]) -> None:
    assert_safe(truth, protect(truth, threshold=THRESHOLD))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 12))
def test_any_threshold_is_respected(truth: list[Row], threshold: int) -> None:
    assert_safe(truth, protect(truth, threshold=threshold), threshold)


def test_primary_suppression_alone_lets_the_attacker_recover_a_small_count() -> None:
    leaky = find(
        tables(),
        lambda truth: bool(recovered(truth, primary_only(truth))),
        settings=settings(database=None, max_examples=1000),
    )
    assert recovered(leaky, primary_only(leaky))
    assert recovered(leaky, protect(leaky)) == []


# ---------------------------------------------------------------- hand-picked tables


def quarter_table(outcomes: Mapping[str, Sequence[int]], **rest: Any) -> list[Row]:
    """One scope: outcome -> its four quarter counts; every other count large."""
    quarters = [
        Counts(
            outcomes={o: outcomes.get(o, (20, 20, 20, 20))[i] for o in OUTCOMES},
            opened=30,
            handoffs=30,
            answered=30,
            accepted=15,
            active=50,
            parallel=20,
            measured=30,
            **rest,
        )
        for i in range(4)
    ]
    year = year_of(quarters, 80, 30)
    return [
        *(make_row("canton", p, q) for p, q in zip(QUARTERS, quarters, strict=True)),
        make_row("canton", "2026", year),
    ]


def test_an_outcome_suppressed_alone_would_be_the_total_minus_the_others() -> None:
    truth = quarter_table({"employment": (3, 20, 20, 20)})
    assert recovered(truth, primary_only(truth)) == [
        ("canton", "2026-Q1", "closed_by_outcome.employment")
    ]
    published = protect(truth)
    assert_safe(truth, published)
    assert len(published[0].suppressed) >= 2


def test_a_small_cell_bridging_two_suppressed_rectangles_is_protected() -> None:
    # Q1/Q2 x employment/education and Q3/Q4 x iv-measure/iv-pension are safe rectangles; the
    # small Q1 iv-measure joins them, and with every line holding two unknowns it is still
    # determined: Q1 total - (employment + education columns - Q2 total).
    truth = quarter_table(
        {
            "employment": (2, 1, 20, 20),
            "education": (3, 4, 20, 20),
            "iv-measure": (1, 20, 2, 3),
            "iv-pension": (20, 20, 4, 1),
        }
    )
    bridge = ("canton", "2026-Q1", "closed_by_outcome.iv-measure")
    assert bridge in recovered(truth, primary_only(truth))
    assert bridge in recovered(truth, one_unknown_rule(truth))
    assert_safe(truth, protect(truth))


def test_zero_stays_visible_and_a_small_count_is_suppressed() -> None:
    (row,) = protect([make_row("canton", "2026-Q1", Counts(opened=0, handoffs=4, active=5))])
    assert row.cases_opened == 0
    assert row.handoffs is None
    assert row.median_handoff_gap_days is None
    assert row.n["median_handoff_gap_days"] is None
    assert row.cases_active == 5
    assert "handoffs" in row.suppressed
    assert "median_days_to_first_measure" not in row.suppressed  # n = 0: no data


def test_the_threshold_is_a_parameter() -> None:
    row = make_row("canton", "2026-Q1", Counts(opened=3, handoffs=2))
    (three,) = protect([row], threshold=3)
    assert (three.cases_opened, three.handoffs) == (3, None)
    (one,) = protect([row], threshold=1)
    assert one.suppressed == ()


def test_a_share_never_gives_a_suppressed_count_away() -> None:
    row = make_row("canton", "2026-Q1", Counts(active=40, parallel=2, answered=40, accepted=38))
    (protected,) = protect([row])
    assert protected.parallel_cases is None
    assert protected.parallel_share is None
    assert protected.referral_acceptance_rate is None  # 2 declined of 40
    assert protected.institutions_per_case == 1.75


def test_a_cost_sum_with_few_facts_is_suppressed_and_protected_across_periods() -> None:
    costs = [{"iv": (2, Decimal("500.00"))}, {"iv": (9, Decimal("80.00"))}, {}, {}]
    quarters = [Counts(costs=c) for c in costs]
    truth = [
        *(make_row("canton", p, q) for p, q in zip(QUARTERS, quarters, strict=True)),
        make_row("canton", "2026", year_of(quarters, 0, 0)),
    ]
    published = protect(truth)
    assert published[0].measure_costs_chf["iv"] is None
    assert published[1].measure_costs_chf["iv"] is None  # else year - Q2 = Q1
    assert published[4].measure_costs_chf["iv"] == Decimal("580.00")
    assert_safe(truth, published)


def test_duplicate_rows_are_refused() -> None:
    row = make_row("canton", "2026-Q1", Counts())
    with pytest.raises(ValueError, match="same scope and period"):
        protect([row, row])
