"""The case page's time axis: one swim lane per institution, bars for what each one does, and
shaded bands where two or more institutions work in parallel.

Pure: built only from what the caller may see — the summary and the (minimised) timeline
entries the API gives that caller — so the chart can show nothing the API would not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.coordination.domain.summary import CaseSummary
from services.coordination.domain.working_days import business_date
from services.coordination.pages.wording import (
    BAR_KINDS,
    BENEFIT_KINDS,
    DASH,
    MEASURE_KINDS,
    InstitutionNames,
    event_name,
    purpose_label,
)
from services.coordination.reading.timeline import TimelineEntry

WIDTH = 960
LABEL_WIDTH = 190
RIGHT_MARGIN = 16
AXIS_HEIGHT = 34
LANE_HEIGHT = 46
BAR_HEIGHT = 14
MIN_BAR_WIDTH = 3.0
WEEKLY_UP_TO_DAYS = 62
ENGAGED = frozenset({"measure", "benefit", "referral"})  # "waiting" is not yet engagement


@dataclass
class Bar:
    """One thing an institution does (or a referral waiting for its answer), in days."""

    institution: str
    kind: str  # measure | benefit | referral | waiting
    ref: str
    start: dt.date
    end: dt.date | None = None  # inclusive; None while it runs
    label: str = ""

    @property
    def running(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class DrawnBar:
    bar: Bar
    rect: Rect
    title: str


@dataclass
class Lane:
    institution: str
    name: str
    y: float
    short: str = ""  # the lane's bold label (the registry's short name)
    bars: list[DrawnBar] = field(default_factory=list)


@dataclass(frozen=True)
class CaseChart:
    width: float
    height: float
    label_width: float
    lanes: list[Lane]
    bands: list[tuple[Period, Rect]]
    ticks: list[Tick]
    today_x: float | None
    first: dt.date
    last: dt.date


def bars_from(entries: Iterable[TimelineEntry]) -> list[Bar]:
    """Engagements and referrals as bars, paired start to end by their ids, in bus order."""
    open_bars: dict[tuple[str, str], Bar] = {}
    bars: list[Bar] = []

    def begin(kind: str, ref: str, institution: str, day: dt.date, label: str) -> None:
        if (kind, ref) not in open_bars:
            bar = Bar(institution, kind, ref, day, label=label)
            open_bars[kind, ref] = bar
            bars.append(bar)

    def finish(kind: str, ref: str, institution: str, day: dt.date) -> None:
        bar = open_bars.get((kind, ref))
        if bar is None:  # the start is not visible to the caller: show what is known
            begin(kind, ref, institution, day, "")
            bar = open_bars[kind, ref]
        if bar.end is None:
            bar.end = max(day, bar.start)

    for entry in entries:
        name, data, on = event_name(entry.type), entry.data, business_date(entry.time)
        ref = str(data.get(_ID_FIELD.get(name, ""), entry.event_id))
        match name:
            case "measure.started":
                kind = str(data.get("kind", ""))
                begin("measure", ref, entry.origin, on, MEASURE_KINDS.get(kind, kind))
            case "measure.ended":
                finish("measure", ref, entry.origin, on)
            case "benefit.granted":
                begin("benefit", ref, entry.origin, _date(data.get("start"), on), _kind(data))
            case "benefit.ended":
                finish("benefit", ref, entry.origin, _date(data.get("end"), on))
            case "referral.requested":
                target = str(data.get("to_institution", entry.origin))
                purpose = data.get("purpose")
                begin("waiting", ref, target, on, purpose_label(purpose) if purpose else "")
            case "referral.accepted":
                finish("waiting", ref, entry.origin, on)
                begin("referral", ref, entry.origin, on, "angenommen")
            case "referral.declined":
                finish("waiting", ref, entry.origin, on)
            case "referral.completed":
                finish("waiting", ref, entry.origin, on)
                finish("referral", ref, entry.origin, on)
    return bars


_ID_FIELD = {
    "measure.started": "measure_id",
    "measure.ended": "measure_id",
    "benefit.granted": "benefit_id",
    "benefit.ended": "benefit_id",
    "referral.requested": "referral_id",
    "referral.accepted": "referral_id",
    "referral.declined": "referral_id",
    "referral.completed": "referral_id",
}


def _date(value: Any, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)) if value else default
    except ValueError:
        return default


def _kind(data: Mapping[str, Any]) -> str:
    kind = str(data.get("kind", ""))
    return BENEFIT_KINDS.get(kind, kind)


def parallel_periods(bars: Sequence[Bar], today: dt.date) -> list[Period]:
    """The days on which two or more institutions are engaged (running bars end ``today``)."""
    changes: dict[dt.date, int] = {}
    for periods in _engaged_by_institution(bars, today).values():
        for period in periods:
            changes[period.start] = changes.get(period.start, 0) + 1
            after = period.end + dt.timedelta(days=1)
            changes[after] = changes.get(after, 0) - 1
    found: list[Period] = []
    active, since = 0, None
    for day in sorted(changes):
        before, active = active, active + changes[day]
        if before < 2 <= active:
            since = day
        elif active < 2 <= before and since is not None:
            found.append(Period(since, day - dt.timedelta(days=1)))
    return found


def _engaged_by_institution(bars: Sequence[Bar], today: dt.date) -> dict[str, list[Period]]:
    """Each institution's engaged days, overlapping bars merged (so it counts once)."""
    spans: dict[str, list[Period]] = {}
    for bar in sorted(bars, key=lambda b: b.start):
        if bar.kind not in ENGAGED:
            continue
        end = bar.end if bar.end is not None else max(today, bar.start)
        merged = spans.setdefault(bar.institution, [])
        if merged and bar.start <= merged[-1].end + dt.timedelta(days=1):
            merged[-1] = Period(merged[-1].start, max(merged[-1].end, end))
        else:
            merged.append(Period(bar.start, end))
    return spans


