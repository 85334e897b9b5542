"""The committee's figures, one definition at a time, on small hand-written cases."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from services.coordination.metrics.facts import (
    CaseFact,
    ConsentFact,
    CostFact,
    EngagementFact,
    ReferralFact,
)
from services.coordination.metrics.figures import compute
from services.coordination.metrics.periods import periods_overlapping
from services.coordination.metrics.rows import OUTCOMES, Row, rows_to_csv

D = dt.date


def case(
    opened: dt.date,
    closed: dt.date | None = None,
    *,
    person: int = 1,
    projects: tuple[str, ...] = (),
    outcome: str | None = None,
    engagements: tuple[EngagementFact, ...] = (),
    referrals: tuple[ReferralFact, ...] = (),
    costs: tuple[CostFact, ...] = (),
    institutions: frozenset[str] = frozenset(),
    consents: tuple[ConsentFact, ...] = (),
) -> CaseFact:
    return CaseFact(
        person=person,
        projects=projects,
        opened_on=opened,
        closed_on=closed,
        outcome=outcome,
        engagements=engagements,
        referrals=referrals,
        costs=costs,
        institutions=institutions,
        consents=consents,
    )


def eng(
    institution: str, start: dt.date, end: dt.date | None = None, kind: str = "measure"
) -> EngagementFact:
    return EngagementFact(institution=institution, kind=kind, started_on=start, ended_on=end)


def canton_rows(cases: list[CaseFact], first: dt.date, last: dt.date) -> dict[str, Row]:
    rows = compute(cases, period="quarter", first=first, last=last, projects=[])
    return {row.period: row for row in rows}


def one_quarter(cases: list[CaseFact]) -> Row:
    """The canton's figures for 2026-Q1."""
    day = D(2026, 2, 1)
    (row,) = compute(cases, period="quarter", first=day, last=day, projects=[])
    return row


def test_periods_are_the_calendar_quarters_or_years_overlapping_the_range() -> None:
    quarters = periods_overlapping("quarter", D(2025, 12, 31), D(2026, 4, 1))
    assert [p.label for p in quarters] == ["2025-Q4", "2026-Q1", "2026-Q2"]
    assert (quarters[1].start, quarters[1].end) == (D(2026, 1, 1), D(2026, 3, 31))
    years = periods_overlapping("year", D(2025, 12, 31), D(2026, 1, 1))
    assert [(p.label, p.start, p.end) for p in years] == [
        ("2025", D(2025, 1, 1), D(2025, 12, 31)),
        ("2026", D(2026, 1, 1), D(2026, 12, 31)),
    ]


def test_one_row_per_project_and_canton_and_period_in_order() -> None:
    cases = [case(D(2026, 1, 5), projects=("a",)), case(D(2026, 1, 6), projects=("a", "b"))]
    rows = compute(
        cases, period="quarter", first=D(2026, 1, 1), last=D(2026, 4, 1), projects=["a", "b"]
    )
    assert [(r.scope, r.period) for r in rows] == [
        ("a", "2026-Q1"),
        ("a", "2026-Q2"),
        ("b", "2026-Q1"),
        ("b", "2026-Q2"),
        ("canton", "2026-Q1"),
        ("canton", "2026-Q2"),
    ]
    assert [r.cases_opened for r in rows if r.period == "2026-Q1"] == [2, 1, 2]


def test_opened_active_and_closed_respect_the_period_boundaries() -> None:
    cases = [
        case(D(2026, 3, 31), D(2026, 4, 1)),  # opened Q1, closed Q2
        case(D(2025, 12, 1), D(2026, 1, 1)),  # closed on Q1's first day: active in Q1
        case(D(2026, 4, 1)),  # opened on Q2's first day, still open
    ]
    rows = canton_rows(cases, D(2026, 1, 1), D(2026, 9, 30))
    q1, q2, q3 = rows["2026-Q1"], rows["2026-Q2"], rows["2026-Q3"]
    assert (q1.cases_opened, q1.cases_active, q1.cases_closed) == (1, 2, 1)
    assert (q2.cases_opened, q2.cases_active, q2.cases_closed) == (1, 2, 1)
    assert (q3.cases_opened, q3.cases_active, q3.cases_closed) == (0, 1, 0)


def test_years_count_the_same_cases_as_their_quarters() -> None:
    cases = [case(D(2026, m, 1), D(2026, m, 20), outcome="employment") for m in (2, 5, 11)]
    (year,) = compute(cases, period="year", first=D(2026, 6, 1), last=D(2026, 6, 1), projects=[])
    assert (year.period, year.cases_opened, year.cases_active, year.cases_closed) == (
        "2026",
        3,
        3,
        3,
    )


