"""Builds intake's resources (database pool, transactional producer, pipeline) and tears them
down; shared by the Kafka door and the HTTP door so both go through one pipeline."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.database import create_pool
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_producer
from services.intake.ledger import SubmissionLedger
from services.intake.pipeline import IntakePipeline
from services.intake.settings import IntakeSettings
from services.intake.submission import Pseudonymiser


@dataclass
class IntakeRuntime:
    settings: IntakeSettings
    registry: InstitutionRegistry = field(default_factory=load_institutions)
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    pipeline: IntakePipeline | None = None

    @property
    def seal(self) -> IdentitySeal:
        return IdentitySeal(
            self.settings.identity_key.get_secret_value(), self.settings.identity_key_id
        )

    async def start(self, door: str) -> IntakePipeline:
        """Connect; ``door`` ("kafka", "http") keeps transactional ids distinct per process."""
        s = self.settings
        self.pool = await create_pool(s.database_url, s.intake_db_schema)
        # A transactional id per instance and door: a restarted instance with the same id
        # fences its zombie predecessor; distinct doors never fence each other.
        suffix = uuid.uuid4().hex[:6] if door == "http" else "0"
        self.producer = create_producer(
            s, transactional_id=f"iiz-intake-{door}-{s.intake_instance_id}-{suffix}"
        )
        await self.producer.start()
        self.pipeline = IntakePipeline(
            registry=self.registry,
            pseudonymiser=Pseudonymiser(
                key=s.pseudonym_key.get_secret_value().encode(),
                key_id=s.pseudonym_key_id,
                seal=self.seal,
            ),
            ledger=SubmissionLedger(self.pool),
            producer=self.producer,
            max_event_bytes=s.intake_max_event_bytes,
        )
        return self.pipeline

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await self.pool.close()
