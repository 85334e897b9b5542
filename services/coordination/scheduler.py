"""Runs due deadlines (referral reminders and escalations, exhaustion planning) into alerts.

Safe with several instances: due rows are claimed ``FOR UPDATE SKIP LOCKED``, and the alerts
(outbox rows with derived ids), follow-up deadlines (unique keys) and the "done" mark are
written in that same transaction. What a deadline leads to is decided by the pure rules in
``domain.alerts.on_deadline`` on the person's file as it is now; "today" is passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable

import asyncpg
import structlog

from schemas.registry.institutions import InstitutionRegistry
from services.common.outages import log_failure
from services.coordination import audit, store
from services.coordination.deliveries import OutboxRecord, alert_delivery
from services.coordination.domain.alerts import Deadline, on_deadline
from services.coordination.domain.case_file import CaseFile, RuleSettings
from services.coordination.domain.policy import SWISS_TIME, LegalBasisMatrix, World

log = structlog.get_logger(__name__)


def swiss_now() -> dt.datetime:
    return dt.datetime.now(SWISS_TIME)


class DeadlineScheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: InstitutionRegistry,
        matrix: LegalBasisMatrix,
        rules: RuleSettings,
        *,
        lanes: int,
        batch: int = 200,
        clock: Callable[[], dt.datetime] = swiss_now,
    ) -> None:
        self._pool = pool
        self._kinds = {i.id: i.kind for i in registry.institutions}
        self._matrix = matrix
        self._rules = rules
        self._lanes = lanes
        self._batch = batch
        self._clock = clock

    async def run_due(self) -> int:
        """Handle every deadline due today or earlier; returns how many alerts were raised."""
        raised = 0
        while True:
            handled, alerts = await self._run_batch()
            raised += alerts
            if handled < self._batch:
                return raised

    async def _run_batch(self) -> tuple[int, int]:
        now = self._clock()
        today = now.astimezone(SWISS_TIME).date()
        async with self._pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(
                "SELECT id, kind, pseudonym, ref_id, due_on FROM deadlines"
                " WHERE status = 'pending' AND due_on <= $1 ORDER BY due_on, id LIMIT $2"
                " FOR UPDATE SKIP LOCKED",
                today,
                self._batch,
            )
            if not due:
                return 0, 0
            files = {
                row["pseudonym"]: CaseFile.model_validate_json(row["state"])
                for row in await conn.fetch(
                    "SELECT pseudonym, state FROM persons WHERE pseudonym = ANY($1::text[])",
                    list({row["pseudonym"] for row in due}),
                )
            }
            outbox: list[OutboxRecord] = []
            follow_ups: list[tuple[str, Deadline]] = []
            entries: list[audit.AuditEntry] = []
            for row in due:
                file = files.get(row["pseudonym"])
                if file is None:
                    continue
                deadline = Deadline(row["kind"], row["ref_id"], row["due_on"])
                world = World(self._kinds, file.consent_records(), self._matrix, self._rules.grace)
                alerts, later = on_deadline(file, deadline, today, world, self._rules)
                follow_ups.extend((file.pseudonym, d) for d in later)
                number = await _case_number(conn, file)
                for intent in alerts:
                    outbox.append(
                        alert_delivery(
                            intent,
                            pseudonym=file.pseudonym,
                            case_number=number,
                            recipient_case_ref=file.case_refs.get(intent.recipient),
                            at=now,
                            lanes=self._lanes,
                        )
                    )
                    entries.append(
                        audit.AuditEntry(
                            actor="coordination",
                            action="alerted",
                            subject=file.pseudonym,
                            object=str(intent.alert_id),
                            purpose="deadline",
                            detail={"kind": intent.kind.value, "recipient": intent.recipient},
                        )
                    )
            await store.write_outbox(conn, outbox)
            await store.write_deadlines(conn, follow_ups)
            await conn.execute(
                "UPDATE deadlines SET status = 'done', done_at = now()"
                " WHERE id = ANY($1::bigint[])",
                [row["id"] for row in due],
            )
            await audit.append(conn, entries, at=now)
            return len(due), len(outbox)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                raised = await self.run_due()
                if raised:
                    log.info("deadline alerts raised", count=raised)
            except Exception as error:
                log_failure(log, "deadline scheduler pass failed; retrying", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


async def _case_number(conn: asyncpg.Connection, file: CaseFile) -> str | None:
    case = file.open_case or (file.cases[-1] if file.cases else None)
    if case is None:
        return None
    number = await conn.fetchval(
        "SELECT case_number FROM case_numbers WHERE case_key = $1", case.case_key
    )
    return str(number) if number else None
