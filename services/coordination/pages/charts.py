"""SVG geometry of the committee dashboard's charts: lines of a figure over the periods (one per
scope) and stacked bars of closed cases by outcome. Pure; ``None`` is a blank or missing value
and is never drawn as zero (a line breaks there, a bar segment is left out).

Over a few periods (the yearly view) a line says little: the scopes then stand side by side in
each period, each point on top of a pale bar and labelled with its value."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44
# Distinct in colour and, for print in black and white, in dash pattern.
PALETTE = ("#1f4e79", "#c0504d", "#4f8a3c", "#8064a2", "#d08a00", "#2c8c99", "#7f7f7f")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4")
GROUPED_UP_TO = 3  # periods; with more, the scopes are lines over time


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: float
    period: str
    label: str  # the value as the page writes it: "68 %", "2,5", "1021"


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    dash: str
    segments: list[list[Point]]  # broken where a value is missing
    missing: list[str]  # periods without a value


@dataclass(frozen=True)
class AxisTick:
    at: float  # x for period ticks, y for value ticks
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    series: list[Series]
    x_ticks: list[AxisTick]
    y_ticks: list[AxisTick]
    empty: bool
    grouped: bool  # scopes side by side in each period, points on pale bars, no lines
    bar_width: float  # of those bars; 0 when not grouped


def nice_step(value: float) -> float:
    """The next "round" step at or above ``value``: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power + 1e-12:
            return float(step * power)
    return float(10 * power)


def value_axis(largest: float, *, whole: bool = False) -> list[float]:
    """Tick values from 0 to a round top at or above ``largest``, about four steps apart
    (whole-number steps for counts)."""
    step = nice_step(largest / 4)
    if whole:
        step = max(step, 1.0)
    top = max(math.ceil(largest / step - 1e-9), 1) * step
    return [round(i * step, 10) for i in range(round(top / step) + 1)]


def _x_positions(periods: Sequence[str], left: float, right: float) -> list[float]:
    if len(periods) == 1:
        return [round((left + right) / 2, 1)]
    step = (right - left) / (len(periods) - 1)
    return [round(left + i * step, 1) for i in range(len(periods))]


def line_chart(
    periods: Sequence[str],
    values: Mapping[str, Sequence[float | None]],
    *,
    percent: bool = False,
    width: int = WIDTH,
    height: int = HEIGHT,
    grouped: bool | None = None,
) -> LineChart:
    """One line per scope over ``periods``; ``values[scope][i]`` belongs to ``periods[i]``.
    ``grouped`` (by default: up to ``GROUPED_UP_TO`` periods): the scopes side by side in each
    period instead."""
    left, right, top, bottom = LEFT, width - RIGHT, TOP, height - BOTTOM
    if grouped is None:
        grouped = len(periods) <= GROUPED_UP_TO
    grouped = grouped and bool(periods)
    if grouped:  # each period a slot, its scopes evenly inside it
        slot = (right - left) / len(periods)
        xs = [round(left + slot * (i + 0.5), 1) for i in range(len(periods))]
        step = slot / (len(values) + 0.5)
    else:
        xs = _x_positions(periods, left + 10, right - 10)
        step = 0.0
    known = [v for row in values.values() for v in row if v is not None]
    ticks = [i / 4 for i in range(5)] if percent else value_axis(max(known, default=0.0))
    top_value = ticks[-1]

    def y(value: float) -> float:
        return round(bottom - value / top_value * (bottom - top), 1)

    series = []
    for index, (name, row) in enumerate(values.items()):
        offset = (index - (len(values) - 1) / 2) * step
        segments: list[list[Point]] = [[]]
        for x, period, value in zip(xs, periods, row, strict=True):
            if value is None or grouped:
                if segments[-1]:
                    segments.append([])
                if value is None:
                    continue
            label = _value_label(value, percent)
            segments[-1].append(Point(round(x + offset, 1), y(value), value, period, label))
        series.append(
            Series(
                name=name,
                colour=PALETTE[index % len(PALETTE)],
                dash=DASHES[index % len(DASHES)],
                segments=[s for s in segments if s],
                missing=[p for p, v in zip(periods, row, strict=True) if v is None],
            )
        )
    y_ticks = [AxisTick(y(t), _tick_label(t, percent)) for t in ticks]
    return LineChart(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        series=series,
        x_ticks=[AxisTick(x, p) for x, p in zip(xs, periods, strict=True)],
        y_ticks=y_ticks,
        empty=not known,
        grouped=grouped,
        bar_width=round(min(step * 0.6, 40.0), 1),
    )


def _tick_label(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f} %"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}".replace(".", ",")


def _value_label(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f} %"
    if value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}".replace(".", ",")


@dataclass(frozen=True)
class Segment:
    key: str
    colour: str
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class Column:
    period: str
    x: float
    width: float
    segments: list[Segment]
    suppressed: list[str]  # outcome keys without a value in this period


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    columns: list[Column]
    y_ticks: list[AxisTick]
    legend: list[tuple[str, str]]  # key, colour
    empty: bool


def stacked_bars(
    periods: Sequence[str],
    counts: Sequence[Mapping[str, int | None]],
    keys: Sequence[str],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> BarChart:
    """One column per period, stacked by ``keys``; suppressed counts (None) are left out."""
    left, right, top, bottom = LEFT, width - RIGHT, TOP, height - BOTTOM
    totals = [sum(c.get(k) or 0 for k in keys) for c in counts]
    values = value_axis(max(totals, default=0), whole=True)
    top_value = values[-1]
    slot = (right - left) / max(len(periods), 1)
    bar_width = round(min(slot * 0.6, 48), 1)
    colours = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
    columns = []
    for index, (period, count) in enumerate(zip(periods, counts, strict=True)):
        x = round(left + slot * index + (slot - bar_width) / 2, 1)
        base, segments = float(bottom), []
        for key in keys:
            value = count.get(key)
            if not value:
                continue
            tall = round(value / top_value * (bottom - top), 1)
            base = round(base - tall, 1)
            segments.append(Segment(key, colours[key], base, tall, value))
        suppressed = [k for k in keys if count.get(k) is None]
        columns.append(Column(period, x, bar_width, segments, suppressed))
    ticks = [
        AxisTick(round(bottom - (bottom - top) * v / top_value, 1), _tick_label(v, False))
        for v in values
    ]
    return BarChart(
        width=width,
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        columns=columns,
        y_ticks=ticks,
        legend=list(colours.items()),
        empty=not any(totals),
    )
