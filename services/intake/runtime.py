"""Builds intake's resources (database pool, transactional producer, pipeline) and tears them
down; shared by the Kafka door and the HTTP door so both go through one pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.database import create_pool, database_label
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_producer
from services.common.person_registry import PersonRegistry
from services.intake.ledger import SubmissionLedger
from services.intake.pipeline import IntakePipeline, LedgerRetry, fatal_producer_error
from services.intake.settings import IntakeSettings

log = structlog.get_logger("intake.runtime")


def transactional_id(settings: IntakeSettings, door: str) -> str:
    """``iiz-intake-<door>-<instance id>``: stable across restarts, distinct per door.

    A restarted door with the same instance id fences its predecessor: the predecessor's open
    transaction is aborted and it cannot commit another. Two doors of one kind that run at once
    (two Kafka doors in one group, two HTTP doors behind a load balancer) therefore need
    different ``IIZ_INTAKE_INSTANCE_ID``s, or they fence each other.
    """
    return f"iiz-intake-{door}-{settings.intake_instance_id}"


TRANSACTION_TIMEOUT_MS = 20_000  # the broker aborts a transaction left open this long
PIPELINE_TRANSACTION_SECONDS = 15.0  # intake gives up on (and aborts) a transaction before that


@dataclass
class IntakeRuntime:
    settings: IntakeSettings
    registry: InstitutionRegistry = field(default_factory=load_institutions)
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    pipeline: IntakePipeline | None = None
    transactional_id: str | None = None
    ledger_retry: LedgerRetry = field(default_factory=LedgerRetry)

    @property
    def seal(self) -> IdentitySeal:
        return IdentitySeal.from_settings(self.settings)

    async def start(self, door: str) -> IntakePipeline:
        """Connect; ``door`` ("kafka", "http") keeps transactional ids distinct per process."""
        s = self.settings
        self.transactional_id = txn_id = transactional_id(s, door)
        log.info(
            "intake starting",
            door=door,
            kafka=s.kafka_bootstrap_servers,
            database=database_label(s.database_url),
            schema=s.intake_db_schema,
            transactional_id=txn_id,
        )
        self.pool = await create_pool(s.database_url, s.intake_db_schema)
        # Starting the producer fences any predecessor with the same id (see transactional_id).
        # A crashed instance's open transaction holds back every read-committed reader of its
        # partitions until the broker aborts it: keep that short (a batch takes well under it).
        self.producer = create_producer(
            s, transactional_id=txn_id, transaction_timeout_ms=TRANSACTION_TIMEOUT_MS
        )
        await self.producer.start()
        self.pipeline = IntakePipeline(
            registry=self.registry,
            persons=PersonRegistry(
                self.pool,
                s.person_db_schema,
                s.person_keyring,
                s.pseudonym_keyring,
                self.seal,
            ),
            seal=self.seal,
            ledger=SubmissionLedger(self.pool),
            producer=self.producer,
            max_event_bytes=s.intake_max_event_bytes,
            transaction_timeout=PIPELINE_TRANSACTION_SECONDS,
            ledger_retry=self.ledger_retry,
        )
        return self.pipeline

    async def stop(self) -> None:
        try:
            if self.producer is not None:
                await self.producer.stop()
        finally:
            fatal = None if self.producer is None else fatal_producer_error(self.producer)
            if fatal is not None:
                log.warning(
                    "intake's transactional producer had ended: another instance with the"
                    " same transactional id took over",
                    transactional_id=self.transactional_id,
                    error=type(fatal).__name__,
                )
            if self.pool is not None:
                await self.pool.close()
