"""Processes a batch of submissions: one Kafka transaction carries the canonical events, the
receipts, the dead letters and (for the Kafka door) the consumer offsets, so a crash at any point
either redoes the whole batch or none of it: no event lost, none published twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from schemas.codec import KafkaRecord, to_kafka
from schemas.registry.institutions import InstitutionRegistry
from schemas.topics import CASE_EVENTS, INTAKE_REJECTED
from services.intake.answers import dead_letter, receipt_record
from services.intake.ledger import SubmissionLedger
from services.intake.submission import Accepted, Outcome, Pseudonymiser, Submission, assess

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


class IntakePipeline:
    def __init__(
        self,
        *,
        registry: InstitutionRegistry,
        pseudonymiser: Pseudonymiser,
        ledger: SubmissionLedger,
        producer: AIOKafkaProducer,
        max_event_bytes: int,
        transaction_timeout: float = 30.0,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._registry = registry
        self._pseudonymiser = pseudonymiser
        self._ledger = ledger
        self._producer = producer
        self._max_event_bytes = max_event_bytes
        self._transaction_timeout = transaction_timeout
        self._clock = clock

    async def process(
        self, submissions: Sequence[Submission], consumed: ConsumedOffsets | None = None
    ) -> list[Answered]:
        outcomes = [
            assess(
                s,
                registry=self._registry,
                pseudonymiser=self._pseudonymiser,
                max_bytes=self._max_event_bytes,
            )
            for s in submissions
        ]
        answered = await self._mark_duplicates(outcomes)
        now = self._clock()
        writes: list[tuple[str, KafkaRecord]] = []
        ledger_rows = []
        for item in answered:
            outcome, delivery_topic = item.outcome, item.outcome.submission.sender.delivery_topic
            if isinstance(outcome, Accepted):
                if not item.duplicate:
                    writes.append((CASE_EVENTS, to_kafka(outcome.event)))
                    ledger_rows.append(_ledger_row(outcome))
            else:
                writes.append((INTAKE_REJECTED, dead_letter(outcome, self._pseudonymiser.seal)))
            writes.append(
                (delivery_topic, receipt_record(outcome, duplicate=item.duplicate, now=now))
            )
        await self._publish_atomically(writes, consumed)
        await self._ledger.record(ledger_rows)
        rejected = sum(1 for a in answered if not isinstance(a.outcome, Accepted))
        log.debug("intake batch", submissions=len(submissions), rejected=rejected)
        return answered

    async def _mark_duplicates(self, outcomes: list[Outcome]) -> list[Answered]:
        known = await self._ledger.known(o.event.id for o in outcomes if isinstance(o, Accepted))
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
        async with asyncio.timeout(self._transaction_timeout), self._producer.transaction():
            for topic, record in writes:
                await self._producer.send(
                    topic, record.value, key=record.key, headers=list(record.headers)
                )
            if consumed is not None:
                await self._producer.send_offsets_to_transaction(
                    consumed.offsets, consumed.group_id
                )


def _ledger_row(accepted: Accepted) -> tuple[uuid.UUID, str, str, str]:
    return (
        accepted.event.id,
        accepted.event.source,
        accepted.submission.original_id or "",
        accepted.submission.channel,
    )
