"""``make demo-year``: the demo over a whole calendar year at Basel-Landschaft's volume.

Which year: ``python -m simulator.demo --year [YYYY]`` or ``IIZ_DEMO_YEAR`` (``1``: the last
full calendar year before today, in Zurich; a year: that one). The committee publishes ended
periods only, so the figures are published as of 1 January of the next year
(``IIZ_COORDINATION_METRICS_AS_OF``): the year's quarters and the year itself.

The run ends on the committee's figures: their page, the rows of the year and of its quarters
as the committee's API gives them (as the demo user ``ausschuss``), and the yearly IIZ report
(``python -m services.coordination annual-report --year YYYY --out FILE``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from services.coordination.reading.caller import Role
from simulator.demo.reading import SimulatedReading
from simulator.script import ZURICH

YEAR_ENV = "IIZ_DEMO_YEAR"
CONCURRENCY_ENV = "IIZ_DEMO_CONCURRENCY"
YEAR_CONCURRENCY = 96  # persons at once: a year's ~16 000 submissions in a few minutes
REPORT_COMMAND = ("services.coordination", "annual-report")
HEADLINE = ("cases_opened", "cases_active", "cases_closed", "parallel_share")


def last_full_year(today: dt.date | None = None) -> int:
    today = today or dt.datetime.now(ZURICH).date()
    return today.year - 1


def chosen_year(argv: list[str], environ: dict[str, str] | None = None) -> int | None:
    """The year to simulate (see the module), or None for the quick demo."""
    environ = dict(os.environ) if environ is None else environ
    if "--year" in argv:
        at = argv.index("--year")
        value = argv[at + 1] if at + 1 < len(argv) and not argv[at + 1].startswith("-") else "1"
    else:
        value = environ.get(YEAR_ENV, "").strip()
    if value.lower() in ("", "0", "false", "no"):
        return None
    if value.lower() in ("1", "true", "yes"):
        return last_full_year()
    if value.isdigit() and len(value) == 4:
        return int(value)
    raise SystemExit(
        f"{YEAR_ENV} / --year: 1 (the last full year) or a year like 2025, not {value!r}"
    )


def concurrency(year: int | None) -> int:
    """Persons the driver plays at once: the quick demo's 32, the year's more (each person's
    steps still go strictly one after the other)."""
    default = 32 if year is None else YEAR_CONCURRENCY
    return int(os.environ.get(CONCURRENCY_ENV, str(default)))


def publish_as_of(year: int) -> str:
    """The committee publishes the periods ended before this day: the simulated year's."""
    os.environ["IIZ_COORDINATION_METRICS_AS_OF"] = dt.date(year + 1, 1, 1).isoformat()
    return os.environ["IIZ_COORDINATION_METRICS_AS_OF"]


async def committee_figures(reading: SimulatedReading, year: int) -> list[str]:
    """What the committee's API publishes for the year and its quarters, per project and the
    canton, read as the demo user ``ausschuss`` on the first office day of the next year (the
    in-process API's simulated clock, like the staff's reading): the lines to print, the last
    saying whether every scope has a row for the year and for each of its quarters."""
    reading.now = first_meeting(year)
    wanted = {str(year), *(f"{year}-Q{q}" for q in range(1, 5))}
    found: dict[str, dict[str, dict[str, Any]]] = {}
    lines = [f"The committee's figures for {year} (GET /v1/metrics as ausschuss on "
             f"{reading.now:%d.%m.%Y})"]  # fmt: skip
    notes = []
    for period in ("year", "quarter"):
        answer = await reading.request(
            "GET", "/v1/metrics", "ausschuss", "ksa", Role.COMMITTEE, params={"period": period}
        )
        if answer.status_code != 200:
            return [*lines, f"  GET /v1/metrics?period={period}: HTTP {answer.status_code}"]
        body = answer.json()
        notes.append(f"  disclosure, {period}s: {body.get('disclosure', {})}")
        for row in body["rows"]:
            if row["period"] in wanted:
                found.setdefault(row["scope"], {})[row["period"]] = row
    periods = sorted(wanted)
    for figure in ("cases_opened", "cases_active", "cases_closed"):
        lines.append(f"  {figure:<16}" + "".join(f"{p:>10}" for p in periods))
        for scope in sorted(found, key=lambda s: (s == "canton", s)):
            cells = [found[scope].get(p, {}).get(figure) for p in periods]
            lines.append(
                f"    {scope:<14}" + "".join(f"{'-' if c is None else c:>10}" for c in cells)
            )
    blank = Counter(
        name for rows in found.values() for row in rows.values() for name in row["suppressed"]
    )
    lines.append(f"  blank cells by figure: {dict(blank.most_common(6)) or 'none'}")
    lines += notes
    complete = bool(found) and all(set(rows) >= wanted for rows in found.values())
    lines.append(
        f"  a row for the year and each quarter in every scope: {'yes' if complete else 'NO'}"
    )
    return lines


def first_meeting(year: int) -> dt.datetime:
    """10 o'clock on the first office day after the year (not a weekend, not 1 or 2 January)."""
    day = dt.date(year + 1, 1, 3)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(10), tzinfo=ZURICH)


async def annual_report(year: int, out: Path, env: dict[str, str], cwd: Path) -> Path | None:
    """``python -m services.coordination annual-report --year YYYY --out FILE``; the file, or
    None (said why) when the command is not there yet or failed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *REPORT_COMMAND,
        "--year",
        str(year),
        "--out",
        str(out),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    said = (stderr or stdout).decode(errors="replace").strip()
    if process.returncode == 0 and await asyncio.to_thread(out.is_file):
        return out
    if "invalid choice" in said:
        print(f"  yearly report: `python -m {' '.join(REPORT_COMMAND)}` is not available yet")
    else:
        tail = said.splitlines()[-3:] if said else ["(no output)"]
        print(f"  yearly report: the command failed (exit {process.returncode}):")
        for line in tail:
            print(f"    {line[:200]}")
    return None
