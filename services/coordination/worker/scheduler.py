"""Runs due deadlines (referral reminders and escalations, exhaustion planning) into alerts.

Safe with several instances: due rows are claimed ``FOR UPDATE SKIP LOCKED``, and the alerts
(outbox rows with derived ids), follow-up deadlines (unique keys), the "done" mark and the audit
entries are written in that same transaction. What a deadline leads to is decided by the pure
rules in ``domain.consequences.on_deadline`` on the person's file as it is now; the clock is
passed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg
import structlog

from schemas.registry.institutions import InstitutionRegistry
from services.common.outages import log_failure
from services.coordination import audit
from services.coordination.clock import Clock, swiss_now
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.consequences import Deadline, on_deadline
from services.coordination.domain.policy import LegalBasisMatrix, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.worker import store
from services.coordination.worker.deliveries import OutboxRecord, alert_delivery

log = structlog.get_logger(__name__)


@dataclass
class DeadlineEffects:
    """What a claimed set of due deadlines writes."""

    outbox: list[OutboxRecord] = field(default_factory=list)
    follow_ups: list[tuple[str, Deadline]] = field(default_factory=list)
    audit: list[audit.AuditEntry] = field(default_factory=list)


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
        clock: Clock = swiss_now,
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
            files = await _files(conn, {row["pseudonym"] for row in due})
            numbers = await _latest_case_numbers(conn, files.values())
            effects = self.effects(due, files, numbers, now)
            await store.write_outbox(conn, effects.outbox)
            await store.write_deadlines(conn, effects.follow_ups)
            await conn.execute(
                "UPDATE deadlines SET status = 'done', done_at = now()"
                " WHERE id = ANY($1::bigint[])",
                [row["id"] for row in due],
            )
            await audit.append(conn, effects.audit, at=now)
            return len(due), len(effects.outbox)

    def effects(
        self,
        due: Sequence[asyncpg.Record],
        files: dict[str, CaseFile],
        numbers: dict[uuid.UUID, str],
        now: dt.datetime,
    ) -> DeadlineEffects:
        """The alerts, follow-up deadlines and audit entries of the due deadlines (pure)."""
        today = now.astimezone(SWISS_TIME).date()
        effects = DeadlineEffects()
        for row in due:
            file = files.get(row["pseudonym"])
            if file is None:
                continue
            deadline = Deadline(row["kind"], row["ref_id"], row["due_on"])
            world = World(self._kinds, file.consent_records(), self._matrix, self._rules.grace)
            follows = on_deadline(file, deadline, today, world, self._rules)
            effects.follow_ups.extend((file.pseudonym, d) for d in follows.deadlines)
            case = file.latest_case
            number = numbers.get(case.case_key) if case else None
            for intent in follows.alerts:
                effects.outbox.append(
                    alert_delivery(
                        intent,
                        pseudonym=file.pseudonym,
                        case_number=number,
                        recipient_case_ref=file.case_refs.get(intent.recipient),
                        at=now,
                        lanes=self._lanes,
                    )
                )
                effects.audit.append(
                    audit.AuditEntry(
                        actor="coordination",
                        action="alerted",
                        subject=file.pseudonym,
                        object=str(intent.alert_id),
                        purpose="deadline",
                        detail={"kind": intent.kind.value, "recipient": intent.recipient},
                    )
                )
        return effects

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


async def _files(conn: asyncpg.Connection, persons: set[str]) -> dict[str, CaseFile]:
    """The persons' files as they are now (read without a lock; see docs/architecture.md)."""
    rows = await conn.fetch(
        "SELECT pseudonym, state FROM persons WHERE pseudonym = ANY($1::text[])", list(persons)
    )
    return {row["pseudonym"]: CaseFile.model_validate_json(row["state"]) for row in rows}


async def _latest_case_numbers(
    conn: asyncpg.Connection, files: Iterable[CaseFile]
) -> dict[uuid.UUID, str]:
    """The number of each file's open case, else of its latest one."""
    keys = [case.case_key for f in files if (case := f.latest_case) is not None]
    rows = await conn.fetch(
        "SELECT case_key, case_number FROM case_numbers WHERE case_key = ANY($1::uuid[])", keys
    )
    return {row["case_key"]: str(row["case_number"]) for row in rows}