def test_closed_by_outcome_has_every_outcome_and_counts_none_as_other() -> None:
    cases = [
        case(D(2026, 1, 2), D(2026, 2, 1), outcome="employment"),
        case(D(2026, 1, 2), D(2026, 2, 1), outcome=None),
        case(D(2026, 1, 2), D(2026, 2, 1), outcome="other"),
    ]
    row = one_quarter(cases)
    assert set(row.closed_by_outcome) == set(OUTCOMES)
    assert row.closed_by_outcome["employment"] == 1
    assert row.closed_by_outcome["other"] == 2
    assert row.cases_closed == sum(v or 0 for v in row.closed_by_outcome.values())


@pytest.mark.parametrize(
    ("offsets", "median"),
    [((3, 5, 40), 5.0), ((1, 2), 1.5), ((1, 2, 4, 10), 3.0)],
)
def test_median_days_to_first_measure_odd_and_even(offsets: tuple[int, ...], median: float) -> None:
    opened = D(2026, 1, 10)
    cases = [
        case(opened, engagements=(eng("rav", opened + dt.timedelta(days=d)),)) for d in offsets
    ]
    row = one_quarter(cases)
    assert row.median_days_to_first_measure == median
    assert row.n["median_days_to_first_measure"] == len(offsets)


def test_days_to_first_measure_count_in_the_period_the_first_measure_starts() -> None:
    opened = D(2026, 1, 10)
    cases = [
        case(opened, engagements=(eng("rav", D(2026, 1, 30)), eng("iv", D(2026, 1, 20)))),
        case(opened, engagements=(eng("rav", D(2026, 1, 1)),)),  # before opening: 0
        case(opened, engagements=(eng("rav", D(2026, 1, 11), kind="benefit"),)),  # no measure
        case(D(2025, 12, 1), engagements=(eng("rav", D(2026, 1, 11)),)),  # opened in Q4: 41
        case(opened, engagements=(eng("rav", D(2026, 4, 1)),)),  # first measure in Q2
    ]
    row = one_quarter(cases)
    assert row.median_days_to_first_measure == 10.0  # median of (10, 0, 41)
    assert row.n["median_days_to_first_measure"] == 3


def test_no_data_is_none_not_zero() -> None:
    row = one_quarter([])
    assert row.cases_active == 0
    assert row.median_days_to_first_measure is None
    assert row.parallel_share is None
    assert row.institutions_per_case is None
    assert row.referral_acceptance_rate is None
    assert row.n["parallel_share"] == 0


def test_two_institutions_sharing_a_day_that_is_not_a_hand_over_make_a_case_parallel() -> None:
    two_days_shared = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1), D(2026, 2, 11)), eng("iv", D(2026, 2, 10))),
    )
    same_start_day = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 2, 10), D(2026, 2, 10)), eng("iv", D(2026, 2, 10))),
    )
    one_inside_the_other = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1)), eng("iv", D(2026, 2, 10), D(2026, 2, 10))),
    )
    sequential = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1), D(2026, 2, 9)), eng("iv", D(2026, 2, 10))),
    )
    same_institution = case(
        D(2026, 1, 1), engagements=(eng("rav", D(2026, 1, 1)), eng("rav", D(2026, 1, 5)))
    )
    row = one_quarter(
        [two_days_shared, same_start_day, one_inside_the_other, sequential, same_institution]
    )
    assert (row.parallel_cases, row.cases_active) == (3, 5)
    assert row.parallel_share == round(3 / 5, 4)
    assert row.n["parallel_share"] == 5


def test_a_same_day_hand_off_is_sequential_with_a_gap_of_zero_days() -> None:
    """RAV's measure ends on 10 February (its last day) and IV's starts that day: the person went
    from one to the other, so the case is on the sequential path, not a parallel one."""
    same_day = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1), D(2026, 2, 10)), eng("iv", D(2026, 2, 10))),
    )
    row = one_quarter([same_day])
    assert (row.parallel_cases, row.sequential_cases) == (0, 1)
    assert (row.handoffs, row.median_handoff_gap_days) == (1, 0.0)


def test_a_same_day_hand_off_beside_a_real_overlap_leaves_the_case_parallel() -> None:
    both = case(
        D(2026, 1, 1),
        engagements=(
            eng("rav", D(2026, 1, 1), D(2026, 2, 10)),
            eng("iv", D(2026, 2, 10)),
            eng("sozialhilfe", D(2026, 1, 20), D(2026, 2, 1)),  # overlaps RAV for 13 days
        ),
    )
    row = one_quarter([both])
    assert (row.parallel_cases, row.sequential_cases) == (1, 0)
    assert row.handoffs == 1  # IV still took over from RAV on the day RAV ended


