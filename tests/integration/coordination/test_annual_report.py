"""The yearly IIZ report on the real PostgreSQL: downloaded from the committee page (committee
only, audited, an attachment; the 404 page for a year not published) and produced by the
command; both print only numbers among the published figures of that year."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from schemas.events import CaseClosed, CaseOpened, MeasureStarted
from schemas.registry.projects import load_projects
from schemas.vocabulary import CaseOutcome, MeasureKind
from services.common.database import create_pool
from services.coordination.metrics.api_data import published_both
from services.coordination.ops.migrate import migrate
from services.coordination.reports.content import build_report
from services.coordination.reports.numbers import tick
from services.coordination.settings import CoordinationSettings
from tests.case_story import CaseStory
from tests.infra import Infra
from tests.integration.coordination.conftest import (
    api_client,
    drop_schema,
    make_coordination_settings,
)
from tests.integration.coordination.test_notices import bearer
from tests.integration.coordination.test_timeline_api import bus_records, feed
from tests.pdf_pages import pdf_text, words
from tests.unit.coordination.reports.test_annual_report_pdf import (
    FRAME,
    NUMBER,
    axis,
    printed_values,
)

ROOT = Path(__file__).resolve().parents[3]  # the repository, for python -m
CASES = 7  # persons with a case in 2025, each opened, with a measure, closed


@pytest.fixture
async def year_2025(infra: Infra) -> AsyncIterator[CoordinationSettings]:
    """A schema whose 2025 is published (figures as of 15 January 2026), with seven cases."""
    settings = make_coordination_settings(infra, coordination_metrics_as_of=dt.date(2026, 1, 15))
    await migrate(settings)
    for person in range(CASES):
        story = CaseStory(300 + person, start=dt.datetime(2025, 2 + person, 3, 8, tzinfo=dt.UTC))
        story.rav(CaseOpened, project_code="IIZ-FALLKOORD")
        story.rav(MeasureStarted, kind=MeasureKind.JOB_SEARCH_SUPPORT, title="Vermittlung")
        story.rav(
            CaseClosed,
            outcome=CaseOutcome.EMPLOYMENT,
            time=dt.datetime(2025, 9, 1 + person, 8, tzinfo=dt.UTC),
        )
        await feed(settings, bus_records(story))
    yield settings
    await drop_schema(settings)


async def audit_rows(settings: CoordinationSettings) -> list[dict[str, Any]]:
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        rows = await pool.fetch(
            "SELECT actor, purpose, basis, detail FROM audit_log WHERE action = 'annual-report'"
            " ORDER BY seq"
        )
    finally:
        await pool.close()
    return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]


async def assert_only_published_numbers(settings: CoordinationSettings, pdf: bytes) -> None:
    """Every number outside the methods page is a published cell of the years or quarters as
    the report prints it (or a chart's axis tick)."""
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        both = await published_both(pool, settings)
        years, quarters = both["year"], both["quarter"]
    finally:
        await pool.close()
    projects = {p.code: p.name for p in load_projects().projects}
    report = build_report(2025, years, quarters, projects)
    ticks = {tick(t.label) for s in report.sections for c in s.charts for t in axis(c)}
    pages = pdf_text(pdf).split("\f")
    methods = next(i for i, page in enumerate(pages) if "Was gezählt wird" in page)
    printed = {n for page in pages[:methods] for n in NUMBER.findall(FRAME.sub(" ", page))}
    assert printed, "no figures printed"
    assert sorted(printed - printed_values(years, quarters) - ticks) == []


async def test_the_committee_downloads_the_yearly_report_and_others_may_not(
    year_2025: CoordinationSettings,
) -> None:
    settings = year_2025
    path = "/ausschuss/bericht/2025.pdf"
    async with api_client(settings) as pages:  # the pages take a bearer header like the API
        assert (await pages.get(path)).headers["location"] == "/anmelden"
        refused = await pages.get(path, headers=bearer(settings, "rav", "coordinator"))
        committee = bearer(settings, "rav", "committee")
        response = await pages.get(path, headers=committee)
        missing = await pages.get("/ausschuss/bericht/2026.pdf", headers=committee)
        nonsense = await pages.get("/ausschuss/bericht/zwanzig.pdf", headers=committee)

    assert (refused.status_code, "Kein Zugriff" in refused.text) == (403, True)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="iiz-bericht-2025.pdf"'
    assert response.headers["cache-control"] == "no-store"
    text = words(response.content)
    for expected in (
        "IIZ-Tätigkeitsbericht 2025",
        "Kanton Basel-Landschaft Kennzahlen",
        "Operative IIZ-Fallkoordination ALV \u2013 Sozialhilfe \u2013 IV Kennzahlen",
        "Methoden",
    ):
        assert expected in text, expected
    await assert_only_published_numbers(settings, response.content)
    assert (missing.status_code, nonsense.status_code) == (404, 404)
    assert "Kein Tätigkeitsbericht für 2026" in missing.text

    rows = await audit_rows(settings)
    assert [(r["actor"], r["detail"]["outcome"], r["detail"]["year"]) for r in rows] == [
        ("rav/coordinator/eva", "denied", 2025),
        ("rav/committee/eva", "ok", 2025),
        ("rav/committee/eva", "not_found", 2026),
        ("rav/committee/eva", "not_found", 0),
    ]
    assert rows[1]["purpose"] == "Steuerung der IIZ (IIZ-Ausschuss)"
    assert rows[1]["basis"] == "role: committee"
    assert rows[1]["detail"]["rows"] > 0


async def run_command(
    settings: CoordinationSettings, *args: str, cwd: Path
) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "IIZ_DATABASE_URL": settings.database_url,
        "IIZ_COORDINATION_DB_SCHEMA": settings.coordination_db_schema,
        "IIZ_COORDINATION_METRICS_AS_OF": "2026-01-15",
        "IIZ_ENVIRONMENT": "test",
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.coordination",
        "annual-report",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_command_writes_the_yearly_report_and_prints_its_path(
    year_2025: CoordinationSettings, tmp_path: Path
) -> None:
    settings = year_2025
    out = tmp_path / f"bericht-{uuid.uuid4().hex[:6]}.pdf"
    root = ROOT

    code, stdout, stderr = await run_command(
        settings, "--year", "2025", "--out", str(out), cwd=root
    )
    assert code == 0, stderr
    assert stdout.strip() == str(out.resolve())
    assert "IIZ-Tätigkeitsbericht 2025" in words(out.read_bytes())
    await assert_only_published_numbers(settings, out.read_bytes())

    code, _, _ = await run_command(settings, "--year", "2025", cwd=tmp_path)
    assert code == 0
    assert (tmp_path / "iiz-bericht-2025.pdf").exists()

    code, _, stderr = await run_command(settings, "--year", "2030", cwd=root)
    assert code == 1
    assert "no published figures for 2030" in stderr

    rows = await audit_rows(settings)
    assert [r["detail"]["outcome"] for r in rows] == ["ok", "ok", "not_found"]
    assert all(r["actor"].startswith("operator/") for r in rows)
