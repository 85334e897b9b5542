"""Disclosure control (the cell-key method): no count from 1 to threshold-1 is published, or
recovered by an attacker (``attacker.py``) who knows the perturbation table, holds every download
(quarters, years, CSV) and knows every identity between the true cells."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.coordination.metrics import disclosure
from services.coordination.metrics.api_data import publishable_rows, published_as_of
from services.coordination.metrics.cell_key import GOLDEN, PerturbationTable
from services.coordination.metrics.disclosure import (
    Publication,
    cell_values,
    is_count,
    publish,
    publish_over_time,
)
from services.coordination.metrics.facts import CaseFact, CostFact, EngagementFact, ReferralFact
from services.coordination.metrics.figures import compute
from services.coordination.metrics.identities import nestings
from services.coordination.metrics.rows import OUTCOMES, Row, row_from_cells, rows_to_csv
from tests.unit.coordination.metrics import attacker
from tests.unit.coordination.metrics.attacker import Download, from_csv, recovered, true_counts
from tests.unit.coordination.metrics.found_examples import TWO_DOWNLOADS_MERGED

THRESHOLD = 5
PROJECTS = ("p1", "p2")
INSTITUTIONS = ("rav", "iv", "sozialhilfe", "zif")
FINANCERS = ("alv", "iv", "social-services")
FIRST, LAST = dt.date(2025, 1, 1), dt.date(2026, 12, 31)
D = dt.date


def tables(facts: Sequence[CaseFact], last: dt.date = LAST) -> list[Row]:
    """The quarters and years the API would publish the day after ``last``."""
    return publishable_rows(facts, as_of=last + dt.timedelta(days=1), projects=PROJECTS)


def downloads(published: Publication) -> list[Sequence[Row]]:
    """The quarters and the years as two downloads (each also read as its CSV by the attacker)."""
    quarters = [r for r in published.rows if "Q" in r.period]
    years = [r for r in published.rows if "Q" not in r.period]
    return [quarters, years]


def assert_safe(truth: list[Row], published: Publication, threshold: int = THRESHOLD) -> None:
    """No small count shows, every count is within the table's reach of the true one, the
    suppressed list names exactly the blank cells, and nothing is recovered."""
    table = PerturbationTable(threshold)
    true = {(r.scope, r.period): r.cells() for r in truth}
    for row in published.rows:
        cells = row.cells()
        for name, v in cells.items():
            t = true[(row.scope, row.period)][name]
            if is_count(name) and v is not None:
                assert isinstance(t, int)
                assert v in {value for value, _ in table.row(t)}, (row.scope, row.period, name)
        assert set(row.suppressed) <= {n for n, v in cells.items() if v is None}
        assert all(true[(row.scope, row.period)][n] is not None for n in row.suppressed)
    assert published.blank == sum(len(r.suppressed) for r in published.rows)
    assert recovered(truth, downloads(published), threshold) == []


# ---------------------------------------------------------------- random populations

days = st.integers(0, (LAST - FIRST).days).map(lambda d: FIRST + dt.timedelta(days=d))
keys = st.floats(0, 1, exclude_max=True, allow_nan=False)


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
        record_key=draw(keys),
    )


@st.composite
def populations(draw: st.DrawFn) -> list[CaseFact]:
    size = draw(st.integers(0, 60))
    return [draw(case_facts(draw(st.integers(0, max(size - 3, 0))))) for _ in range(size)]


EXAMPLES = settings(
    max_examples=int(os.environ.get("IIZ_DISCLOSURE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@EXAMPLES
@given(populations())
def test_an_attacker_with_the_table_and_every_download_recovers_no_small_count(
    facts: list[CaseFact],
) -> None:
    truth = tables(facts)
    assert_safe(truth, publish(truth, threshold=THRESHOLD))


@EXAMPLES
@given(populations(), st.integers(2, 12))
def test_any_threshold_is_respected(facts: list[CaseFact], threshold: int) -> None:
    truth = tables(facts)
    assert_safe(truth, publish(truth, threshold=threshold), threshold)


def download(facts: Sequence[CaseFact], as_of: dt.date) -> tuple[list[Row], Publication]:
    """What a download on ``as_of`` holds, as the API makes it (``published_as_of``): the true
    rows then and their publication."""
    return published_as_of(facts, as_of=as_of, projects=PROJECTS, threshold=THRESHOLD)


@EXAMPLES
@given(populations())
@example(facts=TWO_DOWNLOADS_MERGED)
def test_two_downloads_half_a_year_apart_recover_nothing_together(facts: list[CaseFact]) -> None:
    truth, later = download(facts, D(2027, 1, 1))
    earlier_truth, earlier = download(facts, D(2026, 7, 1))
    both: list[Download] = [(earlier_truth, earlier.rows), (truth, later.rows)]
    assert recovered(truth, both) == []
    if not later.withheld:  # the earlier download is the later one restricted to its periods
        kept = {(r.scope, r.period): r for r in later.rows}
        assert all(kept[(r.scope, r.period)] == r for r in earlier.rows)
    now = {(r.scope, r.period): r.cells() for r in later.rows}
    true_now = {(r.scope, r.period): r.cells() for r in truth}
    for before, then in zip(earlier.rows, earlier_truth, strict=True):
        # an ended period whose count has the same cases behind it shows the same value
        if "Q" in before.period and then.cells() == true_now[(then.scope, then.period)]:
            after = now[(before.scope, before.period)]
            for name, v in before.cells().items():
                if is_count(name) and v is not None and after[name] is not None:
                    assert after[name] == v, (before.scope, before.period, name)


def test_two_downloads_audited_each_on_its_own_give_small_counts_away() -> None:
    """Why a download is made over the quarter ends (``publish_over_time``): in the population
    hypothesis found, the download as of 2027-01-01 audited on its own blanks cells of 2025 and
    2026-Q2 that the one as of 2026-07-01 showed (the later table links more periods to them);
    each is safe alone, merged they pin small counts."""
    truth, earlier_truth = (
        tables(TWO_DOWNLOADS_MERGED),
        tables(TWO_DOWNLOADS_MERGED, D(2026, 6, 30)),
    )
    earlier, later = publish(earlier_truth), publish(truth)
    assert recovered(earlier_truth, [earlier.rows]) == []
    assert recovered(truth, [later.rows]) == []
    found = recovered(truth, [(earlier_truth, earlier.rows), (truth, later.rows)])
    assert ("p2", "2025", "cases_closed") in found


def test_each_step_of_a_download_is_what_the_api_published_at_that_quarter_end() -> None:
    """``publish_over_time`` takes the rows of an earlier quarter end from the later table: they
    are what ``publishable_rows`` gives on the day after that quarter end."""
    truth = tables(TWO_DOWNLOADS_MERGED)
    ends = sorted({disclosure._ends_on(r.period) for r in truth})
    assert len(ends) == 8
    for end in ends:
        step = [r for r in truth if disclosure._ends_on(r.period) <= end]
        assert tables(TWO_DOWNLOADS_MERGED, end) == step
        for r, then in zip(step, tables(TWO_DOWNLOADS_MERGED, end), strict=True):
            assert (r.private, r.cell_keys) == (then.private, then.cell_keys)


@EXAMPLES
@given(populations())
def test_where_all_rows_at_once_need_no_blank_no_earlier_quarter_end_does(
    facts: list[CaseFact],
) -> None:
    """``publish_over_time`` takes the audit of all the rows at once where it blanks no count:
    each earlier quarter end's table is part of it, and its audit blanks nothing either."""
    truth = tables(facts)
    alone = publish(truth)
    chained = publish_over_time(truth)
    if alone.withheld or alone.hidden:
        return
    assert chained == alone
    for end in sorted({disclosure._ends_on(r.period) for r in truth}):
        step = publish([r for r in truth if disclosure._ends_on(r.period) <= end])
        assert not step.withheld
        assert not step.hidden, end


