"""``python -m services.coordination annual-report --year YYYY [--out FILE]``: the yearly report
of a published year as a PDF file (default ``iiz-bericht-<year>.pdf``); prints its path. Leaves
one audit row (``annual-report``, ``operator/<login name>``) like the page's download."""

from __future__ import annotations

import sys
from pathlib import Path

from services.common.database import create_pool
from services.coordination import audit
from services.coordination.clock import swiss_today, utc_now
from services.coordination.ops.lifecycle_cli import os_user
from services.coordination.reports.annual import filename, make_annual_report, operator_entry
from services.coordination.settings import CoordinationSettings


async def annual_report_command(
    settings: CoordinationSettings, year: int, out: Path | None = None
) -> int:
    """Exit 0 with the file written; 1 if the year's figures are not published."""
    actor = os_user() or "unknown"
    made_on = swiss_today(utc_now, settings.coordination_today)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        report = await make_annual_report(pool, settings, year, made_on=made_on)
        async with pool.acquire() as conn, conn.transaction():
            await audit.append(conn, [operator_entry(actor, year, report)], at=utc_now())
    finally:
        await pool.close()
    if report is None:
        print(
            f"error: no published figures for {year} (only years that have ended are published)",
            file=sys.stderr,
        )
        return 1
    path = out if out is not None else Path(filename(year))
    path.write_bytes(report.pdf)
    print(path.resolve())
    return 0
