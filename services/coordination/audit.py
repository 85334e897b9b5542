"""The append-only, hash-chained audit log: every decision, delivery outcome and read.

Each row's hash covers its content and the previous row's hash, so changing, removing or
reordering any row breaks the chain from there on; ``audit_head`` holds the newest hash, so even
a rewritten last row is caught. Writers lock the head for the rest of their transaction
(``audit_lock_head()``): the chain has exactly one order, whichever instance writes.

The services' database role may only SELECT and INSERT audit rows. The head is written by the
database alone: a ``SECURITY DEFINER`` trigger checks that every INSERT continues the chain
(first row's ``prev_hash`` = the head's hash, consecutive ``seq``) and advances the head. The
table refuses UPDATE, DELETE and TRUNCATE (triggers, also for the owner). Rewriting the log thus
needs the owner's deliberate act; ``verify`` finds a changed row, and a rewrite with recomputed
hashes is found by the signed checkpoints (``services.coordination.checkpoints``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """Who did what, for which purpose, about whom, on which basis."""

    actor: str  # "coordination" or "<institution>/<role>/<subject of the token>"
    action: str  # decided, delivery-outcome, read-case, read-timeline, search-case, ...
    subject: str | None = None  # the person pseudonym concerned
    object: str | None = None  # event id, case number, ...
    purpose: str | None = None
    basis: str | None = None  # consent ids or articles, for decisions and deliveries
    detail: dict[str, Any] = field(default_factory=dict)


def link_hash(seq: int, at: dt.datetime, entry: AuditEntry, prev_hash: str) -> str:
    content = [
        seq,
        at.astimezone(dt.UTC).isoformat(),
        entry.actor,
        entry.action,
        entry.purpose,
        entry.subject,
        entry.object,
        entry.basis,
        entry.detail,
        prev_hash,
    ]
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def append(
    conn: asyncpg.Connection, entries: Sequence[AuditEntry], *, at: dt.datetime
) -> None:
    """Append entries in the caller's transaction (which must be open)."""
    if not entries:
        return
    head = await conn.fetchrow("SELECT seq, hash FROM audit_lock_head()")
    assert head is not None, "the migration creates the head row"
    seq, prev = int(head["seq"]), str(head["hash"])
    rows = []
    for entry in entries:
        seq += 1
        digest = link_hash(seq, at, entry, prev)
        rows.append(
            (
                seq,
                at,
                entry.actor,
                entry.action,
                entry.purpose,
                entry.subject,
                entry.object,
                entry.basis,
                json.dumps(entry.detail, sort_keys=True),
                prev,
                digest,
            )
        )
        prev = digest
    # One statement: the chain's trigger checks the rows together and advances the head once.
    await conn.execute(APPEND, *(list(column) for column in zip(*rows, strict=True)))


APPEND = """
INSERT INTO audit_log (seq, at, actor, action, purpose, subject, object, basis, detail,
                       prev_hash, hash)
SELECT seq, at, actor, action, purpose, subject, object, basis, detail::jsonb, prev_hash, hash
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
     AS r(seq, at, actor, action, purpose, subject, object, basis, detail, prev_hash, hash)
"""


@dataclass(frozen=True)
class Verification:
    rows: int
    first_broken: int | None  # seq of the first row whose link does not hold
    problem: str | None
    # The chain's hash after n rows, for each n asked for (up to the first broken link).
    hashes: dict[int, str] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return self.first_broken is None and self.problem is None


async def verify(
    pool: asyncpg.Pool, *, page: int = 5000, at_rows: Collection[int] = ()
) -> Verification:
    """Recompute the whole chain; report the first broken link, and the hashes after the
    numbers of rows in ``at_rows`` (checkpoints) as far as the chain holds."""
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    wanted = set(at_rows)
    hashes = {0: GENESIS_HASH} if 0 in wanted else {}
    async with pool.acquire() as conn:
        last = 0
        while True:
            rows = await conn.fetch(
                "SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", last, page
            )
            for row in rows:
                seq = int(row["seq"])
                if seq != expected_seq:
                    return Verification(
                        count, expected_seq, f"row {expected_seq} is missing", hashes
                    )
                entry = AuditEntry(
                    actor=row["actor"],
                    action=row["action"],
                    subject=row["subject"],
                    object=row["object"],
                    purpose=row["purpose"],
                    basis=row["basis"],
                    detail=json.loads(row["detail"]),
                )
                if row["prev_hash"] != prev:
                    return Verification(
                        count, seq, f"row {seq} does not follow row {seq - 1}", hashes
                    )
                if link_hash(seq, row["at"], entry, prev) != row["hash"]:
                    return Verification(
                        count, seq, f"row {seq} was changed after it was written", hashes
                    )
                prev, expected_seq, count = row["hash"], seq + 1, count + 1
                last = seq
                if seq in wanted:
                    hashes[seq] = prev
            if len(rows) < page:
                break
        head = await conn.fetchrow("SELECT seq, hash FROM audit_head")
    assert head is not None
    if int(head["seq"]) != count or head["hash"] != prev:
        return Verification(
            count,
            count + 1 if int(head["seq"]) > count else count,
            ("the newest rows were removed or rewritten (the head does not match)"),
            hashes,
        )
    return Verification(count, None, None, hashes)
