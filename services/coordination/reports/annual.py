"""The yearly report of a year, as both doors make it (the committee page and the command): the
published figures of the years and of the quarters, exactly as the page and the CSV serve them,
laid out and printed; and the audit row each report leaves."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import asyncpg

from schemas.registry.projects import load_projects
from services.coordination.audit import AuditEntry
from services.coordination.metrics.api_data import published_both
from services.coordination.reports.content import build_report, has_year
from services.coordination.reports.render import render_report
from services.coordination.settings import CoordinationSettings

ACTION = "annual-report"
PURPOSE = "Steuerung der IIZ (IIZ-Ausschuss)"  # as the metrics API and page record it


@dataclass(frozen=True)
class AnnualReport:
    year: int
    pdf: bytes
    rows: int  # published rows it was made from (for the audit row)

    @property
    def filename(self) -> str:
        return filename(self.year)


def filename(year: int) -> str:
    return f"iiz-bericht-{year}.pdf"


async def make_annual_report(
    pool: asyncpg.Pool, settings: CoordinationSettings, year: int, *, made_on: dt.date
) -> AnnualReport | None:
    """The report of ``year``; None if that year's figures are not published (yet)."""
    both = await published_both(pool, settings)  # the same as the page and the CSV serve
    years, quarters = both["year"], both["quarter"]
    if not has_year(years, year):
        return None
    projects = {p.code: p.name for p in load_projects().projects}
    report = build_report(year, years, quarters, projects)
    pdf = await anyio.to_thread.run_sync(partial(render_report, report, made_on=made_on))
    rows = sum(1 for r in [*years.rows, *quarters.rows] if r.period.startswith(str(year)))
    return AnnualReport(year, pdf, rows)


def audit_detail(year: int, outcome: str, report: AnnualReport | None) -> dict[str, Any]:
    """What the audit row says about a report: the year, the outcome, how many rows (counts
    only, never a figure)."""
    detail: dict[str, Any] = {"year": year, "outcome": outcome}
    if report is not None:
        detail.update(rows=report.rows, bytes=len(report.pdf))
    return detail


def operator_entry(actor: str, year: int, report: AnnualReport | None) -> AuditEntry:
    """The audit row of the command (``operator/<login name>``)."""
    outcome = "ok" if report is not None else "not_found"
    return AuditEntry(
        actor=f"operator/{actor}",
        action=ACTION,
        purpose=PURPOSE,
        detail=audit_detail(year, outcome, report),
    )
