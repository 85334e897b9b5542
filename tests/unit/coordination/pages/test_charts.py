"""Chart geometry for the committee dashboard: lines break at missing values, bars stack, and
over a few periods the scopes stand side by side."""

from __future__ import annotations

from services.coordination.pages.charts import line_chart, stacked_bars, value_axis

PERIODS = ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]


def test_value_axes_use_round_steps_up_to_a_top_at_or_above_the_largest_value() -> None:
    assert value_axis(21.5) == [0, 10, 20, 30]
    assert value_axis(20) == [0, 5, 10, 15, 20]
    assert value_axis(0.3) == [0, 0.1, 0.2, 0.3]
    assert value_axis(0) == [0, 1]
    assert value_axis(5, whole=True) == [0, 2, 4, 6]
    assert value_axis(3, whole=True) == [0, 1, 2, 3]


def test_a_line_breaks_where_a_value_is_suppressed_and_never_drops_to_zero() -> None:
    chart = line_chart(PERIODS, {"Kanton": [10.0, None, 20.0, 15.0]})
    [series] = chart.series
    assert not chart.grouped
    assert [len(s) for s in series.segments] == [1, 2]
    assert series.missing == ["2026-Q2"]
    assert all(p.y < chart.plot_bottom for s in series.segments for p in s)


def test_values_map_onto_the_plot_with_the_largest_on_the_nice_maximum() -> None:
    chart = line_chart(PERIODS, {"Kanton": [5.0, 10.0, 12.5, 20.0]})
    points = chart.series[0].segments[0]
    assert points[-1].y == chart.plot_top
    assert points[0].y > points[1].y > points[2].y > points[3].y
    assert points[0].x < points[1].x < points[2].x < points[3].x
    assert [p.label for p in points] == ["5", "10", "12,5", "20"]
    assert [t.label for t in chart.x_ticks] == PERIODS


def test_shares_are_drawn_on_a_percent_axis_to_100() -> None:
    chart = line_chart(PERIODS, {"Kanton": [0.3, 0.5, None, 0.4]}, percent=True)
    assert chart.y_ticks[-1].label == "100 %"
    assert chart.y_ticks[0].label == "0 %"


def test_every_scope_gets_its_own_colour_and_dash() -> None:
    chart = line_chart(PERIODS, {"Kanton": [1.0, 2.0, 3.0, 4.0], "AC-PILOT": [1.0, 1.0, 1.0, 1.0]})
    a, b = chart.series
    assert (a.colour, a.dash) != (b.colour, b.dash)


def test_a_chart_without_any_value_says_so() -> None:
    assert line_chart(PERIODS, {"Kanton": [None, None, None, None]}).empty


def test_over_a_few_years_the_scopes_stand_side_by_side_each_point_labelled() -> None:
    chart = line_chart(
        ["2026", "2027"], {"Kanton": [0.68, 0.7], "AC-PILOT": [0.98, None]}, percent=True
    )
    canton, pilot = chart.series
    assert chart.grouped
    assert [[p.label for p in s] for s in canton.segments] == [["68 %"], ["70 %"]]
    assert [[p.period for p in s] for s in pilot.segments] == [["2026"]]
    assert pilot.missing == ["2027"]
    first, second = canton.segments[0][0], canton.segments[1][0]
    assert first.x < pilot.segments[0][0].x < second.x  # the scopes side by side per year
    assert chart.plot_left < first.x
    assert second.x < chart.plot_right


def test_one_year_alone_is_still_a_point_per_scope() -> None:
    chart = line_chart(["2026"], {"Kanton": [1021.0], "AC-PILOT": [190.0], "CM-BB": [177.0]})
    xs = [s.segments[0][0].x for s in chart.series]
    assert xs == sorted(xs)
    assert len(set(xs)) == 3
    assert [s.segments[0][0].label for s in chart.series] == ["1021", "190", "177"]


def test_stacked_bars_leave_suppressed_outcomes_out_and_name_them() -> None:
    counts = [
        {"employment": 3, "education": None, "other": 2},
        {"employment": 6, "education": 0, "other": 0},
    ]
    chart = stacked_bars(PERIODS[:2], counts, ["employment", "education", "other"])
    first, second = chart.columns
    assert [s.key for s in first.segments] == ["employment", "other"]
    assert first.suppressed == ["education"]
    assert second.suppressed == []
    assert first.segments[1].y < first.segments[0].y  # stacked upwards
    tallest = second.segments[0]
    assert tallest.y + tallest.height == chart.plot_bottom
    assert not chart.empty


def test_a_caller_may_keep_lines_over_a_few_periods() -> None:
    chart = line_chart(["2025", "2026"], {"Kanton": [1.0, 2.0]}, grouped=False)
    assert not chart.grouped
    assert [len(s) for s in chart.series[0].segments] == [2]
