"""Disclosure control: no count from 1 to threshold-1 is published, or recovered by an attacker
(``attacker.py``) who holds every download and knows every identity between the cells."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from services.coordination.metrics import disclosure
from services.coordination.metrics.api_data import publishable_rows
from services.coordination.metrics.disclosure import disclosed, protect
from services.coordination.metrics.facts import CaseFact, CostFact, EngagementFact, ReferralFact
from services.coordination.metrics.figures import compute
from services.coordination.metrics.rows import OUTCOMES, Row
from tests.unit.coordination.metrics.attacker import Where, recovered, true_cells

THRESHOLD = 5
PROJECTS = ("p1", "p2")
INSTITUTIONS = ("rav", "iv", "sozialhilfe", "zif")
FINANCERS = ("alv", "iv", "social-services")
FIRST, LAST = dt.date(2025, 1, 1), dt.date(2026, 12, 31)
D = dt.date


def tables(facts: Sequence[CaseFact], last: dt.date = LAST) -> list[Row]:
    """The quarters and years the API would publish the day after ``last``."""
    return publishable_rows(facts, as_of=last + dt.timedelta(days=1), projects=PROJECTS)


def assert_safe(truth: list[Row], published: list[Row], threshold: int = THRESHOLD) -> None:
    """Every published cell is true, no small count shows, nothing is recovered."""
    true = true_cells(truth)
    for row in published:
        for name, v in row.cells().items():
            where = (row.scope, row.period, name)
            assert v is None or v == true[where], where
            small = isinstance(v, int) and 1 <= v < threshold
            assert not (small and disclosure.is_count(name)), f"{where} = {v} is published"
        assert set(row.suppressed) == {
            n
            for n, v in row.cells().items()
            if v is None and true[(row.scope, row.period, n)] is not None
        }
    assert recovered(truth, [published], threshold) == []


# ---------------------------------------------------------------- random populations

days = st.integers(0, (LAST - FIRST).days).map(lambda d: FIRST + dt.timedelta(days=d))


@st.composite
def case_facts(draw: st.DrawFn, person: int) -> CaseFact:
    opened = draw(days)
    closed = draw(st.one_of(st.none(), st.integers(0, 300)))
    closed_on = min(opened + dt.timedelta(days=closed), LAST) if closed is not None else None
    end = closed_on or LAST
    span = (end - opened).days

    def within() -> dt.date:
        return opened + dt.timedelta(days=draw(st.integers(0, span)))

    engagements = []
    for _ in range(draw(st.integers(0, 3))):
        start = within()
        stop = draw(st.one_of(st.none(), st.integers(0, 120)))
        engagements.append(
            EngagementFact(
                draw(st.sampled_from(INSTITUTIONS)),
                draw(st.sampled_from(("measure", "benefit"))),
                start,
                None if stop is None else start + dt.timedelta(days=stop),
            )
        )
    referrals = []
    for _ in range(draw(st.integers(0, 2))):
        asked = within()
        answer = draw(st.one_of(st.none(), st.integers(0, 40)))
        referrals.append(
            ReferralFact(
                "rav",
                "iv",
                asked,
                None if answer is None else asked + dt.timedelta(days=answer),
                None if answer is None else draw(st.booleans()),
            )
        )
    costs = [
        CostFact(
            draw(st.sampled_from(FINANCERS)), Decimal(draw(st.integers(100, 10**6))) / 100, within()
        )
        for _ in range(draw(st.integers(0, 3)))
    ]
    return CaseFact(
        person=person,
        projects=draw(st.sampled_from(((), ("p1",), ("p2",), ("p1",), ("p2",), ("p1", "p2")))),
        opened_on=opened,
        closed_on=closed_on,
        outcome=draw(st.sampled_from(OUTCOMES)) if closed_on else None,
        engagements=tuple(sorted(engagements, key=lambda e: e.started_on)),
        referrals=tuple(referrals),
        costs=tuple(costs),
        institutions=frozenset(e.institution for e in engagements),
    )


@st.composite
def populations(draw: st.DrawFn) -> list[CaseFact]:
    size = draw(st.integers(0, 60))
    return [draw(case_facts(draw(st.integers(0, max(size - 3, 0))))) for _ in range(size)]


EXAMPLES = settings(
    max_examples=int(os.environ.get("IIZ_DISCLOSURE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@EXAMPLES
@given(populations())
def test_an_attacker_recovers_no_suppressed_cell(facts: list[CaseFact]) -> None:
    truth = tables(facts)
    assert_safe(truth, protect(truth, threshold=THRESHOLD))


@EXAMPLES
@given(populations(), st.integers(1, 12))
def test_any_threshold_is_respected(facts: list[CaseFact], threshold: int) -> None:
    truth = tables(facts)
    assert_safe(truth, protect(truth, threshold=threshold), threshold)


@EXAMPLES
@given(populations())
def test_two_downloads_half_a_year_apart_recover_nothing_together(facts: list[CaseFact]) -> None:
    truth = tables(facts)
    earlier_truth = tables(facts, last=D(2026, 6, 30))
    earlier = protect(earlier_truth)
    later = protect(truth, known=disclosed(earlier_truth, earlier))
    assert recovered(truth, [earlier, later]) == []
    now = {(r.scope, r.period): r.cells() for r in later}
    for before in earlier:  # what was shown stays shown
        after = now[(before.scope, before.period)]
        assert all(after[n] == v for n, v in before.cells().items() if v is not None)


# ---------------------------------------------------------------- each identity, by example


def quarter_cases(opened: dict[str, int], **extra: Any) -> list[CaseFact]:
    """Cases opened on 10 January 2026, per project code (empty: no project)."""
    facts = []
    for project, count in opened.items():
        projects = (project,) if project else ()
        facts.extend(
            CaseFact(person=len(facts), projects=projects, opened_on=D(2026, 1, 10), **extra)
            for _ in range(count)
        )
    return facts


@contextmanager
def identities_without(
    dropped: Callable[[dict[tuple[int, str], int], Sequence[Row]], bool],
) -> Iterator[None]:
    """``protect`` with a family of identities left out: a deliberately weakened protection."""
    original = disclosure.identities

    def weakened(rows: Sequence[Row], values: Any) -> list[dict[tuple[int, str], int]]:
        return [eq for eq in original(rows, values) if not dropped(eq, rows)]

    disclosure.identities = weakened  # type: ignore[assignment]
    try:
        yield
    finally:
        disclosure.identities = original


def across_scopes(eq: dict[tuple[int, str], int], rows: Sequence[Row]) -> bool:
    return len({rows[i].scope for i, _ in eq}) > 1


def carrying_cases_over(eq: dict[tuple[int, str], int], rows: Sequence[Row]) -> bool:
    return any(name == "cases_active" for _, name in eq)


def test_the_canton_minus_the_other_projects_gives_no_suppressed_project_away() -> None:
    truth = tables(quarter_cases({"p1": 3, "p2": 12}, closed_on=None))
    with identities_without(across_scopes):
        weakened = protect(truth)
    assert ("p1", "2026-Q1", "cases_opened") in recovered(truth, [weakened])
    published = protect(truth)
    assert_safe(truth, published)


def test_one_case_in_two_projects_later_leaves_the_partitioned_periods_protected() -> None:
    facts = [
        CaseFact(person=i, projects=("p1",) if i < 3 else ("p2",), opened_on=D(2025, 1, 10))
        for i in range(13)
    ]
    facts.append(CaseFact(person=99, projects=("p1", "p2"), opened_on=D(2026, 1, 10)))
    truth = tables(facts)
    published = protect(truth)
    assert_safe(truth, published)
    shown = {(r.scope, r.period): r for r in published}
    assert shown[("p1", "2025-Q1")].cases_opened is None
    assert None in (
        shown[("canton", "2025-Q1")].cases_opened,
        shown[("p2", "2025-Q1")].cases_opened,
    )


def test_cases_carried_over_give_no_suppressed_closing_away() -> None:
    facts = quarter_cases({"": 20})
    facts += [  # two closings in Q2; opened, active and closed around them stay large
        CaseFact(
            person=100 + i,
            projects=(),
            opened_on=D(2026, 1, 12),
            closed_on=D(2026, 5, 2),
            outcome="employment",
        )
        for i in range(2)
    ]
    truth = tables(facts)
    with identities_without(carrying_cases_over):
        weakened = protect(truth)
    assert ("canton", "2026-Q2", "cases_closed") in recovered(truth, [weakened])
    assert_safe(truth, protect(truth))


def two_downloads(facts: list[CaseFact], *, ledger: bool) -> list[Where]:
    """What the attacker recovers from a download at mid-2026 and one at the end of 2026."""
    earlier_truth, truth = tables(facts, last=D(2026, 6, 30)), tables(facts)
    earlier = protect(earlier_truth)
    known = disclosed(earlier_truth, earlier) if ledger else set()
    return recovered(truth, [earlier, protect(truth, known=known)])


def test_without_the_ledger_two_downloads_together_give_a_suppressed_cell_away() -> None:
    leaky = find(
        populations(),
        lambda facts: bool(two_downloads(facts, ledger=False)),
        settings=settings(database=None, max_examples=500, phases=[Phase.generate], deadline=None),
    )
    assert two_downloads(leaky, ledger=True) == []


def test_a_case_moved_to_another_project_after_a_download_does_not_show_as_a_difference() -> None:
    before = [
        CaseFact(person=i, projects=("p1",) if i < 10 else ("p2",), opened_on=D(2026, 1, 10))
        for i in range(20)
    ]
    after = [replace(before[10], projects=("p1",)), *before[:10], *before[11:]]
    earlier_truth = tables(before, last=D(2026, 6, 30))
    earlier = protect(earlier_truth)
    later = protect(tables(after, last=D(2026, 6, 30)), known=disclosed(earlier_truth, earlier))
    shown = {(r.scope, r.period): r for r in later}
    assert [r.cases_opened for r in earlier if r.period == "2026-Q1"] == [10, 10, 20]
    assert shown[("p1", "2026-Q1")].cases_opened is None  # 11: one more than before
    assert shown[("p2", "2026-Q1")].cases_opened is None  # 9: one fewer
    assert shown[("canton", "2026-Q1")].cases_opened == 20


def test_five_records_of_few_cases_are_as_small_as_those_cases() -> None:
    costs = tuple(CostFact("iv", Decimal("100.00"), D(2026, 2, 1)) for _ in range(6))
    referrals = tuple(
        ReferralFact("rav", "iv", D(2026, 1, 11), D(2026, 1, 20), True) for _ in range(6)
    )
    few = CaseFact(
        person=99, projects=(), opened_on=D(2026, 1, 10), costs=costs, referrals=referrals
    )
    facts = [*quarter_cases({"": 10}), few]
    (q1,) = [r for r in protect(tables(facts)) if (r.scope, r.period) == ("canton", "2026-Q1")]
    assert q1.measure_costs_chf["iv"] is None
    assert q1.n["measure_costs_chf.iv"] is None
    assert q1.referrals_answered is None
    assert q1.referral_acceptance_rate is None
    assert q1.cases_opened == 11


def test_zero_stays_visible_and_a_small_count_is_suppressed() -> None:
    facts = quarter_cases({"": 12})
    handoff = (
        EngagementFact("rav", "benefit", D(2026, 1, 10), D(2026, 1, 20)),
        EngagementFact("iv", "measure", D(2026, 2, 1)),
    )
    facts[0] = CaseFact(person=0, projects=(), opened_on=D(2026, 1, 10), engagements=handoff)
    (q1,) = [r for r in protect(tables(facts)) if (r.scope, r.period) == ("canton", "2026-Q1")]
    assert q1.cases_closed == 0
    assert q1.handoffs is None
    assert q1.median_handoff_gap_days is None
    assert q1.n["median_handoff_gap_days"] is None
    assert "handoffs" in q1.suppressed
    assert q1.cases_opened == 12


def test_the_threshold_is_a_parameter() -> None:
    truth = tables(quarter_cases({"": 3}))
    q1 = next(
        r for r in protect(truth, threshold=3) if r.period == "2026-Q1" and r.scope == "canton"
    )
    assert q1.cases_opened == 3
    assert all(r.suppressed == () for r in protect(truth, threshold=1))
    q1 = next(
        r for r in protect(truth, threshold=4) if r.period == "2026-Q1" and r.scope == "canton"
    )
    assert q1.cases_opened is None


def test_a_share_is_published_only_with_both_of_its_counts() -> None:
    parallel = (
        EngagementFact("rav", "benefit", D(2026, 1, 10)),
        EngagementFact("iv", "measure", D(2026, 1, 12)),
    )
    facts = quarter_cases({"": 30})
    facts[:2] = [
        CaseFact(person=i, projects=(), opened_on=D(2026, 1, 10), engagements=parallel)
        for i in range(2)
    ]
    (q1,) = [r for r in protect(tables(facts)) if (r.scope, r.period) == ("canton", "2026-Q1")]
    assert q1.parallel_cases is None
    assert q1.parallel_share is None
    assert q1.cases_active == 30


def test_a_threshold_raised_between_downloads_hides_what_is_now_small() -> None:
    truth = tables(quarter_cases({"p1": 3, "p2": 12}))
    earlier = protect(truth, threshold=3)
    later = protect(truth, threshold=5, known=disclosed(truth, earlier))
    shown = {(r.scope, r.period): r for r in later}
    assert next(r for r in earlier if r.scope == "p1" and r.period == "2026-Q1").cases_opened == 3
    assert shown[("p1", "2026-Q1")].cases_opened is None


def test_duplicate_rows_are_refused() -> None:
    (row,) = compute([], period="quarter", first=D(2026, 1, 1), last=D(2026, 1, 1), projects=[])
    with pytest.raises(ValueError, match="same scope and period"):
        protect([row, row])