def lane_order(summary: CaseSummary, bars: Sequence[Bar]) -> list[str]:
    """The lead first, then participants as they joined, then anyone else with a bar."""
    lead = summary.case.lead if summary.case else None
    order = [p.institution for p in sorted(summary.participants, key=lambda p: p.since)]
    order += [b.institution for b in bars]
    unique = list(dict.fromkeys(order))
    return sorted(unique, key=lambda i: i != lead)


def layout(
    summary: CaseSummary,
    entries: Sequence[TimelineEntry],
    names: InstitutionNames | Mapping[str, str],
    *,
    width: float = WIDTH,
) -> CaseChart:
    """The whole chart: lanes, bars, parallel bands and the date axis, in SVG units."""
    if not isinstance(names, InstitutionNames):
        names = InstitutionNames(names, names)
    bars = bars_from(entries)
    days = [business_date(e.time) for e in entries] + [b.start for b in bars]
    days += [b.end for b in bars if b.end] + [p.since.date() for p in summary.participants]
    today = summary.last_event_on or max(days, default=dt.date.today())
    first = min([*days, today])
    last = max([*days, today]) + dt.timedelta(days=1)
    institutions = lane_order(summary, bars)
    height = AXIS_HEIGHT + LANE_HEIGHT * max(len(institutions), 1) + 8
    scale = Scale(first, last, LABEL_WIDTH, width - RIGHT_MARGIN)
    lanes = []
    for index, institution in enumerate(institutions):
        lane = Lane(
            institution,
            names.get(institution),
            AXIS_HEIGHT + index * LANE_HEIGHT,
            short=names.short(institution),
        )
        lane.bars = [_draw(b, scale, lane.y, today) for b in bars if b.institution == institution]
        lanes.append(lane)
    bands = [
        (p, Rect(scale.x(p.start), AXIS_HEIGHT, _span(scale, p.start, p.end), height - 42))
        for p in parallel_periods(bars, today)
    ]
    return CaseChart(
        width=width,
        height=height,
        label_width=LABEL_WIDTH,
        lanes=lanes,
        bands=bands,
        ticks=month_ticks(first, last, scale),
        today_x=scale.x(today + dt.timedelta(days=1)) if summary.last_event_on else None,
        first=first,
        last=last,
    )


@dataclass(frozen=True)
class Scale:
    """Days to x positions of the chart."""

    first: dt.date
    last: dt.date
    left: float
    right: float

    def x(self, day: dt.date) -> float:
        span = max((self.last - self.first).days, 1)
        return round(self.left + (day - self.first).days / span * (self.right - self.left), 1)


def _span(scale: Scale, start: dt.date, end: dt.date) -> float:
    """Width of the days ``start``..``end`` inclusive, never thinner than a hairline."""
    return max(round(scale.x(end + dt.timedelta(days=1)) - scale.x(start), 1), MIN_BAR_WIDTH)


def _draw(bar: Bar, scale: Scale, lane_y: float, today: dt.date) -> DrawnBar:
    end = bar.end if bar.end is not None else max(today, bar.start)
    offset = 8 if bar.kind == "waiting" else 22
    rect = Rect(scale.x(bar.start), lane_y + offset, _span(scale, bar.start, end), BAR_HEIGHT)
    until = "läuft" if bar.running else end.strftime("%d.%m.%Y")
    title = f"{BAR_KINDS.get(bar.kind, bar.kind)} {bar.label}: {bar.start:%d.%m.%Y} {DASH} {until}"
    return DrawnBar(bar, rect, title.replace("  ", " "))


GERMAN_MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")


def month_ticks(first: dt.date, last: dt.date, scale: Scale) -> list[Tick]:
    """A tick on the first of each month (every third month beyond 18 months); weekly ticks
    when the axis spans at most two months."""
    if (last - first).days <= WEEKLY_UP_TO_DAYS:
        days = range(0, (last - first).days + 1, 7)
        return [
            Tick(scale.x(first + dt.timedelta(d)), f"{first + dt.timedelta(d):%d.%m.%Y}")
            for d in days
        ]
    months = (last.year - first.year) * 12 + last.month - first.month
    step = 3 if months > 18 else 1
    ticks, year, month = [], first.year, first.month
    while (year, month) <= (last.year, last.month):
        day = dt.date(year, month, 1)
        if first <= day <= last and (month - 1) % step == 0:
            ticks.append(Tick(scale.x(day), f"{GERMAN_MONTHS[month - 1]} {year}"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ticks
