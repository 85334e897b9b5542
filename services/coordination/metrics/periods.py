"""Calendar quarters and years that the committee's figures are reported in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

PeriodKind = Literal["quarter", "year"]


@dataclass(frozen=True)
class Period:
    """A calendar quarter ("2026-Q3") or year ("2026"), both ends inclusive."""

    label: str
    start: dt.date
    end: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def quarter_of(day: dt.date) -> Period:
    """The calendar quarter that contains ``day``."""
    number = (day.month - 1) // 3 + 1
    start = dt.date(day.year, 3 * number - 2, 1)
    end = (
        dt.date(day.year, 12, 31)
        if number == 4
        else dt.date(day.year, 3 * number + 1, 1) - dt.timedelta(days=1)
    )
    return Period(f"{day.year}-Q{number}", start, end)


def year_of(day: dt.date) -> Period:
    """The calendar year that contains ``day``."""
    return Period(str(day.year), dt.date(day.year, 1, 1), dt.date(day.year, 12, 31))


def periods_overlapping(kind: PeriodKind, first: dt.date, last: dt.date) -> list[Period]:
    """The quarters or years that overlap [first, last], in calendar order."""
    if last < first:
        raise ValueError(f"last ({last}) is before first ({first})")
    period_of = quarter_of if kind == "quarter" else year_of
    periods = [period_of(first)]
    while periods[-1].end < last:
        periods.append(period_of(periods[-1].end + dt.timedelta(days=1)))
    return periods


def quarters_of_year(year_label: str) -> tuple[str, str, str, str]:
    """The labels of the four quarters whose sum is the year ``year_label``."""
    return (f"{year_label}-Q1", f"{year_label}-Q2", f"{year_label}-Q3", f"{year_label}-Q4")
