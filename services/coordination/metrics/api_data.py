"""The committee's figures as the API and the dashboard serve them.

Only periods that have ended are published (a running quarter would change from one download to
the next, and two downloads a day apart would tell the cases of that day). Quarters and years are
computed and protected together, and against the ledger of every earlier download
(``published_figures``): what was shown once stays shown, and nothing shown now combines with it
into a suppressed value. One download at a time (a PostgreSQL advisory lock), so that two
downloads never choose their suppressions without knowing of each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg

from schemas.registry.projects import load_projects
from services.coordination.metrics.disclosure import Published, disclosed, protect
from services.coordination.metrics.facts import CaseFact
from services.coordination.metrics.figures import compute
from services.coordination.metrics.load import load_case_facts
from services.coordination.metrics.periods import quarter_of
from services.coordination.metrics.rows import Row
from services.coordination.settings import CoordinationSettings

Period = Literal["quarter", "year"]
ZURICH = ZoneInfo("Europe/Zurich")
LEDGER_LOCK = 7_781_100_001  # pg_advisory_lock key of the committee's downloads
LEDGER = "SELECT scope, period, cell, value FROM published_figures"
RECORD = (
    "INSERT INTO published_figures (scope, period, cell, value) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT DO NOTHING"
)


async def protected_rows(
    pool: asyncpg.Pool, settings: CoordinationSettings, period: Period
) -> list[Row]:
    """The protected rows of one period kind; the download is recorded in the ledger."""
    as_of = settings.coordination_metrics_as_of or dt.datetime.now(ZURICH).date()
    projects = [p.code for p in load_projects().projects]
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", LEDGER_LOCK)
        try:
            async with conn.transaction(isolation="repeatable_read"):
                facts = await load_case_facts(conn)
                known: set[Published] = {
                    (r["scope"], r["period"], r["cell"], r["value"])
                    for r in await conn.fetch(LEDGER)
                }
                rows = publishable_rows(facts, as_of=as_of, projects=projects)
                safe = protect(
                    rows, threshold=settings.coordination_disclosure_threshold, known=known
                )
                await conn.executemany(RECORD, sorted(disclosed(rows, safe) - known))
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LEDGER_LOCK)
    return [r for r in safe if ("Q" in r.period) == (period == "quarter")]


def publishable_rows(
    facts: Sequence[CaseFact], *, as_of: dt.date, projects: Sequence[str]
) -> list[Row]:
    """The unprotected rows of every quarter and year that ended before ``as_of``, from
    1 January of the first case's year (so that a year is never given without its quarters)."""
    if not facts:
        return []
    first = dt.date(min(f.opened_on for f in facts).year, 1, 1)
    last_quarter = quarter_of(as_of).start - dt.timedelta(days=1)
    if last_quarter < first:
        return []
    rows = compute(facts, period="quarter", first=first, last=last_quarter, projects=projects)
    last_year = dt.date(as_of.year - 1, 12, 31)
    if last_year >= first:
        rows += compute(facts, period="year", first=first, last=last_year, projects=projects)
    return rows


async def metrics_rows(
    pool: asyncpg.Pool, settings: CoordinationSettings, period: str
) -> list[dict[str, Any]]:
    """JSON-ready rows for the dashboard."""
    wanted: Period = "year" if period == "year" else "quarter"
    return [row.to_dict() for row in await protected_rows(pool, settings, wanted)]
