"""Coordination's commands: ``python -m services.coordination <command>``.

migrate        create or upgrade the coordination schema (under an advisory lock); run it before
               worker, api and rebuild: they never migrate themselves
worker         consume iiz.case-events.v1 (with the outbox relay and deadline scheduler)
relay          the outbox relay alone, beside workers run with IIZ_COORDINATION_RUN_RELAY=false
api            serve the timeline API
rebuild        drop the projections and replay iiz.case-events.v1 from the start
verify-audit   recompute the audit hash chain and check it against every signed checkpoint on
               iiz.audit-checkpoints.v1 (reads only); exit 1 at the first broken link, bad
               signature or checkpoint that no longer matches
reconcile      prove for every event committed to iiz.case-events.v1 since --since (ISO time; UTC
               without an offset) that it is in the timeline (or was dead-lettered by
               coordination), that intake's ledger has it (--intake-schema), that every timeline
               entry of that stretch is on the topic, and that each authorised delivery was made
               and reported; exit 1 on a difference
erase          erase one person (crypto-shredding): the AHV number on standard input
               (--ahv-stdin; never on the command line), --ticket <request reference>,
               --actor <login name> (default: the OS user); online, while the worker runs;
               idempotent
retention      apply the retention schedule now (the worker runs it daily); --count: only how
               many persons are past retention; --force: even if today's run happened
annual-report  the yearly IIZ report (IIZ-Tätigkeitsbericht) of --year as a PDF from the
               published figures; --out FILE (default iiz-bericht-<year>.pdf); prints its path
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from pathlib import Path

import asyncpg

from services.common.banner import announce, health_address, load_settings
from services.common.database import create_pool
from services.common.logging import configure_logging
from services.common.worker import run_worker_process
from services.coordination.api.app import serve
from services.coordination.ops.lifecycle_cli import erase_command, retention_command
from services.coordination.ops.migrate import migrate
from services.coordination.ops.rebuild import rebuild
from services.coordination.ops.reconcile import reconcile_since
from services.coordination.ops.verify_audit import verify_audit
from services.coordination.reports.command import annual_report_command
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.consumer import create_app, create_relay_app
from services.coordination.worker.runtime import CoordinationRuntime


def _announce(
    command: str, settings: CoordinationSettings, *, owner: bool = False, extra: str | None = None
) -> None:
    """Where a command reads and writes (broker and database, never a password), on stderr
    before it connects."""
    announce(
        f"coordination {command}",
        settings,
        owner=owner,
        schema=settings.coordination_db_schema,
        extra=extra,
    )


def _migrate(settings: CoordinationSettings) -> int:
    announce(
        "coordination migrate",
        settings,
        kafka=False,
        database=False,
        owner=True,
        schema=settings.coordination_db_schema,
    )
    asyncio.run(migrate(settings))
    print(f"schema {settings.coordination_db_schema} is at the newest revision")
    return 0


async def _rebuild(settings: CoordinationSettings) -> int:
    # The projections are emptied as the schema owner, then refilled as the service role.
    _announce("rebuild", settings, owner=True)
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        report = await rebuild(runtime)
    finally:
        await runtime.stop()
    print(
        f"rebuilt from {report.records} records: {report.applied} events applied, "
        f"{report.dead_lettered} dead letters, {report.erased} of erased persons skipped"
    )
    return 0


async def _verify_audit(settings: CoordinationSettings) -> int:
    _announce(
        "verify-audit (reads only)",
        settings,
        extra=f"checkpoints {settings.coordination_audit_checkpoints_topic}",
    )
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        report = await verify_audit(settings, pool)
    finally:
        await pool.close()
    *details, verdict = report.lines()
    print("\n".join(details), flush=True)
    print(verdict, file=sys.stdout if report.intact else sys.stderr, flush=True)
    return 0 if report.intact else 1


async def _reconcile(settings: CoordinationSettings, since: dt.datetime, intake: str) -> int:
    _announce("reconcile (reads only)", settings)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        report = await reconcile_since(settings, pool, since, intake_schema=intake or None)
    except asyncpg.UndefinedTableError as error:
        print(
            f"error: {error} (is the schema migrated? is --intake-schema right?)", file=sys.stderr
        )
        return 2
    finally:
        await pool.close()
    print("\n".join(report.lines()))
    return 0 if report.differences == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.coordination",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        choices=[
            "migrate",
            "worker",
            "relay",
            "api",
            "rebuild",
            "verify-audit",
            "reconcile",
            "erase",
            "retention",
            "annual-report",
        ],
    )
    parser.add_argument("--since", type=dt.datetime.fromisoformat, help="reconcile: from when")
    parser.add_argument(
        "--intake-schema",
        default="intake",
        help="reconcile: intake's schema, whose ledger is checked ('' skips that check)",
    )
    parser.add_argument(
        "--ahv-stdin", action="store_true", help="erase: read the AHV number from stdin"
    )
    parser.add_argument("--ticket", help="erase: the request's reference (audited)")
    parser.add_argument(
        "--actor",
        help="erase: who erases, a login name (audited; default: the operating-system user)",
    )
    parser.add_argument("--count", action="store_true", help="retention: only count")
    parser.add_argument("--force", action="store_true", help="retention: run again today")
    parser.add_argument("--year", type=int, help="annual-report: the year")
    parser.add_argument("--out", type=Path, help="annual-report: the PDF file to write")
    args = parser.parse_args(argv)
    settings = load_settings(CoordinationSettings, f"coordination {args.command}")
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "worker":
        _announce("worker", settings, extra=f"health on {health_address(settings, 8092)}")
        run_worker_process(create_app(settings))
        return 0
    if args.command == "relay":
        _announce("relay", settings, extra=f"health on {health_address(settings, 8095)}")
        run_worker_process(create_relay_app(settings))
        return 0
    if args.command == "api":
        _announce("api", settings, extra=f"HTTP on 127.0.0.1:{settings.coordination_api_port}")
        serve(settings)
        return 0
    if args.command == "reconcile":
        if args.since is None:
            parser.error("reconcile needs --since")
        return asyncio.run(_reconcile(settings, args.since, args.intake_schema))
    if args.command == "rebuild":
        return asyncio.run(_rebuild(settings))
    if args.command == "erase":
        if not args.ahv_stdin or not args.ticket:
            parser.error("erase needs --ahv-stdin (the AHV number on standard input) and --ticket")
        _announce("erase", settings)
        return asyncio.run(erase_command(settings, args.ticket, args.actor))
    if args.command == "retention":
        _announce("retention", settings)
        return asyncio.run(retention_command(settings, count=args.count, force=args.force))
    if args.command == "annual-report":
        if args.year is None:
            parser.error("annual-report needs --year")
        _announce("annual-report", settings)
        return asyncio.run(annual_report_command(settings, args.year, args.out))
    return asyncio.run(_verify_audit(settings))
