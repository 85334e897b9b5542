"""``migrate``: create or upgrade coordination's schema, under an advisory lock named after it.

The only command that changes the schema: the worker, the API and ``rebuild`` never migrate. It
connects as the schema owner (``IIZ_MIGRATION_DATABASE_URL``) and ends by granting the service
role (the user of ``IIZ_DATABASE_URL``) exactly ``PRIVILEGES``.
"""

from __future__ import annotations

from pathlib import Path

from services.common.migrations import Privileges, ServiceGrants, upgrade
from services.coordination.settings import CoordinationSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

_PROJECTION = "SELECT, INSERT, UPDATE, DELETE"  # rebuilt from the log; rebuild empties them
_RECORD = "SELECT, INSERT"  # written once, never changed
_CLAIMED = "SELECT, INSERT, UPDATE"  # claimed FOR UPDATE and marked done/published
# Records of a person go with the person: erasure and the retention run (ops/erase.py,
# ops/retention.py) delete them, as the service role, in the erasure's one transaction.
_PERSONAL_RECORD = "SELECT, INSERT, DELETE"
_PERSONAL_CLAIMED = "SELECT, INSERT, UPDATE, DELETE"

# What the worker, the API and the ops commands need as the service role, and no more.
PRIVILEGES = Privileges(
    tables={
        "persons": _PROJECTION,
        "cases": _PROJECTION,
        "participants": _PROJECTION,
        "consents": _PROJECTION,
        "consent_revocations": _PROJECTION,
        "timeline": _PROJECTION,
        "engagements": _PROJECTION,
        "referrals": _PROJECTION,
        "decisions": _PROJECTION,
        "notices": _PROJECTION,
        "processed_events": _PROJECTION,
        "case_numbers": _PERSONAL_RECORD,
        "outbox": _PERSONAL_CLAIMED,
        "deadlines": _PERSONAL_CLAIMED,
        "delivery_outcomes": _PERSONAL_RECORD,
        "published_figures": _RECORD,
        "inbox_reads": _PERSONAL_RECORD,
        # a notice marked sent stays sent, also across a rebuild (until its person is erased)
        "notice_dispatch": _PERSONAL_RECORD,
        # The chain: rows are appended (a trigger checks that they continue the head and moves
        # it); the head is read, and locked only through audit_lock_head().
        "audit_log": "SELECT, INSERT",
        "audit_head": "SELECT",
        # A record of what the worker signed: rows are added, never changed (no publication
        # state the role could set); the worker trusts only rows its own key signed.
        "audit_checkpoints": "SELECT, INSERT (row_count, head_hash, taken_at, key_id, value)",
    },
    sequences=("case_number_seq", "outbox_id_seq", "deadlines_id_seq"),
    functions=("audit_lock_head()",),
)


def grants(settings: CoordinationSettings) -> ServiceGrants:
    return ServiceGrants.for_urls(settings.database_url, settings.owner_database_url, PRIVILEGES)


async def migrate(settings: CoordinationSettings) -> None:
    await upgrade(
        MIGRATIONS, settings.owner_database_url, settings.coordination_db_schema, grants(settings)
    )
