"""Misuse signals for an institution's data-protection officer, read from the audit log.

Signals are derived, never stored: computed per request (page, API) and per weekly summary
from the institution's human audit rows of the period (``audit_human_at``, migration 0009) and
the ``decided`` rows of the persons read (``audit_of_subject``). Only the auditor role reads
them, only for its own institution; every reading is audited (``read-signals``), refusals too.
The rows behind a signal are read by seq (``read-audit-rows``), again only the institution's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.coordination.domain.misuse_signals import (
    AuditRead,
    Signal,
    SignalKind,
    SignalRules,
    find_signals,
)
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.read_store import ReadStore

MAX_ROWS_BY_SEQ = 500


@dataclass(frozen=True)
class Period:
    """Whole days in Europe/Zurich, ``first`` to ``last`` inclusive."""

    first: dt.date
    last: dt.date

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), SWISS_TIME)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), SWISS_TIME)

    @classmethod
    def week_before(cls, today: dt.date) -> Period:
        """Monday to Sunday of the week before ``today``'s."""
        monday = today - dt.timedelta(days=today.weekday() + 7)
        return cls(monday, monday + dt.timedelta(days=6))

    @classmethod
    def days_up_to(cls, today: dt.date, days: int = 7) -> Period:
        return cls(today - dt.timedelta(days=days - 1), today)

    @classmethod
    def chosen(
        cls, first: dt.date | None, last: dt.date | None, today: dt.date, max_days: int
    ) -> Period | None:
        """The period asked for (default: the seven days up to today); None if it is upside
        down or longer than ``max_days``."""
        last = last or today
        first = first or last - dt.timedelta(days=6)
        if last < first or (last - first).days + 1 > max_days:
            return None
        return cls(first, last)


@dataclass(frozen=True)
class SignalReport:
    institution: str
    period: Period
    signals: list[Signal]
    rows_read: int  # human audit rows of the institution in the period

    def counts(self) -> dict[str, int]:
        return {k.value: sum(1 for s in self.signals if s.kind is k) for k in SignalKind}


HUMAN_ROWS = """
SELECT seq, at, actor, action, subject, detail->>'outcome' AS outcome
FROM audit_log
WHERE strpos(actor, '/') > 0 AND at >= $2 AND at < $3 AND split_part(actor, '/', 1) = $1
ORDER BY seq
"""
EVENTS_OF = """
SELECT subject, array_agg(seq ORDER BY seq) AS seqs
FROM audit_log
WHERE subject = ANY($1::text[]) AND action = 'decided' AND seq > $2 AND seq < $3
GROUP BY subject
"""


async def signals_of(
    conn: asyncpg.Connection, institution: str, period: Period, rules: SignalRules
) -> SignalReport:
    """The institution's signals in the period."""
    rows = [
        AuditRead(r["seq"], r["at"], r["actor"], r["action"], r["subject"], r["outcome"])
        for r in await conn.fetch(HUMAN_ROWS, institution, period.start, period.end)
    ]
    events: dict[str, list[int]] = defaultdict(list)
    subjects = sorted({r.subject for r in rows if r.ok_person_read and r.subject})
    if subjects:
        first, last = rows[0].seq, rows[-1].seq
        for found in await conn.fetch(EVENTS_OF, subjects, first, last):
            events[found["subject"]] = list(found["seqs"])
    return SignalReport(institution, period, find_signals(rows, events, rules), len(rows))


async def read_signals(
    store: ReadStore, caller: Caller, period: Period, rules: SignalRules, purpose: str
) -> SignalReport | None:
    """The caller's institution's signals (auditors only; else None); audited either way."""
    window = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    if caller.role is not Role.AUDITOR:
        await store.record(
            audit_entry(
                caller, "read-signals", purpose, subject=None, case_number=None,
                outcome="denied", **window,
            )
        )  # fmt: skip
        return None
    async with store.snapshot() as conn:
        report = await signals_of(conn, caller.institution, period, rules)
    await store.record(
        audit_entry(
            caller,
            "read-signals",
            purpose,
            subject=None,
            case_number=None,
            basis="role: auditor",
            outcome="ok",
            signals=len(report.signals),
            **window,
        )
    )
    return report


@dataclass(frozen=True)
class AuditRowView:
    seq: int
    at: dt.datetime
    actor: str
    action: str
    purpose: str | None
    subject: str | None
    object: str | None
    basis: str | None
    detail: dict[str, Any]


ROWS_BY_SEQ = """
SELECT seq, at, actor, action, purpose, subject, object, basis, detail
FROM audit_log
WHERE seq = ANY($1::bigint[]) AND strpos(actor, '/') > 0 AND split_part(actor, '/', 1) = $2
ORDER BY seq
"""


async def read_audit_rows(
    store: ReadStore, caller: Caller, seqs: list[int], purpose: str
) -> list[AuditRowView] | None:
    """The audit rows behind a signal, by seq: only rows of the caller's institution's users
    (auditors only; else None); audited either way."""
    wanted = sorted(set(seqs))[:MAX_ROWS_BY_SEQ]
    if caller.role is not Role.AUDITOR:
        await store.record(
            audit_entry(
                caller, "read-audit-rows", purpose, subject=None, case_number=None,
                outcome="denied", asked=len(wanted),
            )
        )  # fmt: skip
        return None
    async with store.snapshot() as conn:
        rows = await conn.fetch(ROWS_BY_SEQ, wanted, caller.institution)
    found = [
        AuditRowView(
            r["seq"], r["at"], r["actor"], r["action"], r["purpose"], r["subject"],
            r["object"], r["basis"], json.loads(r["detail"]),
        )
        for r in rows
    ]  # fmt: skip
    await store.record(
        audit_entry(
            caller,
            "read-audit-rows",
            purpose,
            subject=None,
            case_number=None,
            basis="role: auditor",
            outcome="ok",
            asked=len(wanted),
            rows=len(found),
            first=wanted[0] if wanted else None,
        )
    )
    return found
