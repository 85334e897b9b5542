"""The committee's figures as the API, the pages and the yearly report serve them.

Only periods that have ended are published (a running quarter would change from one download to
the next, and two downloads a day apart would tell the cases of that day). Quarters and years are
computed and published together (``disclosure.publish``, the cell-key method), so that the audit
of what they give away sees both tables at once; a count shows the same value in both and in
every later download as long as the cases behind it are the same. The publication as of a date is
made over the quarter ends before it (``disclosure.publish_over_time``): an ended period is
published as the first download that held it published it, blanks included, so that two
downloads of different quarters merged show nothing that the later one does not. What was shown
is recorded in ``published_figures`` (scope, period, cell, value, first shown): a record for the
committee's questions, which the disclosure control no longer reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal
from zoneinfo import ZoneInfo

import anyio
import asyncpg

from schemas.registry.projects import load_projects
from services.coordination.metrics.disclosure import (
    Publication,
    perturbed_counts,
    publish_over_time,
)
from services.coordination.metrics.facts import CaseFact
from services.coordination.metrics.figures import compute
from services.coordination.metrics.load import load_case_facts
from services.coordination.metrics.periods import quarter_of
from services.coordination.metrics.rows import Row
from services.coordination.settings import CoordinationSettings

Period = Literal["quarter", "year"]
ZURICH = ZoneInfo("Europe/Zurich")
RECORD = (
    "INSERT INTO published_figures (scope, period, cell, value) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT DO NOTHING"
)


async def published_figures(
    pool: asyncpg.Pool, settings: CoordinationSettings, period: Period
) -> Publication:
    """The published rows of one period kind, with what the disclosure control did to them;
    every shown cell is recorded in ``published_figures``."""
    return (await published_both(pool, settings))[period]


async def published_both(
    pool: asyncpg.Pool, settings: CoordinationSettings
) -> dict[Period, Publication]:
    """The quarters and the years from one snapshot and one audit (the yearly report prints
    both, and must not take them from two audits never checked together). Computing and
    auditing take seconds at a few thousand cases a year: they run in a worker thread, so that
    the API's other requests go on meanwhile."""
    as_of = settings.coordination_metrics_as_of or dt.datetime.now(ZURICH).date()
    projects = [p.code for p in load_projects().projects]
    secret = settings.cell_key_secret
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        facts = await load_case_facts(conn, cell_key_secret=secret)
    threshold = settings.coordination_disclosure_threshold

    def made() -> tuple[list[Row], Publication]:
        return published_as_of(facts, as_of=as_of, projects=projects, threshold=threshold)

    truth, publication = await anyio.to_thread.run_sync(made)
    async with pool.acquire() as conn:
        await conn.executemany(RECORD, shown_cells(publication.rows))
    return {kind: of_kind(publication, truth, kind) for kind in ("quarter", "year")}


def of_kind(publication: Publication, truth: Sequence[Row], period: Period) -> Publication:
    """The publication of all rows (``truth`` unprotected) restricted to its quarters or years."""
    kind = [i for i, r in enumerate(truth) if ("Q" in r.period) == (period == "quarter")]
    rows = [publication.rows[i] for i in kind]
    return replace(
        publication,
        rows=rows,
        cells=sum(len(r.cells()) for r in rows),
        blank=sum(len(r.suppressed) for r in rows),
        perturbed=perturbed_counts([truth[i] for i in kind], rows),
    )


async def protected_rows(
    pool: asyncpg.Pool, settings: CoordinationSettings, period: Period
) -> list[Row]:
    """The published rows of one period kind."""
    return (await published_figures(pool, settings, period)).rows


def shown_cells(rows: Sequence[Row]) -> list[tuple[str, str, str, str]]:
    """(scope, period, cell, value as text) of every cell shown."""
    return sorted(
        (row.scope, row.period, name, str(v))
        for row in rows
        for name, v in row.cells().items()
        if v is not None
    )


def published_as_of(
    facts: Sequence[CaseFact], *, as_of: dt.date, projects: Sequence[str], threshold: int
) -> tuple[list[Row], Publication]:
    """The unprotected rows the API publishes on ``as_of`` (``publishable_rows``) and their
    publication: what a download on that day holds."""
    truth = publishable_rows(facts, as_of=as_of, projects=projects)
    return truth, publish_over_time(truth, threshold=threshold)


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
