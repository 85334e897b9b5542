"""Builds coordination's resources (pool, producer, registry, legal basis, clock) and the
worker's parts on them, and tears them down."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.database import create_pool
from services.common.identity_seal import IdentitySeal
from services.common.kafka_clients import create_producer
from services.common.mailer import Mailer, SmtpSettings
from services.coordination.clock import Clock, utc_now
from services.coordination.legal_basis import load_legal_basis
from services.coordination.ops.retention import RetentionJob
from services.coordination.settings import CoordinationSettings
from services.coordination.worker.checkpointer import AuditCheckpointer
from services.coordination.worker.outcomes import OutcomeRecorder
from services.coordination.worker.processor import BatchProcessor, Collaborators
from services.coordination.worker.relay import OutboxRelay
from services.coordination.worker.scheduler import DeadlineScheduler
from services.coordination.worker.signals_summary import SignalsSummary


@dataclass
class CoordinationRuntime:
    settings: CoordinationSettings
    registry: InstitutionRegistry = field(default_factory=load_institutions)
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    clock: Clock = utc_now
    _live: BatchProcessor | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def seal(self) -> IdentitySeal:
        return IdentitySeal.from_settings(self.settings)

    async def start(self) -> None:
        s = self.settings
        self.pool = await create_pool(s.database_url, s.coordination_db_schema)
        self.producer = create_producer(s)
        await self.producer.start()

    def processor(self, *, replay: bool = False) -> BatchProcessor:
        """The live processor (built once), or a fresh one for a replay."""
        if not replay and self._live is not None:
            return self._live
        assert self.pool is not None, "start() first"
        assert self.producer is not None, "start() first"
        s = self.settings
        built = BatchProcessor(
            Collaborators(
                pool=self.pool,
                producer=self.producer,
                registry=self.registry,
                matrix=load_legal_basis(s.coordination_legal_basis_file),
                rules=s.rules,
                seal=self.seal,
                lanes=s.coordination_outbox_lanes,
                max_event_bytes=s.coordination_max_event_bytes,
                clock=self.clock,
                person_schema=s.person_db_schema,
                person_keyring=s.person_keyring,
            ),
            replay=replay,
        )
        if not replay:
            self._live = built
        return built

    def outcome_recorder(self) -> OutcomeRecorder:
        assert self.pool is not None, "start() first"
        assert self.producer is not None, "start() first"
        return OutcomeRecorder(self.pool, self.producer, self.seal, self.clock)

    def relay(self) -> OutboxRelay:
        assert self.pool is not None, "start() first"
        assert self.producer is not None, "start() first"
        s = self.settings
        return OutboxRelay(
            self.pool,
            self.producer,
            lanes=s.coordination_outbox_lanes,
            batch=s.coordination_relay_batch,
            poll_seconds=s.coordination_relay_poll_seconds,
        )

    def scheduler(self, **overrides: Any) -> DeadlineScheduler:
        assert self.pool is not None, "start() first"
        s = self.settings
        return DeadlineScheduler(
            self.pool,
            self.registry,
            load_legal_basis(s.coordination_legal_basis_file),
            s.rules,
            lanes=s.coordination_outbox_lanes,
            **overrides,
        )

    def signals_summary(self) -> SignalsSummary:
        """The weekly misuse-signals summary to each institution's data-protection officer."""
        assert self.pool is not None, "start() first"
        s = self.settings
        smtp = SmtpSettings(
            host=s.coordination_smtp_host,
            port=s.coordination_smtp_port,
            sender=s.coordination_smtp_sender,
            starttls=s.coordination_smtp_starttls,
        )
        return SignalsSummary(
            self.pool,
            self.registry,
            s.signal_rules,
            Mailer(smtp),
            sender=s.coordination_smtp_sender,
            page_url=s.coordination_signals_page_url,
            weekday=s.coordination_signals_summary_weekday,
            hour=s.coordination_signals_summary_hour,
            clock=self.clock,
        )

    def checkpointer(self) -> AuditCheckpointer:
        assert self.pool is not None, "start() first"
        assert self.producer is not None, "start() first"
        s = self.settings
        signer = s.audit_signer
        if signer is None:
            raise RuntimeError(
                "IIZ_COORDINATION_AUDIT_SIGNING_KEY is not set: the worker cannot sign audit"
                " checkpoints (or set IIZ_COORDINATION_RUN_AUDIT_CHECKPOINTS=false and run"
                " them in another worker)"
            )
        return AuditCheckpointer(
            self.pool,
            self.producer,
            signer,
            topic=s.coordination_audit_checkpoints_topic,
            chain=s.audit_chain,
            rows_every=s.coordination_audit_checkpoint_rows,
            seconds_every=s.coordination_audit_checkpoint_seconds,
            poll_seconds=s.coordination_audit_checkpoint_poll_seconds,
            clock=self.clock,
        )

    def start_background(self) -> None:
        """The relay, the deadline scheduler and the audit checkpoints, as tasks of this
        process (if enabled)."""
        s = self.settings
        self._stop.clear()
        if s.coordination_run_audit_checkpoints:
            checkpointer = self.checkpointer()  # refuses before anything runs if it cannot sign
            self._tasks.append(asyncio.create_task(checkpointer.run(self._stop)))
        if s.coordination_run_relay:
            self.start_relay()
        if s.coordination_run_scheduler:
            interval = s.coordination_scheduler_interval_seconds
            self._tasks.append(asyncio.create_task(self.scheduler().run(self._stop, interval)))
        if s.coordination_run_retention:  # the retention schedule, daily (ops/retention.py)
            assert self.pool is not None, "start() first"
            job = RetentionJob(self.pool, s, clock=self.clock)
            every = s.coordination_retention_check_seconds
            self._tasks.append(asyncio.create_task(job.run(self._stop, every)))
        if s.coordination_run_signals_summary:
            interval = s.coordination_scheduler_interval_seconds
            summary = self.signals_summary()
            self._tasks.append(asyncio.create_task(summary.run(self._stop, interval)))

    def start_relay(self) -> None:
        """The outbox relay as a task of this process (``start_background`` or a relay process)."""
        self._stop.clear()
        self._tasks.append(asyncio.create_task(self.relay().run(self._stop), name="outbox-relay"))

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
