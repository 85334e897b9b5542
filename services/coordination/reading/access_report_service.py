"""The access report for one person, the same for every door (``POST /v1/access-reports`` and
the page ``/auskunft``): role check, the person's subjects from the AHV number, their audit rows
and consent records in one snapshot, the pure assembly, and one audit row per subject for the
request (purpose, ticket and counts; never the AHV number).

Bounded: list reads (one audit row per person shown in a worklist, Posteingang, deadline or
notices list, by far the most rows of a person) are counted in SQL per day, institution, role
and list, never fetched one by one; the report keeps the newest entries of each table."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

import asyncpg

from schemas.ahv import AhvNumber
from services.common.logging import redact_ahv_numbers
from services.common.person_lookup import subjects_of
from services.common.settings import CommonSettings
from services.coordination.audit import AuditEntry
from services.coordination.reading.access_report import (
    LIST_ACTIONS,
    NOTICES_READ,
    AuditRecord,
    ListViewCount,
    StoredConsent,
    assemble,
)
from services.coordination.reading.access_report_model import AccessReport
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.read_store import ReadStore

ACTION = "access-report"
REPORT_ROLES = frozenset({Role.AUDITOR, Role.COORDINATOR})

# A list read, as ``access_report.is_list_read`` says ($2: the list actions, $3: read-notices).
_LIST_READ = "(action = ANY($2::text[]) OR (action = $3 AND NOT detail ? 'notice'))"
# The purpose is not fetched: other users' free text stays out of the report.
AUDIT_ROWS = f"""
SELECT seq, at, actor, action, object, basis, detail FROM audit_log
WHERE subject = ANY($1::text[]) AND NOT {_LIST_READ} ORDER BY seq
"""  # noqa: S608 (constant text)
LIST_VIEWS = f"""
SELECT (at AT TIME ZONE 'Europe/Zurich')::date AS day, split_part(actor, '/', 1) AS institution,
       split_part(actor, '/', 2) AS role, action, count(*) AS n
FROM audit_log
WHERE subject = ANY($1::text[]) AND {_LIST_READ} AND actor LIKE '%/%/%'
GROUP BY 1, 2, 3, 4
"""  # noqa: S608 (constant text)
CONSENTS = """
SELECT c.consent_id, c.recorded_by, c.institutions, c.categories, c.valid_from, c.valid_until,
       c.document_ref, r.revoked_at, t.event -> 'data' ->> 'document_ref' AS revocation_ref
FROM consents c
LEFT JOIN LATERAL (
    SELECT event_id, revoked_at FROM consent_revocations
    WHERE consent_id = c.consent_id ORDER BY bus_offset LIMIT 1
) r ON true
LEFT JOIN timeline t ON t.event_id = r.event_id
WHERE c.pseudonym = ANY($1::text[])
ORDER BY c.bus_offset
"""


def may_request(caller: Caller) -> bool:
    """Coordinators and data-protection officers ask on the person's behalf; nobody else."""
    return caller.role in REPORT_ROLES


async def produce_access_report(
    store: ReadStore,
    settings: CommonSettings,
    names: Mapping[str, str],
    caller: Caller,
    ahv: AhvNumber,
    *,
    purpose: str,
    ticket: str | None,
) -> AccessReport | None:
    """The report, or None when the caller's role may not ask (the refusal is audited)."""
    ticket = redact_ahv_numbers(ticket) if ticket else None
    if not may_request(caller):
        await record_refusal(store, caller, purpose, ticket)
        return None
    lists = (sorted(LIST_ACTIONS), NOTICES_READ)
    async with store.snapshot() as conn:
        subjects = await subjects_of(conn, ahv, settings)
        rows = [_record(r) for r in await conn.fetch(AUDIT_ROWS, subjects, *lists)]
        views = [_list_view(r) for r in await conn.fetch(LIST_VIEWS, subjects, *lists)]
        consents = [_consent(r) for r in await conn.fetch(CONSENTS, subjects)]
    report = assemble(rows, consents, names, store.today(), views)
    counts = {
        "known": report.known,
        "receipts": report.receipts_total,
        "accesses": report.accesses_total,
        "list_shown": report.list_shown_total,
        "consents": len(report.consents),
    }
    about: list[str | None] = [*subjects] or [None]
    await store.record(
        *(_entry(caller, subject, purpose, ticket, outcome="ok", **counts) for subject in about)
    )
    return report


async def record_refusal(
    store: ReadStore,
    caller: Caller,
    purpose: str,
    ticket: str | None,
    *,
    outcome: str = "denied",
    **detail: object,
) -> None:
    """Audit a request that was refused (a role that may not ask: ``denied``; a page form that
    was not accepted: ``invalid`` with the ``reason``), as every door does; no subject."""
    ticket = redact_ahv_numbers(ticket) if ticket else None
    await store.record(_entry(caller, None, purpose, ticket, outcome=outcome, **detail))


def _entry(
    caller: Caller,
    subject: str | None,
    purpose: str,
    ticket: str | None,
    **detail: object,
) -> AuditEntry:
    return AuditEntry(
        actor=caller.actor,
        action=ACTION,
        subject=subject,
        purpose=redact_ahv_numbers(purpose),
        basis=f"role: {caller.role.value}" if may_request(caller) else None,
        detail={"ticket": ticket, **detail},
    )


def _record(row: asyncpg.Record) -> AuditRecord:
    detail = row["detail"]
    return AuditRecord(
        seq=int(row["seq"]),
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        object=row["object"],
        basis=row["basis"],
        detail=json.loads(detail) if isinstance(detail, str) else dict(detail),
    )


def _list_view(row: asyncpg.Record) -> ListViewCount:
    return ListViewCount(row["day"], row["institution"], row["role"], row["action"], int(row["n"]))


def _consent(row: asyncpg.Record) -> StoredConsent:
    return StoredConsent(
        consent_id=uuid.UUID(str(row["consent_id"])),
        recorded_by=row["recorded_by"],
        institutions=tuple(row["institutions"]),
        categories=tuple(row["categories"]),
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        document_ref=row["document_ref"],
        revoked_at=row["revoked_at"],
        revocation_ref=row["revocation_ref"],
    )
