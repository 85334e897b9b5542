"""The calendar of Basel-Landschaft that deadlines are counted in: business dates and working
days (Monday to Friday; public holidays are not modelled, see docs/architecture.md)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SWISS_TIME = ZoneInfo("Europe/Zurich")


def business_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Basel-Landschaft on which something happened."""
    return moment.astimezone(SWISS_TIME).date()


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The day ``days`` working days after ``start`` (Monday to Friday)."""
    day = start
    while days > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day
