"""The benchmark's JSON lines (a figure, its floor of the same run, their ratio) and the median
of repeated floors."""

from __future__ import annotations

import json

from tests.bench_floor import Floor, median_floor
from tests.bench_report import figure_line, ratio_of


def test_a_figure_with_a_floor_carries_value_over_floor() -> None:
    line = json.loads(figure_line("intake", 4500.004, "events/s", 33700.0, events=20000))

    assert line == {
        "figure": "intake",
        "value": 4500.0,
        "unit": "events/s",
        "floor": 33700.0,
        "ratio": 0.1335,
        "events": 20000,
    }


def test_a_figure_without_a_floor_has_null_floor_and_ratio() -> None:
    line = json.loads(figure_line("intake: peak RSS", 237.4, "MiB"))

    assert line == {
        "figure": "intake: peak RSS",
        "value": 237.4,
        "unit": "MiB",
        "floor": None,
        "ratio": None,
    }


def test_the_line_is_one_line_of_json_with_the_keys_in_order() -> None:
    line = figure_line("floor: produce", 33712.3, "events/s", events=21000)

    assert "\n" not in line
    assert list(json.loads(line)) == ["figure", "value", "unit", "floor", "ratio", "events"]


def test_the_ratio_is_taken_before_rounding_and_never_divides_by_zero() -> None:
    assert ratio_of(1.0, 3.0) == 0.3333
    assert ratio_of(5.0, 0.0) is None
    assert ratio_of(5.0, None) is None


def test_a_repeated_floor_is_the_median_run_with_the_range_of_all() -> None:
    runs = [Floor(20000, 1.0), Floor(20000, 0.5), Floor(20000, 2.0, join_seconds=0.1)]

    floor = median_floor(runs)

    assert (floor.seconds, floor.per_second) == (1.0, 20000.0)
    assert (floor.low, floor.high) == (10000.0, 40000.0)
