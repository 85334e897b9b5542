"""The consumer edge: the one way every service reads a Kafka topic.

Written once, used by every consumer of every service (intake's door, coordination's worker and
outcome recorder, notifications' lanes). It guarantees, whatever the handler does:

- **Committed reads only** (``isolation_level=read_committed``): an aborted transaction is never
  seen.
- **Raw records**: key, value and headers reach the handler as bytes. Nothing decodes them on
  the way, so a bad byte is the handler's to judge (a reason code), never an exception here.
- **Offsets move only after the effect is durable**: the edge commits the consumer's *position*
  after the handler returned, so a partition whose last entry is a transaction marker reaches
  lag 0; a position moved past markers alone is committed while idle.
- **Poison isolation**: a batch that fails for a reason that is not an outage is retried in
  halves until the one record that fails alone is found; that record goes to the handler's
  ``reject`` (dead letter, rejection receipt) and the rest proceeds. Before blaming a record the
  edge probes the dependencies, so an outage never dead-letters a good record.
- **Outages**: the unsettled rest of the batch is rewound (never before what is settled, so
  offsets a transaction already committed are never replayed) and retried after a capped,
  jittered exponential backoff — one log line per attempt, no traceback.
- **Health**: ``health()`` says whether the edge has joined its group and whether its loop is
  advancing; ``services.common.health`` serves it over HTTP.

Why not a FastStream subscriber: its batch parser decodes every header as UTF-8 before any
project code runs (a non-UTF-8 header lost whole batches), its manual ack commits only when a
message arrives (lag never reached 0 past a transaction marker), and it offers no hook for
bisecting a failed batch or for a calm backoff. FastStream still runs the applications
(lifecycle, signals, ``faststream run``, ``TestApp``); see docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from services.common.kafka_clients import create_consumer
from services.common.outages import Backoff, is_fatal, is_outage
from services.common.settings import CommonSettings

log = structlog.get_logger("consumer_edge")

PROCESSING_FAILED = "processing_failed"


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """One record exactly as the broker holds it: nothing decoded."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int = 0

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> ConsumedRecord:
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value,
            tuple(record.headers),
            record.timestamp,
        )

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


class BatchHandler(Protocol):
    """What a service plugs into the edge."""

    async def handle(self, records: Sequence[ConsumedRecord]) -> None:
        """Make every record's effects durable, or raise (nothing of this call counts then)."""

    async def reject(self, record: ConsumedRecord, reason: str, detail: str) -> None:
        """Dead-letter one record that fails on its own (and answer its sender, if any)."""

    async def probe(self) -> None:
        """Raise if a dependency (database, broker) does not answer."""


@dataclass(frozen=True)
class EdgeConfig:
    name: str
    topics: tuple[str, ...]
    group_id: str
    max_records: int = 500
    max_poll_interval_ms: int = 300_000
    poll_timeout_ms: int = 500
    stall_seconds: float = 60.0
    probe_timeout: float = 10.0
    join_timeout: float = 60.0
    stop_grace: float = 60.0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class EdgeHealth:
    name: str
    joined: bool
    live: bool
    lag: int
    seconds_since_beat: float
    retrying: int
    last_outage: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "joined": self.joined,
            "live": self.live,
            "lag": self.lag,
            "seconds_since_beat": round(self.seconds_since_beat, 1),
            "retrying": self.retrying,
            "last_outage": self.last_outage,
        }


