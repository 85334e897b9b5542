"""Coordination's commands: ``python -m services.coordination <command>``.

migrate        create or upgrade the coordination schema
worker         consume iiz.case-events.v1 (with the outbox relay and deadline scheduler)
api            serve the timeline API
rebuild        drop the projections and replay iiz.case-events.v1 from the start
verify-audit   recompute the audit hash chain; exit 1 at the first broken link
reconcile      prove for the events intake accepted since --since (ISO time) that each is in the
               timeline, each authorised delivery was made and reported; exit 1 on a difference
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys

from services.common.database import create_pool
from services.common.logging import configure_logging
from services.coordination import audit
from services.coordination.rebuild import rebuild
from services.coordination.reconcile import accepted_since, reconcile
from services.coordination.runtime import CoordinationRuntime, migrate
from services.coordination.settings import CoordinationSettings


async def _rebuild(settings: CoordinationSettings) -> int:
    await migrate(settings)
    runtime = CoordinationRuntime(settings)
    await runtime.start()
    try:
        report = await rebuild(runtime)
    finally:
        await runtime.stop()
    print(
        f"rebuilt from {report.records} records: {report.applied} events applied, "
        f"{report.dead_lettered} dead letters"
    )
    return 0


async def _verify_audit(settings: CoordinationSettings) -> int:
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        result = await audit.verify(pool)
    finally:
        await pool.close()
    if result.intact:
        print(f"audit log intact: {result.rows} rows, every link holds")
        return 0
    print(f"audit log BROKEN at row {result.first_broken}: {result.problem}", file=sys.stderr)
    return 1


async def _reconcile(settings: CoordinationSettings, since: dt.datetime, intake: str) -> int:
    await migrate(settings)
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        report = await reconcile(pool, await accepted_since(pool, intake, since))
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
        "command", choices=["migrate", "worker", "api", "rebuild", "verify-audit", "reconcile"]
    )
    parser.add_argument("--since", type=dt.datetime.fromisoformat, help="reconcile: from when")
    parser.add_argument("--intake-schema", default="intake", help="reconcile: intake's schema")
    args = parser.parse_args(argv)
    settings = CoordinationSettings()
    configure_logging(settings.log_level, settings.log_json)
    if args.command == "migrate":
        asyncio.run(migrate(settings))
        return 0
    if args.command == "worker":
        from services.coordination.consumer import create_app

        asyncio.run(create_app(settings).run())
        return 0
    if args.command == "api":
        from services.coordination.api import serve

        asyncio.run(migrate(settings))
        serve(settings)
        return 0
    if args.command == "reconcile":
        if args.since is None:
            parser.error("reconcile needs --since")
        return asyncio.run(_reconcile(settings, args.since, args.intake_schema))
    if args.command == "rebuild":
        return asyncio.run(_rebuild(settings))
    return asyncio.run(_verify_audit(settings))


if __name__ == "__main__":
    sys.exit(main())
