"""What the demo prints: progress bars, deliveries per institution and channel, latency,
the reconciliation, and where to look."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from schemas.alerts import Alert
from services.common.database import create_pool
from services.coordination.ops.reconciliation import Reconciliation
from services.coordination.ops.retention import count_persons_past_retention
from services.coordination.reading.notices import notice_counts
from services.coordination.reading.signals import Period
from services.coordination.settings import CoordinationSettings
from simulator.demo.reading import signals_raised
from simulator.demo.sign_in import curl_authorization, print_sign_in
from simulator.driver import SubmissionRecord
from simulator.mailbox import LocalSmtpServer
from simulator.partners import ReceivedDelivery
from simulator.webhook_partner import WebhookServer

ALERT = Alert.cloud_event_type()


def progress(label: str, width: int = 30) -> Callable[[int, int], None]:
    """A one-line bar, redrawn only when it moves."""
    shown: list[int] = [-1]

    def show(done: int, total: int) -> None:
        filled = int(width * done / max(total, 1))
        if (filled, done == total) == (shown[0], False) and done % 50:
            return
        shown[0] = filled
        print(f"\r  {label:<20} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="")

    return show


def latencies(
    records: Sequence[SubmissionRecord], deliveries: Sequence[ReceivedDelivery]
) -> list[float]:
    """Seconds from a submission to each partner delivery derived from it."""
    submitted = {r.canonical_id: r.submitted_at for r in records if r.canonical_id}
    return sorted(
        (d.received_at - submitted[cause]).total_seconds()
        for d in deliveries
        if (cause := d.header("ce_causationid")) in submitted
    )


def of_this_run(
    records: Sequence[SubmissionRecord], deliveries: Sequence[ReceivedDelivery], persons: set[str]
) -> list[ReceivedDelivery]:
    """Deliveries of this run's events, and alerts about this run's persons."""
    causes = {r.canonical_id for r in records if r.canonical_id}
    return [
        d
        for d in deliveries
        if d.header("ce_causationid") in causes
        or (d.header("ce_type") == ALERT and d.header("ce_subject") in persons)
    ]


async def persons_of(settings: CoordinationSettings, accepted: list[str]) -> set[str]:
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        rows = await pool.fetch(
            "SELECT DISTINCT pseudonym FROM timeline WHERE event_id = ANY($1::uuid[])", accepted
        )
    finally:
        await pool.close()
    return {r["pseudonym"] for r in rows}


def percentile(values: Sequence[float], share: float) -> float:
    return values[min(len(values) - 1, int(len(values) * share))]


async def summary(
    records: Sequence[SubmissionRecord],
    deliveries: Sequence[ReceivedDelivery],
    webhook: WebhookServer,
    mailbox: LocalSmtpServer,
    report: Reconciliation,
    coordination: CoordinationSettings,
    persons: set[str],
) -> None:
    causes = {r.canonical_id for r in records if r.canonical_id}
    statuses = Counter(r.status for r in records)
    reasons = Counter(r.reason for r in records if r.reason)
    doors = Counter(r.door for r in records)
    print("\nSubmissions")
    print(f"  {len(records)} in all: {dict(doors)} by door; receipts {dict(statuses)}")
    print(f"  rejections by reason: {dict(reasons) or '-'} (the simulation makes a few mistakes)")

    print("\nDelivered to the partners (this run)")
    deliveries = of_this_run(records, deliveries, persons)
    kinds = Counter(
        (d.header("ce_recipient") or d.topic, d.header("ce_type") == ALERT) for d in deliveries
    )
    for recipient in sorted({r for r, _ in kinds}):
        events, alerts = kinds[(recipient, False)], kinds[(recipient, True)]
        print(f"  {recipient:<20} topic       {events:>5} deliveries {alerts:>4} alerts")
    posts = [json.loads(r.body) for r in webhook.requests if r.signature_valid]
    ours = sum(1 for p in posts if p.get("causationid") in causes or p.get("subject") in persons)
    print(f"  {'berufsbildung':<20} webhook     {ours:>5} signed POSTs")
    mails = Counter(m.rcpt_tos[0] for m in mailbox.received)
    for address, count in sorted(mails.items()):
        print(f"  {address:<44} {count:>3} e-mail digest(s)")

    seconds = latencies(records, deliveries)
    if seconds:
        first = min(r.submitted_at for r in records)
        last = max(d.received_at for d in deliveries)
        span = (last - first).total_seconds()
        print("\nLatency, submission → partner topic")
        print(
            f"  median {statistics.median(seconds) * 1000:.0f} ms, p99 "
            f"{percentile(seconds, 0.99) * 1000:.0f} ms over {len(seconds)} deliveries;"
            f" {report.accepted / span:.0f} accepted events/s end to end"
        )

    print("\nReconciliation (coordination reconcile)")
    for line in report.lines():
        print(f"  {line}")
    since = min((r.submitted_at for r in records), default=None)
    await where_to_look(coordination, [r.canonical_id for r in records if r.canonical_id], since)


async def where_to_look(
    settings: CoordinationSettings, accepted: list[str], since: dt.datetime | None = None
) -> None:
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        case = await pool.fetchrow(
            "SELECT c.case_number, c.opened_by, count(DISTINCT e.institution) AS engaged"
            " FROM cases c JOIN timeline t ON t.case_key = c.case_key"
            " LEFT JOIN engagements e ON e.case_key = c.case_key"
            " WHERE t.event_id = ANY($1::uuid[]) GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 1",
            accepted,
        )
    finally:
        await pool.close()
    base = f"http://127.0.0.1:{settings.coordination_api_port}"
    print("\nWhere to look")
    print(f"  timeline API (running): {base}/docs")
    if case is not None:
        lead = case["opened_by"]
        authorization = curl_authorization(settings, f"koordination-{lead}", lead)
        engaged = case["engaged"]
        print(f"  example case {case['case_number']} ({engaged} institutions engaged), as {lead}:")
        print(f"  curl -s {base}/v1/cases/{case['case_number']}/timeline {authorization}")
    print("  pages (German), once signed in:")
    if case is not None:
        print(f"    {base}/fall/{case['case_number']}   (the case on a time axis, as above)")
    print(f"    {base}/faelle   (Meine Fälle: the cases your institution takes part in)")
    print(f"    {base}/fristen   (Fristen: overdue or due this week)")
    print(f"    {base}/posteingang   (Posteingang: what the bus delivered to you)")
    print(f"    {base}/ausschuss   (committee figures: sign in as ausschuss)")
    print("  partner topics: iiz.deliver.<institution>.v1")
    print("  dead letters:   iiz.notifications.dead-letters.v1")
    print("    (send again: python -m services.notifications replay --recipient <institution>)")
    print("  audit trail of deliveries: python -m services.coordination verify-audit;")
    window = since.isoformat(timespec="seconds") if since is not None else "<ISO time>"
    print("    reconcile against the canonical topic (this run and anything since):")
    print(f"    python -m services.coordination reconcile --since {window}")
    print_sign_in(settings, base, case["opened_by"] if case is not None else None)


async def rights_and_lifecycle(
    settings: CoordinationSettings, reading: Period | None, letters: Sequence[Path]
) -> None:
    """The person's rights: notices owed, misuse signals raised over the simulated reading,
    persons past retention, and the example letters."""
    pool = await create_pool(settings.database_url, settings.coordination_db_schema)
    try:
        notices = await notice_counts(pool)
        past = await count_persons_past_retention(pool, settings)
    finally:
        await pool.close()
    raised = await signals_raised(settings, reading) if reading else None
    years = settings.coordination_retention_years_after_closing
    print("\nThe person's rights and the data's lifecycle")
    print(
        f"  notices produced (AVG Art. 35a Abs. 1ter, BL profile): {notices.produced},"
        f" {notices.sent} marked sent  (/mitteilungen)"
    )
    if raised is None:
        print("  misuse signals raised: - (no simulated reading)")
    else:
        kinds = f" {dict(raised)}" if raised else ""
        print(
            f"  misuse signals raised over the simulated reading days: {sum(raised.values())}"
            f"{kinds}  (/datenschutz/signale)"
        )
    print(f"  persons past retention (every case closed more than {years} years ago): {past}")
    for letter in letters:
        print(f"  example letter: {letter}")
    print("  access report for a person: /auskunft (coordinators and data-protection officers)")