class _FatalError(Exception):
    """The handler cannot go on in this process (e.g. its producer was fenced)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(type(error).__name__)
        self.error = error


class _Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, edge: ConsumerEdge) -> None:
        self._edge = edge

    async def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self._edge._forget(tp)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._edge.joined = True
        self._edge.has_joined.set()


class ConsumerEdge:
    def __init__(
        self,
        settings: CommonSettings,
        config: EdgeConfig,
        handler: BatchHandler,
    ) -> None:
        self._settings = settings
        self.config = config
        self._handler = handler
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._committed: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._beat = time.monotonic()
        self._attempt = 0
        self._last_outage: str | None = None
        self._outage: BaseException | None = None
        self.fatal: BaseException | None = None
        self.joined = False
        self.has_joined = asyncio.Event()
        self.rejected = 0

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        c = self.config
        self._consumer = create_consumer(
            self._settings, group_id=c.group_id, max_poll_interval_ms=c.max_poll_interval_ms
        )  # no topics here: subscribed below, with the listener that tells when it joined
        await self._consumer.start()
        self._consumer.subscribe(list(c.topics), listener=_Membership(self))
        self._stopping.clear()
        self._beat = time.monotonic()
        self._task = asyncio.create_task(self._run(), name=f"edge-{c.name}")
        # Started means consuming: wait for the first assignment (a worker that has not joined
        # is not ready anyway, and the group's other members hand over partitions meanwhile).
        try:
            async with asyncio.timeout(c.join_timeout):
                await self.has_joined.wait()
        except TimeoutError:
            log.warning("not joined its group yet; going on", edge=c.name, group=c.group_id)

    async def stop(self) -> None:
        """Let the batch in hand finish (up to ``stop_grace`` seconds), then leave the group."""
        self._stopping.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self.config.stop_grace)
            if not done:  # a wedged handler: nothing of its batch is committed, so it is redone
                log.warning("batch did not finish; cancelled", edge=self.config.name)
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def ended(self) -> BaseException | None:
        """Wait until the loop ends by itself; the fatal error that ended it, if any."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        return self.fatal

    # ----- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._consumer is not None
        c = self.config
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=c.poll_timeout_ms, max_records=c.max_records
                )
            except ConsumerStoppedError:
                return
            except KafkaError as error:
                await self._back_off(error, "poll")
                continue
            self._beat = time.monotonic()
            records = [ConsumedRecord.of(r) for tp in sorted(batches) for r in batches[tp]]
            for tp, taken in batches.items():  # done up to here until the batch is settled
                self._positions[tp] = taken[0].offset
            try:
                await self._take(records)
            except _FatalError as fatal:
                self.fatal = fatal.error
                log.error("consumer edge stops", edge=c.name, error=type(fatal.error).__name__)
                return
            except Exception as error:  # a bug of ours: keep the loop, redo the batch later
                log.exception("consumer edge iteration failed", edge=c.name)
                self._rewind(records)
                await self._back_off(error, "edge")
            self._beat = time.monotonic()

    async def _take(self, records: list[ConsumedRecord]) -> None:
        settled = await self._settle(records) if records else 0
        if settled < len(records):
            self._rewind(records[settled:])
            await self._back_off(self._outage, "batch")
        else:
            self._attempt = 0
        await self._commit_positions()

    async def _settle(self, records: list[ConsumedRecord]) -> int:
        """How many records, from the front, have their effects durable (or are dead-lettered)."""
        settled = 0

        async def attempt(chunk: list[ConsumedRecord]) -> bool:
            nonlocal settled
            try:
                await self._handler.handle(chunk)
            except Exception as error:
                if is_fatal(error):
                    raise _FatalError(error) from error
                if is_outage(error) or self._stopping.is_set():
                    self._outage = error
                    return False
                if len(chunk) > 1:
                    middle = len(chunk) // 2
                    return await attempt(chunk[:middle]) and await attempt(chunk[middle:])
                if not await self._reject(chunk[0], error):
                    return False
            settled += len(chunk)
            return True

        self._outage = None
        await attempt(records)
        return settled

    async def _reject(self, record: ConsumedRecord, error: Exception) -> bool:
        """Dead-letter a record that fails alone — unless the dependencies are what failed."""
        try:
            async with asyncio.timeout(self.config.probe_timeout):
                await self._handler.probe()
            await self._handler.reject(record, PROCESSING_FAILED, type(error).__name__)
        except Exception as outage:
            if is_fatal(outage):
                raise _FatalError(outage) from outage
            self._outage = outage
            return False
        self.rejected += 1
        log.warning(
            "record failed alone; dead-lettered",
            edge=self.config.name,
            record=record.where,
            error=type(error).__name__,
        )
        return True

    def _rewind(self, unsettled: list[ConsumedRecord]) -> None:
        """Seek every partition back to its first unsettled record (never before a settled one)."""
        assert self._consumer is not None
        first: dict[TopicPartition, int] = {}
        for r in unsettled:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        for tp, offset in first.items():
            with contextlib.suppress(IllegalStateError):  # revoked meanwhile: its new owner redoes
                self._consumer.seek(tp, offset)

    async def _back_off(self, error: BaseException | None, where: str) -> None:
        self._attempt += 1
        delay = self.config.backoff.delay(self._attempt)
        self._last_outage = type(error).__name__ if error is not None else "unknown"
        log.warning(
            "dependency unavailable; will retry",
            edge=self.config.name,
            during=where,
            attempt=self._attempt,
            retry_in=round(delay, 2),
            error=self._last_outage,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _commit_positions(self) -> None:
        """Commit where the consumer stands: past every settled record and transaction marker."""
        assert self._consumer is not None
        moved: dict[TopicPartition, int] = {}
        try:
            async with asyncio.timeout(self.config.probe_timeout):
                for tp in self._consumer.assignment():
                    position = await self._consumer.position(tp)
                    self._positions[tp] = position
                    if self._committed.get(tp) != position:
                        moved[tp] = position
                if moved:
                    await self._consumer.commit(moved)
        except (KafkaError, IllegalStateError, TimeoutError) as error:
            # Not committed now is committed later (or redone by the partition's next owner;
            # effects are idempotent). Never a reason to stop consuming.
            log.info("offsets not committed yet", edge=self.config.name, error=type(error).__name__)
            return
        self._committed.update(moved)

    def _forget(self, tp: TopicPartition) -> None:
        self._committed.pop(tp, None)
        self._positions.pop(tp, None)

    # ----- health ------------------------------------------------------------------------------

    def lag(self) -> int:
        if self._consumer is None:
            return 0
        total = 0
        for tp in self._consumer.assignment():
            end = self._consumer.last_stable_offset(tp)
            if end is None:
                end = self._consumer.highwater(tp)
            position = self._positions.get(tp)
            if end is not None and position is not None:
                total += max(0, end - position)
        return total

    def health(self) -> EdgeHealth:
        since = time.monotonic() - self._beat
        lag = self.lag()
        running = self._task is not None and not self._task.done()
        stalled = since > self.config.stall_seconds and lag > 0
        return EdgeHealth(
            name=self.config.name,
            joined=self.joined,
            live=running and not stalled,
            lag=lag,
            seconds_since_beat=since,
            retrying=self._attempt,
            last_outage=self._last_outage,
        )

    async def ready(self) -> bool:
        """Joined its group and its dependencies answer."""
        if not self.joined:
            return False
        try:
            async with asyncio.timeout(self.config.probe_timeout):
                await self._handler.probe()
        except Exception:
            return False
        return True
