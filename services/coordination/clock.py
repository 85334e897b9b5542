"""Where coordination reads the time: a clock is passed to everything that stamps or schedules,
so tests (and replays) can fix it. The domain never reads one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from services.coordination.domain.working_days import SWISS_TIME

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def swiss_now() -> dt.datetime:
    return dt.datetime.now(SWISS_TIME)


def swiss_today(clock: Clock, fixed: dt.date | None = None) -> dt.date:
    """Today in Europe/Zurich by ``clock``, unless a day is ``fixed`` (simulated time)."""
    return fixed if fixed is not None else clock().astimezone(SWISS_TIME).date()
