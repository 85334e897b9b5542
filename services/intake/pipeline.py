"""Processes a batch of submissions: one Kafka transaction carries the canonical events, the
receipts, the dead letters and (for the Kafka door) the consumer offsets, so a crash at any point
either redoes the whole batch or none of it: no event lost, none published twice.

Before the transaction, the batch's persons are resolved in the person registry (one round trip
when all are known; new persons are created and committed first, so no record names a person
whose key does not exist yet). Each canonical event is then sealed under its person's key. A
registry that cannot be reached is an outage like any other database failure: the batch fails
and is redone, nothing is dead-lettered.

After the commit the batch is published for good. The ledger rows are written then, and a
failure there is retried (capped exponential backoff, one calm log line per attempt) until it
succeeds or the process stops: raising would make the caller redo a batch that is already out,
publishing it and its receipts again and again."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.codec import KafkaRecord, to_kafka
from schemas.errors import ProcessingFailedError
from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.common.identity_seal import IdentitySeal
from services.common.outages import MustRestartError
from services.common.person_registry import PersonRegistry
from services.common.record_seal import seal_record
from services.intake.answers import dead_letter, receipt_record
from services.intake.ledger import SubmissionLedger
from services.intake.submission import (
    Accepted,
    Checked,
    Outcome,
    Rejected,
    Submission,
    assess,
    canonical_id,
    check,
)

log = structlog.get_logger("intake.pipeline")


@dataclass(frozen=True)
class Answered:
    """An outcome and whether it was a resubmission of an already accepted event."""

    outcome: Outcome
    duplicate: bool


@dataclass(frozen=True)
class ConsumedOffsets:
    group_id: str
    offsets: dict[TopicPartition, int]


@dataclass(frozen=True)
class LedgerRetry:
    """How a ledger write after the commit is retried: ``first`` seconds, doubling to ``cap``."""

    first: float = 0.1
    cap: float = 5.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # tests pass a controlled one

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay
            delay = min(delay * 2, self.cap)


class IntakePipeline:
    def __init__(
        self,
        *,
        registry: InstitutionRegistry,
        persons: PersonRegistry,
        seal: IdentitySeal,
        ledger: SubmissionLedger,
        producer: AIOKafkaProducer,
        max_event_bytes: int,
        transaction_timeout: float = 30.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        ledger_retry: LedgerRetry | None = None,
    ) -> None:
        self._registry = registry
        self._persons = persons
        self._seal = seal
        self._ledger = ledger
        self._producer = producer
        self._max_event_bytes = max_event_bytes
        self._transaction_timeout = transaction_timeout
        self._clock = clock
        self._ledger_retry = ledger_retry or LedgerRetry()

    async def assess(self, submissions: Sequence[Submission]) -> list[Outcome]:
        """What ``process`` would decide about each submission, without publishing anything
        (the web form checks a registration's events all together before it stores a document).
        Resolves (and if new, registers) the persons of the valid ones."""
        outcomes, _ = await self._assess(submissions, ledger=False)
        return outcomes

    async def _assess(
        self, submissions: Sequence[Submission], *, ledger: bool
    ) -> tuple[list[Outcome], set[uuid.UUID] | None]:
        """The outcomes and, with ``ledger``, which of their canonical ids the ledger holds: read
        while the persons are resolved (its own connection), not one round trip after."""
        checked = [
            check(s, registry=self._registry, max_bytes=self._max_event_bytes) for s in submissions
        ]
        valid = [c for c in checked if isinstance(c, Checked)]
        looked_up = None
        if ledger and valid:
            # The ids ``canonicalise`` gives the accepted events.
            ids = [canonical_id(c.event.source, str(c.event.id)) for c in valid]
            looked_up = asyncio.ensure_future(self._ledger.known(ids))
        try:
            persons = await self._persons.resolve(c.ahv for c in valid)
        except BaseException:
            if looked_up is not None:
                looked_up.cancel()
                with contextlib.suppress(BaseException):
                    await looked_up
            raise
        known = None if looked_up is None else await looked_up
        return [assess(c, persons=persons, seal=self._seal) for c in checked], known

    async def process(
        self,
        submissions: Sequence[Submission],
        consumed: ConsumedOffsets | None = None,
        *,
        assessed: Sequence[Outcome] | None = None,
    ) -> list[Answered]:
        """Publish the submissions' outcomes. ``assessed``: what ``assess`` decided about them
        already (the web form, which stored the document under that person's subject): used as
        it is, so the person is resolved once and events and document name the same subject."""
        known = None
        if assessed is None:
            outcomes, known = await self._assess(submissions, ledger=True)
        else:
            outcomes = list(assessed)
            if [o.submission for o in outcomes] != list(submissions):
                raise ValueError("the assessed outcomes are not those of the submissions")
        answered = await self._mark_duplicates(outcomes, known)
        now = self._clock()
        writes: list[tuple[str, KafkaRecord]] = []
        ledger_rows = []
        for item in answered:
            outcome, duplicate = item.outcome, item.duplicate
            if isinstance(outcome, Accepted):
                if not duplicate:
                    sealed = seal_record(to_kafka(outcome.event), outcome.person.key)
                    writes.append((CASE_EVENTS, sealed))
                    ledger_rows.append(_ledger_row(outcome))
            else:
                writes.append((INTAKE_REJECTED, dead_letter(outcome, self._seal)))
            writes.append(
                (
                    outcome.submission.sender.delivery_topic,
                    receipt_record(outcome, duplicate=duplicate, now=now),
                )
            )
        await self._publish_atomically(writes, consumed)
        await self._remember(ledger_rows)  # never raises: the batch is out (a cancel goes through)
        rejected = sum(1 for a in answered if not isinstance(a.outcome, Accepted))
        log.debug("intake batch", submissions=len(submissions), rejected=rejected)
        return answered

    async def refuse(
        self, submission: Submission, detail: str, consumed: ConsumedOffsets | None = None
    ) -> None:
        """Answer a submission the pipeline failed on by itself: dead letter and receipt
        ``processing_failed``, with its offset, in one transaction."""
        outcome = Rejected(
            submission, ProcessingFailedError(f"the bus could not process it ({detail[:80]})")
        )
        writes = [
            (INTAKE_REJECTED, dead_letter(outcome, self._seal)),
            (
                submission.sender.delivery_topic,
                receipt_record(outcome, duplicate=False, now=self._clock()),
            ),
        ]
        await self._publish_atomically(writes, consumed)

    async def _remember(self, rows: list[tuple[uuid.UUID, str, str, str]]) -> None:
        """Write the ledger rows of a committed batch, retrying until it succeeds.

        Only a cancellation (the process stopping) ends the retries early; the rows are then
        missing, which the ledger allows (a resubmission is published again under the same
        canonical id, which consumers dedupe) and reconcile reports as ``ledger missing``.
        """
        for attempt, delay in enumerate(self._ledger_retry.delays(), start=1):
            try:
                await self._ledger.record(rows)
            except Exception as error:
                log.warning(
                    "ledger write failed; retrying",
                    attempt=attempt,
                    delay=delay,
                    rows=len(rows),
                    error=type(error).__name__,
                )
                await self._ledger_retry.sleep(delay)
            else:
                if attempt > 1:
                    log.info("ledger write succeeded", attempt=attempt, rows=len(rows))
                return

    async def _mark_duplicates(
        self, outcomes: list[Outcome], known: set[uuid.UUID] | None = None
    ) -> list[Answered]:
        """``known``: the ledger's answer for these outcomes' canonical ids, if read already."""
        if known is None:
            known = await self._ledger.known(
                o.event.id for o in outcomes if isinstance(o, Accepted)
            )
        answered = []
        for outcome in outcomes:
            duplicate = False
            if isinstance(outcome, Accepted):
                duplicate = outcome.event.id in known
                known.add(outcome.event.id)
            answered.append(Answered(outcome, duplicate))
        return answered

    async def _publish_atomically(
        self, writes: list[tuple[str, KafkaRecord]], consumed: ConsumedOffsets | None
    ) -> None:
        # A stalled transaction becomes an error (the batch is then redone), never a hang.
        try:
            async with asyncio.timeout(self._transaction_timeout):
                await self._producer.begin_transaction()
                try:
                    await self._send_all(writes, consumed)
                except BaseException:
                    await self._abort()
                    raise
            await self._commit()
        except Exception as error:
            fatal = fatal_producer_error(self._producer)
            if fatal is not None and fatal is not error:
                raise copy.copy(fatal) from error
            raise

    async def _send_all(
        self, writes: list[tuple[str, KafkaRecord]], consumed: ConsumedOffsets | None
    ) -> None:
        for topic, record in writes:
            delivery = await self._producer.send(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
            # The commit reports the outcome; a failed send's own error is read here,
            # or asyncio logs it as "never retrieved" whenever the future is collected.
            delivery.add_done_callback(_read_outcome)
        if consumed is not None:
            await self._producer.send_offsets_to_transaction(consumed.offsets, consumed.group_id)

    async def _abort(self) -> None:
        """Abort before the commit; if even that fails, the producer's state is unknown."""
        try:
            async with asyncio.timeout(self._transaction_timeout):
                await self._producer.abort_transaction()
        except Exception as error:
            if fatal_producer_error(self._producer) is None:
                raise MustRestartError("a transaction could not be aborted") from error

    async def _commit(self) -> None:
        """A commit that fails half-way (broker gone while EndTxn was in flight) may still
        complete later: redoing the batch could publish it twice. Only a new process, whose
        producer start resolves the transaction before it reads from the committed offsets,
        can go on safely."""
        try:
            async with asyncio.timeout(self._transaction_timeout):
                await self._producer.commit_transaction()
        except Exception as error:
            if fatal_producer_error(self._producer) is not None:
                raise
            raise MustRestartError("the outcome of a transaction's commit is unknown") from error


def _read_outcome(delivery: asyncio.Future[object]) -> None:
    if not delivery.cancelled():
        delivery.exception()


def fatal_producer_error(producer: AIOKafkaProducer) -> BaseException | None:
    """What ended the transactional producer for good (``ProducerFenced`` when a successor with
    the same transactional id started), or None.

    aiokafka reports a fenced producer's later calls as ``IllegalOperation`` or an assertion
    about its state; the cause is kept only in its transaction manager. Raising the cause lets
    a caller tell "this instance was replaced: stop" from a failure worth retrying.
    """
    manager = getattr(producer, "_txn_manager", None)
    if manager is None or not manager.is_fatal_error():
        return None
    ended = manager.wait_for_transaction_end()
    if ended.done() and not ended.cancelled():
        cause: BaseException | None = ended.exception()
        return cause
    return None


def _ledger_row(accepted: Accepted) -> tuple[uuid.UUID, str, str, str]:
    return (
        accepted.event.id,
        accepted.event.source,
        accepted.submission.original_id or "",
        accepted.submission.channel,
    )