def test_a_later_publication_keeps_the_rows_of_an_earlier_one_as_they_were() -> None:
    facts = [*quarter_cases(12), *project_cases(12, 3)]
    truth = tables(facts)
    earlier = publish_over_time([r for r in truth if r.period == "2026-Q1"])
    hidden = next(iter(sorted(earlier.hidden)), None)
    later = publish(truth, earlier=earlier)
    assert not later.withheld
    kept = {(r.scope, r.period): r for r in later.rows}
    assert all(kept[(r.scope, r.period)] == r for r in earlier.rows)
    assert hidden is None or hidden in later.hidden
    assert publish_over_time(truth) == publish_over_time(truth)  # the second from the cache
    with pytest.raises(ValueError, match="another threshold"):
        publish(truth, threshold=4, earlier=earlier)


# ---------------------------------------------------------------- the attacker can win


def broken(threshold: int = THRESHOLD) -> PerturbationTable:
    """A table that only rounds small counts to 0 or the threshold and leaves the rest exact."""

    class SmallOnly(PerturbationTable):
        def row(self, true: int) -> tuple[tuple[int, Fraction], ...]:
            return super().row(true) if true < self.threshold else ((true, Fraction(1)),)

    return SmallOnly(threshold)


def project_cases(p1: int, p2: int) -> list[CaseFact]:
    """Cases opened on 10 January 2026, open since, each in one project (so canton = p1 + p2)."""
    return [
        CaseFact(
            person=i,
            projects=("p1",) if i < p1 else ("p2",),
            opened_on=D(2026, 1, 10),
            record_key=(i * 0.37) % 1,
        )
        for i in range(p1 + p2)
    ]


