"""The committee's figures as the API and the dashboard serve them: loaded, computed for quarters
and years together, and protected together (so no period can be told from the others)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import asyncpg

from schemas.registry.projects import load_projects
from services.coordination.metrics.disclosure import protect
from services.coordination.metrics.facts import CaseFact
from services.coordination.metrics.figures import Row, compute
from services.coordination.metrics.load import load_case_facts
from services.coordination.settings import CoordinationSettings

Period = Literal["quarter", "year"]


async def protected_rows(
    pool: asyncpg.Pool, settings: CoordinationSettings, period: Period
) -> list[Row]:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        facts = await load_case_facts(conn)
    if not facts:
        return []
    first, last = whole_years(facts)
    projects = [p.code for p in load_projects().projects]
    rows = [
        *compute(facts, period="quarter", first=first, last=last, projects=projects),
        *compute(facts, period="year", first=first, last=last, projects=projects),
    ]
    safe = protect(rows, threshold=settings.coordination_disclosure_threshold)
    return [r for r in safe if ("Q" in r.period) == (period == "quarter")]


def whole_years(facts: list[CaseFact]) -> tuple[dt.date, dt.date]:
    """From 1 January of the first case to 31 December of today or the last closing: a year is
    published only with all four of its quarters (else year minus quarters would tell)."""
    first = min(f.opened_on for f in facts)
    last = max([dt.date.today(), *(f.closed_on for f in facts if f.closed_on)])
    return dt.date(first.year, 1, 1), dt.date(last.year, 12, 31)


async def metrics_rows(
    pool: asyncpg.Pool, settings: CoordinationSettings, period: str
) -> list[dict[str, Any]]:
    """JSON-ready rows for the dashboard."""
    wanted: Period = "year" if period == "year" else "quarter"
    return [row.to_dict() for row in await protected_rows(pool, settings, wanted)]
