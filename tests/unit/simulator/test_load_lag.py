"""A group's lag, and whether it stayed within a second of what arrived on its topics."""

from __future__ import annotations

import pytest

from simulator.load.lag import LagSample, group_lag, judge


def samples(lags: list[int], per_second: int = 1000) -> list[LagSample]:
    """One sample a second; ``per_second`` records arrive on the group's topics."""
    return [LagSample(float(t), {"g": lag}, {"g": t * per_second}) for t, lag in enumerate(lags)]


def test_lag_is_the_end_beyond_the_committed_offset_per_partition() -> None:
    ends = {("t", 0): 100, ("t", 1): 50, ("t", 2): 10}
    committed = {("t", 0): 90, ("t", 1): 50}

    assert group_lag(ends, committed, {("t", 2): 4}) == 10 + 0 + 6


def test_a_partition_never_committed_nor_known_at_the_start_is_not_counted() -> None:
    assert group_lag({("t", 0): 100}, {}, {}) == 0
    assert group_lag({("t", 0): 100}, {("t", 0): 120}, {}) == 0  # never negative


def test_a_lag_that_stays_under_a_second_of_input_is_bounded() -> None:
    found = judge(samples([0, 400, 900, 300, 800, 200, 700]), "g")

    assert found.bounded
    assert found.input_per_second == pytest.approx(1000)
    assert found.lag_at_end == 200  # the smallest of the last three


def test_a_growing_lag_is_not_bounded_even_if_it_began_small() -> None:
    found = judge(samples([0, 300, 700, 1100, 1500, 1900, 2300]), "g")

    assert not found.bounded
    assert found.lag_at_end == 1500
    assert found.peak == 2300


def test_one_sample_taken_during_a_batch_does_not_decide() -> None:
    assert judge(samples([0, 100, 100, 100, 100, 100, 5000]), "g").bounded


def test_the_floor_allows_a_marker_per_partition_at_low_rates() -> None:
    quiet = samples([0, 5, 5, 5], per_second=1)

    assert not judge(quiet, "g").bounded
    assert judge(quiet, "g", floor=6).bounded


def test_one_sample_cannot_be_judged() -> None:
    with pytest.raises(ValueError, match="two samples"):
        judge(samples([0]), "g")