def test_parallel_is_judged_inside_the_period_and_the_case() -> None:
    overlap_in_q2 = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1)), eng("iv", D(2026, 4, 1), D(2026, 4, 30))),
    )
    overlap_after_closing = case(
        D(2026, 1, 1),
        D(2026, 1, 31),
        engagements=(eng("rav", D(2026, 1, 1)), eng("iv", D(2026, 2, 1))),
    )
    rows = canton_rows([overlap_in_q2, overlap_after_closing], D(2026, 1, 1), D(2026, 6, 30))
    assert rows["2026-Q1"].parallel_cases == 0
    assert rows["2026-Q2"].parallel_cases == 1


def test_a_handoff_has_the_gap_since_the_latest_end_of_another_institution() -> None:
    handoff = case(
        D(2026, 1, 1),
        engagements=(
            eng("rav", D(2026, 1, 1), D(2026, 1, 10)),
            eng("sozialhilfe", D(2026, 1, 5), D(2026, 1, 20)),
            eng("iv", D(2026, 2, 3)),  # 14 days after the latest end (Jan 20)
        ),
    )
    row = one_quarter([handoff])
    # Sozialhilfe starts while RAV is active: not a hand-off; IV starts after both ended.
    assert row.handoffs == 1
    assert row.median_handoff_gap_days == 14.0
    assert row.n["median_handoff_gap_days"] == 1


def test_no_handoff_while_another_institution_is_still_active_or_none_ended_before() -> None:
    overlapping = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1), D(2026, 1, 11)), eng("iv", D(2026, 1, 10))),
    )
    first_only = case(D(2026, 1, 1), engagements=(eng("rav", D(2026, 1, 1), D(2026, 1, 3)),))
    same_institution = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1), D(2026, 1, 3)), eng("rav", D(2026, 2, 1))),
    )
    assert one_quarter([overlapping, first_only, same_institution]).handoffs == 0


def test_a_handoff_belongs_to_the_period_it_starts_in() -> None:
    cases = [
        case(
            D(2026, 1, 1),
            engagements=(eng("rav", D(2026, 1, 1), D(2026, 3, 20)), eng("iv", D(2026, 4, 1))),
        ),
        case(
            D(2026, 1, 1),
            engagements=(eng("rav", D(2026, 1, 1), D(2026, 3, 31)), eng("iv", D(2026, 4, 3))),
        ),
    ]
    rows = canton_rows(cases, D(2026, 1, 1), D(2026, 6, 30))
    assert rows["2026-Q1"].handoffs == 0  # gaps 12 and 3 days, both in Q2
    assert (rows["2026-Q2"].handoffs, rows["2026-Q2"].median_handoff_gap_days) == (2, 7.5)


def test_sequential_cases_have_a_hand_off_in_the_period_and_no_parallel_day() -> None:
    handed_over = case(
        D(2026, 1, 1),
        engagements=(eng("rav", D(2026, 1, 1), D(2026, 1, 31)), eng("iv", D(2026, 2, 14))),
    )
    handed_over_last_year = case(
        D(2025, 10, 1),
        engagements=(eng("rav", D(2025, 10, 1), D(2025, 10, 31)), eng("iv", D(2025, 11, 14))),
    )
    parallel_later = case(
        D(2026, 1, 1),
        engagements=(
            eng("rav", D(2026, 1, 1), D(2026, 1, 31)),
            eng("iv", D(2026, 2, 14)),
            eng("zif", D(2026, 3, 1)),
        ),
    )
    row = one_quarter([handed_over, handed_over_last_year, parallel_later])
    assert (row.sequential_cases, row.parallel_cases, row.cases_active) == (1, 1, 3)


def test_consent_coverage_counts_active_cases_with_a_consent_in_force_on_a_day_of_the_period() -> (
    None
):
    in_force = case(D(2026, 1, 1), consents=(ConsentFact(D(2026, 1, 5)),))
    revoked_before = case(
        D(2026, 1, 1), person=2, consents=(ConsentFact(D(2025, 6, 1), D(2025, 12, 31)),)
    )
    after_the_case_closed = case(
        D(2026, 1, 1), D(2026, 1, 20), person=3, consents=(ConsentFact(D(2026, 1, 21)),)
    )
    without = case(D(2026, 1, 1), person=4)
    row = one_quarter([in_force, revoked_before, after_the_case_closed, without])
    assert (row.consented_cases, row.cases_active) == (1, 4)
    assert (row.consent_share, row.n["consent_share"]) == (0.25, 4)


