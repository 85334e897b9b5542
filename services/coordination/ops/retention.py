"""The retention schedule, applied (docs/retention.md): daily in the worker, or as an ops command.

A run, judged on the coordination's today (``IIZ_COORDINATION_TODAY`` or Europe/Zurich by the
clock, as ``ReadStore.today``):
0. waits until the worker has caught up: while coordination's consumer group has lag on the
   canonical log (``consumer_lag``), the projections do not show every accepted event, so the run
   is deferred (nothing done, a log line; the worker tries again at its next check);
1. erases every person past retention — no open case, and their last case closed, their last
   event happened (business time) and their last event was recorded by the worker (its
   ``decided``/``refused`` audit row: kept across a rebuild, on the worker's clock) all more than
   ``IIZ_COORDINATION_RETENTION_YEARS_AFTER_CLOSING`` years before today — through
   ``erase.erase_subject`` (one transaction and one ``erased`` row each). The condition is asked
   again inside that transaction, once the person is locked: a person an event changed since the
   list was made (a new case, a late event) is skipped; the lag is asked again before each
   person, and a run that finds the worker behind stops erasing (the rest waits a day);
2. strips published outbox rows older than ``IIZ_COORDINATION_RETENTION_DELIVERY_DAYS`` of their
   payload (the delivery, with the sealed AHV number) and of every header but the ids and routing
   (the row stays: a rebuild finds it and does not deliver again; reconcile reads those headers);
3. deletes delivery outcomes older than that, and outcomes of deliveries no longer in the outbox
   (reported after their person was erased);
4. appends one ``retention-run`` audit row with the counts (object ``retention:<day>``) if it
   changed anything; a run that finds nothing to do writes nothing (a log line).

One run per day: an instance holds a session advisory lock while it runs; a day with its audit
row is not run again, and the worker runs a day at most once (it checks every
``IIZ_COORDINATION_RETENTION_CHECK_SECONDS`` whether the day has turned).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import structlog

from services.common.outages import log_failure
from services.common.person_registry import is_registry_subject
from services.coordination import audit
from services.coordination.clock import Clock, swiss_today, utc_now
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.ops.consumer_lag import GroupLag, Lag
from services.coordination.ops.erase import Guard, Requester, Stores, erase_subject
from services.coordination.settings import CoordinationSettings

log = structlog.get_logger(__name__)

SCHEDULE_VERSION = "r1"  # docs/retention.md; named in every audit row the schedule writes
TICKET = f"retention:{SCHEDULE_VERSION}"
# The headers a stripped outbox row keeps: ids and routing (reconcile reads type, causation and
# subject), none of the recipient's references or the case number.
KEPT_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "ce_causationid")
_LOCK_CLASS = ":retention"

# Past retention ($1: the cutoff), for a person ``p``: no open case, and the latest of their last
# case closing, their last event's business time and the time the worker recorded their last
# event (an event reported late or imported with an old business time counts from its arrival)
# before the cutoff. A person without any of these (a lock's placeholder row) is never past it.
_PAST = """
NOT EXISTS (SELECT 1 FROM cases c WHERE c.pseudonym = p.pseudonym AND c.closed_at IS NULL)
AND greatest(
      (SELECT max(c.closed_at) FROM cases c WHERE c.pseudonym = p.pseudonym),
      (SELECT max(t.occurred_at) FROM timeline t WHERE t.pseudonym = p.pseudonym),
      (SELECT a.at FROM audit_log a WHERE a.subject = p.pseudonym
         AND a.action IN ('decided', 'refused') ORDER BY a.seq DESC LIMIT 1)
    ) < $1
"""
PAST_RETENTION = f"SELECT p.pseudonym FROM persons p WHERE {_PAST} ORDER BY p.pseudonym"  # noqa: S608
STILL_PAST = f"SELECT EXISTS (SELECT 1 FROM persons p WHERE p.pseudonym = $2 AND {_PAST})"  # noqa: S608


def retention_cutoff(today: dt.date, years: int) -> dt.datetime:
    """The start (Europe/Zurich) of the day ``years`` before ``today`` (29 February: the 28th)."""
    try:
        day = today.replace(year=today.year - years)
    except ValueError:
        day = today.replace(year=today.year - years, day=28)
    return dt.datetime.combine(day, dt.time(), SWISS_TIME)


def today_of(settings: CoordinationSettings, clock: Clock) -> dt.date:
    return swiss_today(clock, settings.coordination_today)


async def persons_past_retention(
    conn: asyncpg.Connection | asyncpg.Pool, today: dt.date, years: int
) -> list[str]:
    """The subjects past retention (``_PAST``): listed outside any lock, so each is asked again
    under the erasure's lock (``still_past_retention``). Legacy ``psn:`` subjects are left out:
    their records on the log are in clear, so a rebuild would bring them back (``erase``
    refuses them too) until the log is resealed."""
    rows = await conn.fetch(PAST_RETENTION, retention_cutoff(today, years))
    return [row["pseudonym"] for row in rows if is_registry_subject(row["pseudonym"])]


def still_past_retention(cutoff: dt.datetime) -> Guard:
    """The erasure's guard: asked under the person's lock, whether they are still past it."""

    async def guard(conn: asyncpg.Connection, subject: str) -> bool:
        return bool(await conn.fetchval(STILL_PAST, cutoff, subject))

    return guard


async def count_persons_past_retention(
    pool: asyncpg.Pool, settings: CoordinationSettings, *, clock: Clock = utc_now
) -> int:
    """How many persons the next retention run would erase (the demo's summary line)."""
    today = today_of(settings, clock)
    years = settings.coordination_retention_years_after_closing
    return len(await persons_past_retention(pool, today, years))


@dataclass
class RetentionReport:
    day: dt.date
    persons_erased: int = 0
    persons_skipped: int = 0  # listed, but no longer past retention under the lock
    deferred: int = 0  # records the worker had yet to process when the run stopped (0: none)
    rows: Counter[str] = field(default_factory=Counter)  # deleted with the persons, per table
    outbox_payloads_stripped: int = 0
    delivery_outcomes_deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.persons_erased or self.outbox_payloads_stripped or self.delivery_outcomes_deleted
        )

    def detail(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "persons_erased": self.persons_erased,
            "persons_skipped": self.persons_skipped,
            "rows": dict(sorted(self.rows.items())),
            "outbox_payloads_stripped": self.outbox_payloads_stripped,
            "delivery_outcomes_deleted": self.delivery_outcomes_deleted,
        }


