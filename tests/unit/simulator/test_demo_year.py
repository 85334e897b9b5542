"""Which year ``make demo-year`` simulates, and when the committee reads its figures."""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.demo.year import chosen_year, concurrency, first_meeting, last_full_year
from simulator.script import ZURICH


def test_the_last_full_calendar_year_before_today() -> None:
    assert last_full_year(dt.date(2026, 12, 6)) == 2025
    assert last_full_year(dt.date(2026, 1, 1)) == 2025


def test_the_year_comes_from_the_argument_or_the_setting() -> None:
    last = last_full_year()

    assert chosen_year([], {}) is None  # the quick demo
    assert chosen_year([], {"IIZ_DEMO_YEAR": "0"}) is None
    assert chosen_year([], {"IIZ_DEMO_YEAR": "1"}) == last
    assert chosen_year([], {"IIZ_DEMO_YEAR": "2024"}) == 2024
    assert chosen_year(["--year"], {}) == last
    assert chosen_year(["--year", "2023"], {"IIZ_DEMO_YEAR": "2024"}) == 2023
    with pytest.raises(SystemExit):
        chosen_year([], {"IIZ_DEMO_YEAR": "last"})


def test_the_year_plays_more_persons_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IIZ_DEMO_CONCURRENCY", raising=False)
    assert concurrency(None) == 32
    assert concurrency(2025) > 32
    monkeypatch.setenv("IIZ_DEMO_CONCURRENCY", "48")
    assert concurrency(2025) == 48


def test_the_committee_reads_on_the_first_office_day_after_the_year() -> None:
    meeting = first_meeting(2025)

    assert meeting == dt.datetime(2026, 1, 5, 10, tzinfo=ZURICH)  # 3 and 4 January: a weekend
