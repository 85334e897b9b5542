"""``verify-audit``: the audit chain against itself and against every signed checkpoint.

Reads only: the chain from the database (as the service role, which may read it), every record
of the checkpoints topic from its beginning to its end at the start (``read_committed``).

1. The chain is recomputed row by row (``audit.verify``): a changed, removed or reordered row,
   or a head that does not match, is named by its row.
2. Every checkpoint of this chain (others sharing the topic are skipped) must carry a valid
   Ed25519 signature by a trusted key id, and the chain after that many rows must end in the
   checkpoint's hash. A log rewritten by its owner with recomputed hashes holds together, but
   no longer matches the checkpoints signed before the rewrite: the first such is named.
3. The checkpoints must cover the log: at most ``checkpoint_rows`` + ``verify_margin_rows``
   rows may follow the newest matching checkpoint, and the oldest of them may have waited
   (since it was appended, or since that checkpoint if it came later) at most
   ``checkpoint_seconds`` + ``verify_margin_seconds``. Otherwise the worker stopped signing, or
   the checkpoints are gone (the topic missing, emptied or recreated): without them a rewrite
   would go unseen, so the log is not called intact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
from aiokafka import TopicPartition

from services.common.kafka_clients import create_reader
from services.coordination import audit
from services.coordination.checkpoints import Checkpoint, CheckpointVerifier
from services.coordination.settings import CoordinationSettings

METADATA_ATTEMPTS = 50


class TopicMissingError(RuntimeError):
    """The checkpoints topic does not exist."""


@dataclass(frozen=True)
class Published:
    """A checkpoint as read from the topic, with where it was read."""

    partition: int
    offset: int
    checkpoint: Checkpoint

    def name(self) -> str:
        c = self.checkpoint
        return (
            f"checkpoint at row {c.rows} (signed {c.at.isoformat()} with key {c.key_id},"
            f" partition {self.partition} offset {self.offset})"
        )


@dataclass
class AuditReport:
    chain: audit.Verification
    checkpoints: list[Published] = field(default_factory=list)
    other_chains: int = 0
    # (where, what is wrong), in topic order
    failures: list[tuple[str, str]] = field(default_factory=list)
    coverage: list[str] = field(default_factory=list)  # how far the checkpoints cover the log
    missing: list[str] = field(default_factory=list)  # why they do not cover it enough

    @property
    def intact(self) -> bool:
        return self.chain.intact and not self.failures and not self.missing

    def lines(self) -> Iterator[str]:
        """What was checked, each problem, and the verdict last."""
        matched = len(self.checkpoints) - sum(1 for w, _ in self.failures if w in self._names())
        yield f"audit log: {self.chain.rows} rows read"
        yield (
            f"checkpoints: {len(self.checkpoints)} of this chain on the topic, {matched} match"
            f" the log ({self.other_chains} of other chains skipped)"
        )
        for where, problem in self.failures:
            yield f"  {where}: {problem}"
        yield from self.coverage
        for problem in self.missing:
            yield f"  {problem}"
        yield self.verdict()

    def _names(self) -> set[str]:
        return {p.name() for p in self.checkpoints}

    def verdict(self) -> str:
        if not self.chain.intact:
            return f"audit log BROKEN at row {self.chain.first_broken}: {self.chain.problem}"
        if self.failures:
            where, problem = self.failures[0]
            return f"audit checkpoint MISMATCH: first {where}: {problem}"
        if self.missing:
            return f"audit checkpoints MISSING: {self.missing[0]}"
        return (
            f"audit log intact: {self.chain.rows} rows, every link holds,"
            f" {len(self.checkpoints)} signed checkpoints match"
        )


async def read_checkpoints(
    settings: CoordinationSettings,
) -> tuple[list[Published], list[tuple[str, str]], int]:
    """This chain's checkpoints, unreadable records (where, why) and other chains' count."""
    topic = settings.coordination_audit_checkpoints_topic
    reader = create_reader(settings)
    await reader.start()
    found: list[Published] = []
    unreadable: list[tuple[str, str]] = []
    others = 0
    try:
        reader._client.add_topic(topic)
        partitions: list[TopicPartition] = []
        for _ in range(METADATA_ATTEMPTS):
            await reader._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()
            ]
            if partitions:
                break
        if not partitions:
            raise TopicMissingError(f"topic {topic} not found (infra/create_topics.py creates it)")
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            fetched = await reader.getmany(*remaining, timeout_ms=1000, max_records=1000)
            for tp, records in fetched.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    where = f"record at partition {r.partition} offset {r.offset}"
                    try:
                        checkpoint = Checkpoint.from_json(r.value)
                    except ValueError as error:
                        if r.key == settings.audit_chain.encode("utf-8"):
                            unreadable.append((where, str(error)))
                        else:
                            others += 1
                        continue
                    if checkpoint.chain != settings.audit_chain:
                        others += 1
                        continue
                    found.append(Published(r.partition, r.offset, checkpoint))
            for tp in list(remaining):
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await reader.stop()
    found.sort(key=lambda p: (p.checkpoint.at, p.partition, p.offset))
    return found, unreadable, others


def compare(
    published: list[Published], verifier: CheckpointVerifier, chain: audit.Verification
) -> list[tuple[str, str]]:
    """What is wrong with each checkpoint, in order."""
    failures = []
    for item in published:
        c = item.checkpoint
        problem = verifier.problem(c)
        if problem is None:
            if c.rows > chain.rows and chain.intact:
                problem = f"the log has only {chain.rows} rows"
            elif c.rows not in chain.hashes:
                problem = f"the chain is broken before row {c.rows}"
            elif chain.hashes[c.rows] != c.head:
                problem = (
                    f"the log's hash after {c.rows} rows is {chain.hashes[c.rows]},"
                    f" the checkpoint says {c.head}"
                )
        if problem is not None:
            failures.append((item.name(), problem))
    return failures


async def check_coverage(
    settings: CoordinationSettings,
    pool: asyncpg.Pool,
    matching: list[Published],
    chain: audit.Verification,
    now: dt.datetime,
) -> tuple[list[str], list[str]]:
    """How far the matching checkpoints cover the log (lines), and why not far enough."""
    newest = max(matching, key=lambda p: (p.checkpoint.rows, p.checkpoint.at), default=None)
    covered = newest.checkpoint.rows if newest is not None else 0
    after = chain.rows - covered
    rows_allowed = (
        settings.coordination_audit_checkpoint_rows + settings.coordination_audit_verify_margin_rows
    )
    wait_allowed = dt.timedelta(
        seconds=settings.coordination_audit_checkpoint_seconds
        + settings.coordination_audit_verify_margin_seconds
    )
    since = "no matching checkpoint" if newest is None else f"the newest matching {newest.name()}"
    lines = [f"coverage: {after} rows after {since}"]
    problems: list[str] = []
    if after <= 0:
        return lines, problems
    if after > rows_allowed:
        problems.append(
            f"{after} rows after {since}, more than {rows_allowed}"
            f" ({settings.coordination_audit_checkpoint_rows}"
            " IIZ_COORDINATION_AUDIT_CHECKPOINT_ROWS"
            f" + {settings.coordination_audit_verify_margin_rows}"
            " IIZ_COORDINATION_AUDIT_VERIFY_MARGIN_ROWS)"
        )
    first_at = await pool.fetchval("SELECT at FROM audit_log WHERE seq = $1", covered + 1)
    if first_at is not None:
        start = first_at if newest is None else max(first_at, newest.checkpoint.at)
        waited = now - start
        lines.append(
            f"  row {covered + 1}, the first not covered, was appended {first_at.isoformat()};"
            f" waiting since {start.isoformat()} ({waited.total_seconds():.0f} s, at most"
            f" {wait_allowed.total_seconds():.0f} s allowed)"
        )
        if waited > wait_allowed:
            problems.append(
                f"row {covered + 1} and the {after - 1} after it have waited"
                f" {waited.total_seconds():.0f} s for a checkpoint, more than"
                f" {wait_allowed.total_seconds():.0f} s"
                f" ({settings.coordination_audit_checkpoint_seconds:.0f}"
                " IIZ_COORDINATION_AUDIT_CHECKPOINT_SECONDS"
                f" + {settings.coordination_audit_verify_margin_seconds:.0f}"
                " IIZ_COORDINATION_AUDIT_VERIFY_MARGIN_SECONDS)"
            )
    if problems:
        problems[-1] += (
            ": the worker has stopped signing checkpoints, or they were removed (the topic"
            f" {settings.coordination_audit_checkpoints_topic} missing, emptied or recreated)"
        )
    return lines, problems


async def verify_audit(
    settings: CoordinationSettings, pool: asyncpg.Pool, *, now: dt.datetime | None = None
) -> AuditReport:
    missing: list[str] = []
    try:
        published, unreadable, others = await read_checkpoints(settings)
    except TopicMissingError as error:
        published, unreadable, others = [], [], 0
        missing.append(str(error))
    chain = await audit.verify(pool, at_rows={p.checkpoint.rows for p in published})
    failures = unreadable + compare(published, settings.audit_verifier, chain)
    report = AuditReport(chain, published, others, failures)
    if chain.intact:
        failed = {where for where, _ in failures}
        matching = [p for p in published if p.name() not in failed]
        report.coverage, problems = await check_coverage(
            settings, pool, matching, chain, now or dt.datetime.now(dt.UTC)
        )
        report.missing = missing + problems
    return report