async def run_retention(
    pool: asyncpg.Pool,
    settings: CoordinationSettings,
    *,
    clock: Clock = utc_now,
    force: bool = False,
    lag: Lag | None = None,
) -> RetentionReport | None:
    """Apply the schedule once for today; ``None`` if another instance runs it now or today's
    run happened already (``force``: run again anyway). A report with ``deferred`` if the worker
    had not caught up with the canonical log (``lag``: how far behind it is; default: its
    consumer group's committed offsets, asked of the broker)."""
    today = today_of(settings, clock)
    async with pool.acquire() as guard:
        if not await guard.fetchval(
            "SELECT pg_try_advisory_lock(hashtext(current_schema() || $1), 0)", _LOCK_CLASS
        ):
            return None
        try:
            if not force and await ran_on(guard, today):
                return None
            if lag is not None:
                return await _run(pool, settings, today, clock, lag)
            async with GroupLag.of_worker(settings) as group_lag:
                return await _run(pool, settings, today, clock, group_lag)
        finally:
            await guard.execute(
                "SELECT pg_advisory_unlock(hashtext(current_schema() || $1), 0)", _LOCK_CLASS
            )


async def ran_on(conn: asyncpg.Connection, day: dt.date) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = 'retention-run'"
            " AND object = $1)",
            f"retention:{day.isoformat()}",
        )
    )


async def _run(
    pool: asyncpg.Pool, settings: CoordinationSettings, today: dt.date, clock: Clock, lag: Lag
) -> RetentionReport:
    report = RetentionReport(today)
    report.deferred = await lag()
    if report.deferred:  # judged on projections that miss accepted events: not today, not yet
        return report
    years = settings.coordination_retention_years_after_closing
    cutoff = retention_cutoff(today, years)
    requester = Requester(
        actor="coordination",
        ticket=TICKET,
        purpose="retention",
        basis=f"retention schedule {SCHEDULE_VERSION}: case closed + {years} years",
    )
    stores = Stores.of(settings)
    guard = still_past_retention(cutoff)
    for subject in await persons_past_retention(pool, today, years):
        report.deferred = await lag()
        if report.deferred:  # an event arrived meanwhile: the rest waits for the next run
            break
        erasure = await erase_subject(pool, stores, subject, requester, at=clock(), guard=guard)
        if erasure.skipped:
            report.persons_skipped += 1
        elif erasure.changed:
            report.persons_erased += 1
            report.rows.update(erasure.counts)
    delivered_before = dt.datetime.combine(
        today - dt.timedelta(days=settings.coordination_retention_delivery_days),
        dt.time(),
        SWISS_TIME,
    )
    async with pool.acquire() as conn, conn.transaction():
        report.outbox_payloads_stripped = _rows(
            await conn.execute(
                "UPDATE outbox SET value = ''::bytea, headers = (SELECT coalesce(jsonb_agg(h),"
                " '[]'::jsonb) FROM jsonb_array_elements(headers) h WHERE h->>0 = ANY($2::text[]))"
                " WHERE published_at < $1 AND octet_length(value) > 0",
                delivered_before,
                list(KEPT_HEADERS),
            )
        )
        report.delivery_outcomes_deleted = _rows(
            await conn.execute(
                "DELETE FROM delivery_outcomes d WHERE d.reported_at < $1 OR NOT EXISTS"
                " (SELECT 1 FROM outbox o WHERE o.delivery_id = d.delivery_id)",
                delivered_before,
            )
        )
        if report.changed:
            await audit.append(conn, [run_entry(report, years)], at=clock())
    return report


def run_entry(report: RetentionReport, years: int) -> audit.AuditEntry:
    """The run's audit row: counts only."""
    return audit.AuditEntry(
        actor="coordination",
        action="retention-run",
        object=f"retention:{report.day.isoformat()}",
        purpose="retention",
        basis=f"retention schedule {SCHEDULE_VERSION}: case closed + {years} years",
        detail=report.detail(),
    )


def _rows(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


class RetentionJob:
    """The daily run inside the worker: checks every ``interval`` seconds whether today's run is
    due (the coordination's today), so it happens without an operator."""

    def __init__(
        self, pool: asyncpg.Pool, settings: CoordinationSettings, *, clock: Clock = utc_now
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._clock = clock

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        done: dt.date | None = None  # the day this process ran last
        while not stop.is_set():
            try:
                today = today_of(self._settings, self._clock)
                if today != done:
                    report = await run_retention(self._pool, self._settings, clock=self._clock)
                    if report is not None and report.deferred and not report.changed:
                        # Not done: asked again at the next check (the day stays due).
                        log.info(
                            "retention run deferred: the worker has not processed the"
                            " canonical log to its end",
                            waiting=report.deferred,
                        )
                    else:
                        done = today
                        if report is not None:
                            log.info("retention run", **report.detail())
            except Exception as error:
                log_failure(log, "retention run failed; retrying", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
