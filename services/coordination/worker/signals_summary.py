"""The weekly summary of the misuse signals, by e-mail to each institution's data-protection
officer (``privacy_email`` in the registry), and one ``signals-summary`` audit row per summary.

A task of the worker beside the deadline scheduler. From the configured weekday and hour
(Europe/Zurich) the week before (Monday to Sunday) is due. Once per institution and week, also
with several workers: an advisory lock serialises the passes, and the audit row (object
``<institution>:<Monday>``) says the summary went out; it is written in the transaction that
computed the summary, after the server accepted the mail. A crash between the two sends it once
more (at least once). Institutions without an address get none (and no row).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from email.message import EmailMessage
from email.utils import format_datetime

import asyncpg
import structlog

from schemas.registry.institutions import Institution, InstitutionRegistry
from services.common.mailer import Mailer, MailNotSentError
from services.common.outages import log_failure
from services.coordination import audit
from services.coordination.clock import Clock, utc_now
from services.coordination.domain.misuse_signals import SignalRules
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.reading import signals_text
from services.coordination.reading.signals import Period, SignalReport, signals_of

log = structlog.get_logger(__name__)
LOCK_KEY = 1_117_516  # pg_advisory_xact_lock key of the summary passes (issue 17, signals)
MAX_LISTED = 50
RETRY_AFTER = dt.timedelta(minutes=15)  # after a refused or failed mail
_MESSAGE_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://iiz.bl.ch/coordination/signals-summary")


class SignalsSummary:
    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: InstitutionRegistry,
        rules: SignalRules,
        mailer: Mailer,
        *,
        sender: str,
        page_url: str | None,
        weekday: int = 1,
        hour: int = 7,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._rules = rules
        self._mailer = mailer
        self._sender = sender
        self._page_url = page_url
        self._weekday = weekday
        self._hour = hour
        self._clock = clock
        self._retry_after: dict[str, dt.datetime] = {}

    def due_week(self, now: dt.datetime) -> Period | None:
        """The week whose summary is due at ``now`` (None before this week's sending time)."""
        local = now.astimezone(SWISS_TIME)
        monday = local.date() - dt.timedelta(days=local.weekday())
        send_day = monday + dt.timedelta(days=self._weekday - 1)
        sending = dt.datetime.combine(send_day, dt.time(self._hour), SWISS_TIME)
        return Period.week_before(local.date()) if local >= sending else None

    async def run_due(self) -> int:
        """Send every due summary not sent yet; returns how many were sent."""
        now = self._clock()
        week = self.due_week(now)
        if week is None:
            return 0
        sent = 0
        for institution in self._registry.institutions:
            key = f"{institution.id}:{week.first.isoformat()}"
            if not institution.privacy_email or self._retry_after.get(key, now) > now:
                continue
            try:
                sent += await self.send(institution, week, now)
            except MailNotSentError as error:  # the others still go; this one again later
                self._retry_after[key] = now + RETRY_AFTER
                log.warning(
                    "signals summary not sent", institution=institution.id, reason=str(error)
                )
        return sent

    async def send(self, institution: Institution, week: Period, now: dt.datetime) -> bool:
        """One institution's summary of ``week``, unless it went out already."""
        assert institution.privacy_email is not None
        key = f"{institution.id}:{week.first.isoformat()}"
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            done = await conn.fetchval(
                "SELECT 1 FROM audit_log WHERE action = 'signals-summary' AND object = $1", key
            )
            if done:
                return False
            report = await signals_of(conn, institution.id, week, self._rules)
            await self._mailer.send(self.message(report, institution.privacy_email, now))
            entry = audit.AuditEntry(
                actor="coordination",
                action="signals-summary",
                object=key,
                purpose="Datenschutzaufsicht",
                detail={
                    "institution": institution.id,
                    "from": week.first.isoformat(),
                    "to": week.last.isoformat(),
                    "signals": report.counts(),
                },
            )
            await audit.append(conn, [entry], at=now)
        return True

    def message(self, report: SignalReport, address: str, now: dt.datetime) -> EmailMessage:
        period = report.period
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = address
        message["Subject"] = (
            f"IIZ: Missbrauchssignale {report.institution}, Woche vom"
            f" {period.first:%d.%m.%Y} bis {period.last:%d.%m.%Y}"
        )
        message["Date"] = format_datetime(now.astimezone(dt.UTC))
        ident = uuid.uuid5(_MESSAGE_IDS, f"{report.institution}:{period.first.isoformat()}")
        message["Message-ID"] = f"<{ident}@iiz.bl.ch>"
        message.set_content(summary_body(report, self._rules, self._page_url))
        return message

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                sent = await self.run_due()
                if sent:
                    log.info("signals summaries sent", count=sent)
            except Exception as error:
                log_failure(log, "signals summary pass failed; retrying", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


def summary_body(report: SignalReport, rules: SignalRules, page_url: str | None) -> str:
    """The German text: counts per signal, then the signals (who, when, what), no person data."""
    period = report.period
    lines = [
        "Guten Tag",
        "",
        f"Missbrauchssignale der Benutzerinnen und Benutzer von {report.institution} in der"
        f" Woche vom {period.first:%d.%m.%Y} bis {period.last:%d.%m.%Y}"
        f" ({report.rows_read} Protokollzeilen ausgewertet):",
        "",
    ]
    meanings = signals_text.rules_text(rules)
    counts = report.counts()
    for kind, title in signals_text.TITLES.items():
        lines.append(f"- {title}: {counts[kind.value]}")
    lines.append("")
    if not report.signals:
        lines.append("Keine Signale in dieser Woche.")
    for signal in report.signals[:MAX_LISTED]:
        lines += [
            f"{signals_text.TITLES[signal.kind]}: {signals_text.what(signal)}",
            f"  {signals_text.when(signal.first)} · {signals_text.who(signal)}",
        ]
        if page_url:
            lines.append(f"  Protokoll: {signals_text.rows_link(signal, page_url.rstrip('/'))}")
    if len(report.signals) > MAX_LISTED:
        lines.append(f"… und {len(report.signals) - MAX_LISTED} weitere (siehe Seite).")
    lines += ["", "Was die Signale bedeuten:"]
    lines += [f"- {signals_text.TITLES[k]}: {m}" for k, m in meanings.items()]
    if page_url:
        lines += [
            "",
            f"Alle Signale: {page_url.rstrip('/')}/datenschutz/signale"
            f"?von={period.first.isoformat()}&bis={period.last.isoformat()}",
        ]
    lines += [
        "",
        "Ein Signal ist ein Hinweis, kein Befund. Diese Zusammenfassung ist protokolliert.",
    ]
    return "\n".join(lines) + "\n"