def test_institutions_per_case_is_the_mean_over_active_cases_to_two_decimals() -> None:
    cases = [
        case(D(2026, 1, 1), institutions=frozenset({"rav"})),
        case(D(2026, 1, 1), institutions=frozenset({"rav", "iv"})),
        case(D(2026, 1, 1), institutions=frozenset({"rav", "iv"})),
        case(D(2025, 1, 1), D(2025, 6, 1), institutions=frozenset({"a", "b", "c", "d"})),
    ]
    row = one_quarter(cases)
    assert row.institutions_per_case == 1.67
    assert row.n["institutions_per_case"] == 3


def test_referral_figures_count_referrals_answered_in_the_period() -> None:
    def ref(requested: dt.date, answered: dt.date | None, accepted: bool | None) -> ReferralFact:
        return ReferralFact("rav", "iv", requested, answered, accepted)

    referrals = (
        ref(D(2026, 1, 5), D(2026, 1, 9), True),  # 4 days
        ref(D(2026, 1, 5), D(2026, 1, 15), False),  # 10 days
        ref(D(2026, 2, 1), D(2026, 2, 2), True),  # 1 day
        ref(D(2026, 3, 1), None, None),  # unanswered
        ref(D(2025, 12, 30), D(2026, 1, 2), True),  # requested in Q4, answered in Q1: 3 days
        ref(D(2026, 3, 30), D(2026, 4, 2), True),  # answered in Q2
    )
    row = one_quarter([case(D(2025, 12, 1), referrals=referrals)])
    assert row.referrals_answered == 4
    assert row.referral_acceptance_rate == 0.75
    assert row.median_referral_answer_days == 3.5  # median of (4, 10, 1, 3)
    assert row.n["referral_acceptance_rate"] == row.n["median_referral_answer_days"] == 4


@pytest.mark.parametrize(("gap", "reentry"), [(365, 1), (366, 0), (0, 1)])
def test_reentry_within_365_days_of_an_earlier_closing(gap: int, reentry: int) -> None:
    reopened = D(2026, 2, 1)
    cases = [
        case(D(2024, 1, 1), reopened - dt.timedelta(days=gap), person=7),
        case(reopened, person=7),
        case(reopened, person=8),  # another person's case is no earlier case
        case(D(2026, 1, 1), D(2026, 1, 1), person=9),  # closed on opening: not its own re-entry
    ]
    assert one_quarter(cases).reentries_12m == reentry


def test_an_earlier_case_from_outside_the_project_still_makes_a_reentry() -> None:
    cases = [
        case(D(2025, 1, 1), D(2025, 12, 1), person=3),
        case(D(2026, 2, 1), person=3, projects=("p",)),
    ]
    rows = compute(cases, period="quarter", first=D(2026, 2, 1), last=D(2026, 2, 1), projects=["p"])
    assert [r.reentries_12m for r in rows] == [1, 1]


def test_measure_costs_sum_per_financer_by_end_date_with_their_n() -> None:
    costs = (
        CostFact("iv", Decimal("100.5"), D(2026, 1, 31)),
        CostFact("iv", Decimal("0.25"), D(2026, 3, 31)),
        CostFact("unknown", Decimal("7"), D(2026, 2, 1)),
        CostFact("rav", Decimal("9"), D(2026, 4, 1)),  # ends in Q2
    )
    row = one_quarter([case(D(2025, 1, 1), costs=costs)])
    assert row.measure_costs_chf == {"iv": Decimal("100.75"), "unknown": Decimal("7.00")}
    assert str(row.measure_costs_chf["unknown"]) == "7.00"
    assert (row.n["measure_costs_chf.iv"], row.n["measure_costs_chf.unknown"]) == (2, 1)


def test_rows_are_json_ready_and_flatten_to_csv() -> None:
    costs = (CostFact("iv", Decimal("10"), D(2026, 1, 31)),)
    row = one_quarter([case(D(2026, 1, 3), D(2026, 1, 9), outcome="education", costs=costs)])
    data = json.loads(json.dumps(row.to_dict()))
    assert data["measure_costs_chf"] == {"iv": "10.00"}
    assert data["closed_by_outcome"]["education"] == 1
    header, line = rows_to_csv([row]).splitlines()
    columns = header.split(",")
    values = dict(zip(columns, line.split(","), strict=True))
    assert values["closed_by_outcome.education"] == "1"
    assert values["measure_costs_chf.iv"] == "10.00"
    assert values["median_days_to_first_measure"] == ""  # no data
    assert (values["scope"], values["period"]) == ("canton", "2026-Q1")
