"""The demo's coordination part: start the worker and the timeline API, wait until every accepted
event is in the timeline, and show what coordination decided and where to look."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Iterable

import asyncpg

from services.common.database import create_pool
from services.coordination.auth import Role, mint_token
from services.coordination.runtime import migrate
from services.coordination.settings import CoordinationSettings


async def prepare(settings: CoordinationSettings) -> None:
    await migrate(settings)


async def wait_for_timeline(
    settings: CoordinationSettings, accepted: Iterable[str], within: float = 120
) -> asyncpg.Pool:
    """Until every accepted canonical event is processed and every delivery relayed."""
    ids = [uuid.UUID(i) for i in accepted]
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    deadline, shown_before = time.monotonic() + within, -1
    while True:
        done = await pool.fetchval(
            "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])", ids
        )
        pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if done != shown_before:
            shown_before, shown = done, int(30 * done / max(len(ids), 1))
            print(f"\r  timeline [{'#' * shown}{'.' * (30 - shown)}] {done}/{len(ids)}", end="")
        if done >= len(ids) and pending == 0:
            print()
            return pool
        if time.monotonic() > deadline:
            print()
            raise SystemExit("coordination did not catch up; see .infra/logs/coordination.log")
        await asyncio.sleep(0.3)


async def report(pool: asyncpg.Pool, settings: CoordinationSettings, accepted: list[str]) -> None:
    ids = [uuid.UUID(i) for i in accepted]
    decisions = await pool.fetch(
        "SELECT d.allowed, count(*) AS n FROM decisions d JOIN timeline t USING (event_id)"
        " WHERE t.event_id = ANY($1::uuid[]) AND d.recipient <> t.origin GROUP BY d.allowed",
        ids,
    )
    by_allowed = {row["allowed"]: row["n"] for row in decisions}
    # Only this run's persons: the worker may also have caught up on older events of the log.
    deliveries = await pool.fetch(
        "SELECT split_part(convert_from(key, 'UTF8'), '/', 1) AS recipient,"
        " count(*) FILTER (WHERE headers::text NOT LIKE '%alert%') AS events,"
        " count(*) FILTER (WHERE headers::text LIKE '%alert%') AS alerts"
        " FROM outbox WHERE published_at IS NOT NULL AND split_part(convert_from(key, 'UTF8'),"
        " '/', 2) IN (SELECT pseudonym FROM timeline WHERE event_id = ANY($1::uuid[]))"
        " GROUP BY 1 ORDER BY 1",
        ids,
    )
    case = await pool.fetchrow(
        "SELECT c.case_number FROM cases c JOIN timeline t ON t.case_key = c.case_key"
        " WHERE t.event_id = ANY($1::uuid[]) ORDER BY c.case_number LIMIT 1",
        ids,
    )
    print(
        f"  coordination: {len(ids)} events in the timeline; decisions for other institutions:"
        f" {by_allowed.get(True, 0)} allowed, {by_allowed.get(False, 0)} denied"
    )
    for row in deliveries:
        print(
            f"    to {row['recipient']:<18} {row['events']:>4} deliveries {row['alerts']:>4} alerts"
        )
    base = f"http://127.0.0.1:{settings.coordination_api_port}"
    token = mint_token(settings, "demo-coordinator", "rav", Role.COORDINATOR, dt.timedelta(hours=8))
    print("\nTimeline API (coordinators)")
    print(f"  start it: uv run python -m services.coordination api, then {base}/docs")
    if case is not None:
        number = case["case_number"]
        print(f"  example case: {number}")
        print(f'  curl -s {base}/v1/cases/{number}/timeline -H "Authorization: Bearer {token}"')
    await pool.close()
