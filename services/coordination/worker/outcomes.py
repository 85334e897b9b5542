"""Records what notifications reports about each delivery, in the audit trail.

Consumes ``iiz.delivery-outcomes.v1`` in batches: one transaction inserts the new outcomes
(``ON CONFLICT DO NOTHING`` on the outcome id, so a redelivered report changes nothing) and
appends one audit row per new outcome. An unreadable report is dead-lettered to
``iiz.coordination.rejected.v1`` with its reason, sealed like every dead letter of coordination.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from schemas.codec import CE_PREFIX, KafkaRecord
from schemas.envelope import CloudEvent
from schemas.outcomes import DeliveryOutcome
from schemas.topics import COORDINATION_REJECTED
from services.common.identity_seal import IdentitySeal
from services.coordination import audit
from services.coordination.clock import Clock, utc_now

log = structlog.get_logger(__name__)
OUTCOME_ENVELOPE = CloudEvent[DeliveryOutcome]


def read_outcome(record: KafkaRecord) -> CloudEvent[DeliveryOutcome]:
    attributes = {
        name.removeprefix(CE_PREFIX): value.decode("utf-8")
        for name, value in record.headers
        if name.startswith(CE_PREFIX)
    }
    if attributes.get("type") != DeliveryOutcome.cloud_event_type():
        raise ValueError(f"not a delivery outcome: {attributes.get('type')!r}")
    return OUTCOME_ENVELOPE.model_validate({**attributes, "data": json.loads(record.value)})


def audit_entry(event: CloudEvent[DeliveryOutcome]) -> audit.AuditEntry:
    outcome = event.data
    detail: dict[str, object] = {
        "recipient": outcome.recipient,
        "channel": outcome.channel.value,
        "status": outcome.status.value,
        "attempt": outcome.attempt,
        "type": outcome.message_type,
        "reported_at": event.time.isoformat(),
    }
    if outcome.error:
        detail["error"] = outcome.error
    return audit.AuditEntry(
        actor="notifications",
        action="delivery-outcome",
        subject=event.subject,
        object=str(outcome.delivery_id),
        detail=detail,
    )


@dataclass
class OutcomeRecorder:
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    seal: IdentitySeal
    clock: Clock = utc_now  # stamps the audit entries

    async def record(self, records: Sequence[KafkaRecord]) -> int:
        """Store and audit a batch of reports; returns how many were new."""
        good: dict[uuid.UUID, CloudEvent[DeliveryOutcome]] = {}
        bad: list[tuple[KafkaRecord, str]] = []
        for record in records:
            try:
                event = read_outcome(record)
            except (ValueError, ValidationError, UnicodeDecodeError) as error:
                bad.append((record, type(error).__name__))
                continue
            good.setdefault(event.id, event)
        await self._dead_letter(bad)
        if not good:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            new = await conn.fetch(
                "INSERT INTO delivery_outcomes (outcome_id, delivery_id, recipient, channel,"
                " status, attempt, error, reported_at)"
                " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],"
                " $5::text[], $6::int[], $7::text[], $8::timestamptz[])"
                " ON CONFLICT (outcome_id) DO NOTHING RETURNING outcome_id",
                *_columns(list(good.values())),
            )
            fresh = [good[row["outcome_id"]] for row in new]
            fresh.sort(key=lambda e: (e.time, str(e.id)))
            await audit.append(conn, [audit_entry(e) for e in fresh], at=self.clock())
        return len(fresh)

    async def dead_letter(self, record: KafkaRecord, reason: str, detail: str) -> None:
        """Dead-letter one report that failed on its own (found by the consumer edge)."""
        await self._dead_letter([(record, detail)], reason)

    async def _dead_letter(
        self, bad: list[tuple[KafkaRecord, str]], reason: str = "unreadable-delivery-outcome"
    ) -> None:
        futures = [
            await self.producer.send(
                COORDINATION_REJECTED,
                key=record.key,
                value=self.seal.seal_bytes(record.value),
                headers=[
                    ("iiz_reason", reason.encode()),
                    ("iiz_message", detail.encode()),
                    ("iiz_sealed", self.seal.key_id.encode()),
                ],
            )
            for record, detail in bad
        ]
        for future in futures:
            await future
        if bad:
            log.warning("dead-lettered delivery outcomes", count=len(bad))


def _columns(events: list[CloudEvent[DeliveryOutcome]]) -> list[list[object]]:
    return [
        [e.id for e in events],
        [e.data.delivery_id for e in events],
        [e.data.recipient for e in events],
        [e.data.channel.value for e in events],
        [e.data.status.value for e in events],
        [e.data.attempt for e in events],
        [e.data.error for e in events],
        [e.time for e in events],
    ]