def test_the_attacker_recovers_every_small_count_of_an_unprotected_table() -> None:
    truth = tables(project_cases(12, 3))
    found = recovered(truth, [truth])
    assert ("p2", "2026-Q1", "cases_opened") in found
    assert ("p2", "2026", "cases_active") in found


def test_the_attacker_recovers_a_small_count_as_a_difference_when_large_counts_are_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = tables(project_cases(12, 3))
    monkeypatch.setattr(disclosure, "PerturbationTable", broken)
    monkeypatch.setattr(disclosure, "pinned", lambda knowledge, targets: set())  # no audit
    leaky = publish(truth)
    assert ("p2", "2026-Q1", "cases_opened") in recovered(truth, downloads(leaky), table=broken())


def test_the_audit_blanks_what_a_broken_table_would_give_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = tables(project_cases(12, 3))
    monkeypatch.setattr(disclosure, "PerturbationTable", broken)
    audited = publish(truth)
    assert recovered(truth, downloads(audited), table=broken()) == []
    assert audited.blank > 0


# ---------------------------------------------------------------- the review's attacks (i18)


def nested_demo() -> list[CaseFact]:
    """Review i18, H1: p1 has six cases (keys summing to 0.5), p2 one (key 0.55), all opened on
    10 January 2026, so the canton's key is 0.05: p1 shows 6, p2 0 and the canton 5 in 2026-Q1
    and 2026, for opened and active cases alike. Canton != p1 as published says p2 >= 1 (the
    same cases would show the same value); canton <= 7 and p1 >= 6 then pin p2 to 1."""
    keys = [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
    facts = [
        CaseFact(person=i, projects=("p1",), opened_on=D(2026, 1, 10), record_key=k)
        for i, k in enumerate(keys)
    ]
    return [*facts, CaseFact(person=9, projects=("p2",), opened_on=D(2026, 1, 10), record_key=0.55)]


def blank_demo() -> list[CaseFact]:
    """Review i18, H2: four cases with one "iv" cost record each, one per quarter of 2026, keys
    chosen so that the year's n of 4 is published as 0, and eight cases without costs. Blanking
    the five n (what the audit did) tells that the year is from 1 to 4 and each quarter at least
    1 (the financer is named): the year is 4 and each quarter 1."""
    ends = [D(2026, m, 15) for m in (2, 5, 8, 11)]
    key = (0.05 / 4 - GOLDEN) % 1
    costs = [
        CaseFact(
            person=i,
            projects=(),
            opened_on=D(2026, 1, 10),
            record_key=key,
            costs=(CostFact("iv", Decimal("900.00"), end),),
        )
        for i, end in enumerate(ends)
    ]
    others = [
        CaseFact(person=10 + i, projects=(), opened_on=D(2026, 1, 10), record_key=0.37 * i % 1)
        for i in range(8)
    ]
    return [*costs, *others]


def test_where_counts_are_blanked_each_download_keeps_the_earlier_ones_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a table that leaves large counts exact, the audit of all the rows blanks counts, so
    the downloads are made quarter end by quarter end: each earlier one is the later one
    restricted to its periods, and together they give nothing away."""
    monkeypatch.setattr(disclosure, "PerturbationTable", broken)
    monkeypatch.setattr(disclosure, "_STEPS", disclosure._Steps(64))  # not the real table's
    facts = project_cases(12, 3)
    truth, later = download(facts, D(2027, 1, 1))
    assert publish(truth).hidden
    assert not later.withheld
    kept = {(r.scope, r.period): r for r in later.rows}
    for as_of in (D(2026, 4, 1), D(2026, 7, 1), D(2026, 10, 1)):
        then, earlier = download(facts, as_of)
        assert earlier.hidden
        assert all(kept[(r.scope, r.period)] == r for r in earlier.rows)
        both: list[Download] = [(then, earlier.rows), (truth, later.rows)]
        assert recovered(truth, both, table=broken()) == []


def test_h1_nested_counts_published_differently_give_nothing_away() -> None:
    truth = tables(nested_demo())
    assert_safe(truth, publish(truth))


def test_h1_the_real_table_without_the_audit_gives_p2_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = tables(nested_demo())
    monkeypatch.setattr(disclosure, "pinned", lambda knowledge, targets: set())  # no audit
    leaky = publish(truth)
    shown = {(r.scope, r.cases_opened) for r in leaky.rows if r.period == "2026-Q1"}
    assert shown == {("p1", 6), ("p2", 0), ("canton", 5)}
    found = recovered(truth, downloads(leaky))
    assert ("p2", "2026-Q1", "cases_opened") in found
    assert ("p2", "2026", "cases_active") in found


def test_h2_blank_counts_give_nothing_away() -> None:
    truth = tables(blank_demo())
    published = publish(truth)
    assert_safe(truth, published)
    # n of 1 published as 0: the financer is not named (its name would say n >= 1)
    assert all("iv" not in canton(published, p).n for p in ("2026-Q1", "2026"))


def test_h2_blanks_that_the_attacker_reads_as_small_counts_give_them_away() -> None:
    """What the audit published before the fix: the five n blank, the financer named."""
    truth = tables(blank_demo())
    rows = []
    for row in truth:
        cells = row.cells()
        hidden: list[str] = []
        if "n.measure_costs_chf.iv" in cells:
            hidden = ["measure_costs_chf.iv", "n.measure_costs_chf.iv"]
            cells.update(dict.fromkeys(hidden))
        rows.append(row_from_cells(row.scope, row.period, cells, hidden))
    found = recovered(truth, downloads(Publication(rows, 0, 0, 0, THRESHOLD, 2)))
    years = ("2026", "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4")
    assert {("canton", p, "n.measure_costs_chf.iv") for p in years} <= set(found)


def test_a_publication_that_blanking_cannot_protect_is_withheld_whole_not_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    truth = tables(nested_demo())

    def cannot(*_: object) -> set[object]:
        raise disclosure.UnprotectableError("cases_opened stays pinned")

    monkeypatch.setattr(disclosure, "pinned", lambda knowledge, targets: dict(targets))
    monkeypatch.setattr(disclosure, "_to_blank", cannot)
    withheld = publish(truth)
    assert all(v is None for r in withheld.rows for v in r.cells().values())
    assert withheld.blank == sum(1 for r in truth for v in r.cells().values() if v is not None)
    assert recovered(truth, downloads(withheld)) == []


@EXAMPLES
@given(populations())
def test_nested_counts_count_part_of_the_same_contributors(facts: list[CaseFact]) -> None:
    """Every nesting the audit and the attacker assume holds on the true counts, and a nested
    pair with equal counts has equal cell keys (the same contributors), so a nested pair shown
    differently really differs by at least 1."""
    truth = tables(facts)
    values = cell_values(truth)
    for (i, big), (j, small) in nestings(truth, values):
        assert values[(i, big)] >= values[(j, small)], (big, small)  # type: ignore[operator]
        if values[(i, big)] == values[(j, small)] and "open_at" not in big:
            keys = truth[i].cell_keys.get(big, 0.0), truth[j].cell_keys.get(small, 0.0)
            assert keys[0] == keys[1], (truth[i].scope, truth[i].period, big, small)
    true = true_counts(truth)
    for big, small in attacker.nestings(truth, true):
        assert true[big] >= true[small], (big, small)


# ---------------------------------------------------------------- the rules, by example


def quarter_cases(count: int, **extra: object) -> list[CaseFact]:
    """Cases opened on 10 January 2026 in no project, with spread record keys."""
    return [
        CaseFact(
            person=i,
            projects=(),
            opened_on=D(2026, 1, 10),
            record_key=(0.1 + i * 0.618) % 1,
            **extra,  # type: ignore[arg-type]
        )
        for i in range(count)
    ]


def canton(published: Publication, period: str = "2026-Q1") -> Row:
    return next(r for r in published.rows if (r.scope, r.period) == ("canton", period))


def test_the_same_cases_show_the_same_count_in_quarters_years_csv_and_later_downloads() -> None:
    facts = quarter_cases(23)
    published = publish(tables(facts))
    q1, year = canton(published), canton(published, "2026")
    assert q1.cases_opened == year.cases_opened == q1.cases_active
    assert q1.cases_opened in range(21, 26)
    csv = from_csv(published.rows)
    assert csv[("canton", "2026-Q1", "cases_opened")] == str(q1.cases_opened)
    assert csv[("canton", "2026", "cases_opened")] == str(q1.cases_opened)
    others = [replace(f, opened_on=D(2027, 2, 1)) for f in quarter_cases(30)[23:]]
    later = publish(tables([*facts, *others], last=D(2027, 12, 31)))
    # other cases later, in other periods: 2026-Q1 is unchanged
    assert canton(later).cases_opened == q1.cases_opened


def test_zero_stays_zero_and_a_small_count_is_0_or_the_threshold() -> None:
    facts = quarter_cases(12)
    handoff = (
        EngagementFact("rav", "benefit", D(2026, 1, 10), D(2026, 1, 20)),
        EngagementFact("iv", "measure", D(2026, 2, 1)),
    )
    facts[0] = replace(facts[0], engagements=handoff)
    q1 = canton(publish(tables(facts)))
    assert q1.cases_closed == 0
    assert q1.handoffs in (0, 5)
    assert q1.median_handoff_gap_days is None  # n is at most the threshold
    assert ("median_handoff_gap_days" in q1.suppressed) == (q1.handoffs == 5)


def test_a_median_is_published_above_the_threshold_only() -> None:
    measure = (EngagementFact("iv", "measure", D(2026, 1, 20)),)
    for count in (3, 12):
        q1 = canton(publish(tables(quarter_cases(count, engagements=measure))))
        n = q1.n["median_days_to_first_measure"]
        assert (q1.median_days_to_first_measure is not None) == (n is not None and n > THRESHOLD)
        if q1.median_days_to_first_measure is not None:
            assert q1.median_days_to_first_measure == 10.0


def test_a_share_is_computed_from_its_published_counts() -> None:
    parallel = (
        EngagementFact("rav", "benefit", D(2026, 1, 10)),
        EngagementFact("iv", "measure", D(2026, 1, 12)),
    )
    facts = quarter_cases(30)
    facts[:8] = [replace(f, engagements=parallel) for f in facts[:8]]
    q1 = canton(publish(tables(facts)))
    assert q1.parallel_cases is not None
    assert q1.cases_active is not None
    assert q1.parallel_share == round(q1.parallel_cases / q1.cases_active, 4)
    assert q1.n["parallel_share"] == q1.cases_active


def test_costs_of_few_cases_are_blank_and_of_enough_cases_rounded_near_the_sum() -> None:
    few = replace(
        quarter_cases(1)[0],
        person=99,
        costs=tuple(CostFact("iv", Decimal("100.00"), D(2026, 2, 1)) for _ in range(6)),
    )
    q1 = canton(publish(tables([*quarter_cases(10), few])))
    assert q1.measure_costs_chf["iv"] is None
    assert "measure_costs_chf.iv" in q1.suppressed
    many = [
        replace(f, costs=(CostFact("alv", Decimal("1000.00"), D(2026, 2, 1)),))
        for f in quarter_cases(8)
    ]
    q1 = canton(publish(tables(many)))
    shown = q1.measure_costs_chf["alv"]
    assert shown is not None
    assert shown % 100 == 0
    assert abs(shown - Decimal(8000)) <= Decimal(150) + 50  # 15 % of 1000, then to CHF 100


def test_the_threshold_is_a_parameter() -> None:
    truth = tables(quarter_cases(3))
    assert canton(publish(truth, threshold=3)).cases_opened in (2, 3, 4, 5)
    assert canton(publish(truth, threshold=4)).cases_opened in (0, 4)


def test_the_publication_counts_its_cells_blanks_and_perturbed_counts() -> None:
    truth = tables(quarter_cases(40))
    published = publish(truth)
    assert published.cells == sum(len(r.cells()) for r in truth)
    assert published.blank == sum(len(r.suppressed) for r in published.rows)
    assert (published.threshold, published.max_deviation) == (5, 2)
    changed = [
        (r.scope, r.period, n)
        for r, t in zip(published.rows, truth, strict=True)
        for n, v in r.cells().items()
        if is_count(n) and v is not None and v != t.cells()[n]
    ]
    assert 0 < len(changed) <= published.perturbed
    assert "suppressed" in rows_to_csv(published.rows)


def test_private_cell_keys_never_leave_the_row() -> None:
    (row,) = [r for r in tables(quarter_cases(8)) if (r.scope, r.period) == ("canton", "2026-Q1")]
    assert row.cell_keys["cases_opened"] == row.cell_keys["cases_active"]
    assert "cell_keys" not in row.to_dict()
    assert all("key" not in name for name in row.cells())
    assert true_counts([row])[("canton", "2026-Q1", "cases_opened")] == 8


def test_duplicate_rows_are_refused() -> None:
    (row,) = compute([], period="quarter", first=D(2026, 1, 1), last=D(2026, 1, 1), projects=[])
    with pytest.raises(ValueError, match="same scope and period"):
        publish([row, row])
