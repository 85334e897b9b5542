"""The coordinator e-mail digest: reads the digest queue, sends one e-mail per address and hour.

The queue (``iiz.notifications.digest.v1``) is keyed by the coordinator's address, so all of an
address's alerts are on one partition and one instance. Items wait in a ``DigestBook`` until
their hour is over (plus a grace period); a partition's offset is committed only up to its oldest
item whose digest was not sent yet, so a crash re-reads exactly the unsent items. A digest that
the server refuses for good, or that fails ``attempts`` times, is dead-lettered item by item.
The digest's Message-ID is derived from address and hour: a digest re-sent after a crash between
sending and committing carries the same Message-ID, which mail systems de-duplicate.

The Posteingang notices (``inbox_notice``) travel the same queue and book as their own letter:
one e-mail per address and period, no outcome report (the delivery itself is reported by its
own lane), dead-lettered like a digest when the server refuses it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable

import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from schemas.alerts import Alert
from schemas.codec import KafkaRecord
from schemas.envelope import CloudEvent
from schemas.outcomes import DeliveryChannel, OutcomeStatus
from services.common.kafka_clients import create_consumer
from services.common.mailer import Mailer, MailNotSentError
from services.common.outages import log_failure
from services.notifications.digest import Digest, DigestBook, Letter, item_from_alert, render
from services.notifications.inbox_notice import is_notice, notice_from_record, render_notice
from services.notifications.reports import dead_letter, outcome_record
from services.notifications.settings import NotificationsSettings
from services.notifications.shaping import Delivery, UnroutableError, read_delivery

log = structlog.get_logger(__name__)
ALERT_ENVELOPE = CloudEvent[Alert]
SMTP_FIRST_PAUSE = dt.timedelta(seconds=10)
SMTP_LONGEST_PAUSE = dt.timedelta(minutes=10)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DigestWorker:
    def __init__(
        self,
        settings: NotificationsSettings,
        producer: AIOKafkaProducer,
        mailer: Mailer,
        *,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self._settings = settings
        self._producer = producer
        self._mailer = mailer
        self._clock = clock
        self._queue = settings.notifications_digest_topic
        self._outcomes_topic = settings.notifications_outcomes_topic
        self._dead_letters = settings.notifications_dead_letter_topic
        # File, flush and commit on one side, a rebalance on the other: one at a time.
        self._lock = asyncio.Lock()
        self.sent: int = 0
        self._reset()

    def _reset(self) -> None:
        """Forget everything unsent: it is re-read from the committed offsets."""
        period = dt.timedelta(minutes=self._settings.notifications_digest_minutes)
        self.book: DigestBook[TopicPartition] = DigestBook(period=period)
        self._deliveries: dict[str, Delivery] = {}
        self._notices: dict[str, KafkaRecord] = {}  # delivery id → queued notice record
        self._failures: dict[tuple[str, dt.datetime], int] = {}  # (address, hour) → failed sends
        self._next_try: dict[tuple[str, dt.datetime], dt.datetime] = {}
        self._read_up_to: dict[TopicPartition, int] = {}

    async def run_supervised(self, stop: asyncio.Event) -> None:
        """``run``, restarted after an unexpected error (with a growing pause), until ``stop``."""
        pause = 1.0
        while not stop.is_set():
            try:
                await self.run(stop)
            except Exception as error:
                log_failure(log, "digest worker failed; restarting", error, pause_seconds=pause)
                self._reset()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                pause = min(pause * 2, 60.0)
            else:
                return

    async def run(self, stop: asyncio.Event) -> None:
        s = self._settings
        consumer = create_consumer(s, group_id=f"{s.notifications_group_id}-digest")
        worker = self

        class Release(ConsumerRebalanceListener):  # type: ignore[misc]
            async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
                async with worker._lock:
                    with contextlib.suppress(KafkaError):
                        await worker._commit(consumer)
                    for tp in revoked:
                        worker.book.release_lane(tp)
                        worker._read_up_to.pop(tp, None)

            async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
                return None

        consumer.subscribe([self._queue], listener=Release())
        await consumer.start()
        try:
            while not stop.is_set():
                wait_ms = int(min(s.notifications_digest_check_seconds, 1.0) * 1000)
                batches = await consumer.getmany(timeout_ms=wait_ms, max_records=500)
                async with self._lock:
                    assigned = consumer.assignment()
                    for tp, records in batches.items():
                        if tp in assigned:  # not revoked while we waited for the lock
                            await self._file(tp, records)
                    await self.flush()
                    await self._commit(consumer)
        finally:
            try:
                async with self._lock:
                    await self._commit(consumer)
            except KafkaError:
                log.warning("digest offsets not committed at stop; unsent alerts are re-read")
            finally:
                await consumer.stop()

    async def _file(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        for record in records:
            raw = KafkaRecord(record.key, record.value or b"", tuple(record.headers))
            queued_at = dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC)
            if is_notice(raw):
                await self._file_notice(tp, record.offset, raw, queued_at)
                continue
            try:
                delivery = read_delivery(raw)
                event = ALERT_ENVELOPE.model_validate(
                    {**delivery.attributes, "data": delivery.data}
                )
                address = raw.header("iiz_digest_address")
                if address is None:
                    raise UnroutableError("missing-address", "iiz_digest_address")
                item = item_from_alert(event, address=address.decode())
                item = dataclasses.replace(item, at=queued_at)
            except (UnroutableError, ValidationError, ValueError) as error:
                reason = error.reason if isinstance(error, UnroutableError) else "malformed"
                await self._publish(
                    [
                        (
                            self._dead_letters,
                            dead_letter(raw, reason, error=type(error).__name__, attempts=0),
                        )
                    ]
                )
            else:
                self._deliveries[item.delivery_id] = delivery
                self.book.add(item, position=(tp, record.offset))
            self._read_up_to[tp] = record.offset + 1

    async def _file_notice(
        self, tp: TopicPartition, offset: int, raw: KafkaRecord, queued_at: dt.datetime
    ) -> None:
        try:
            notice = notice_from_record(raw, queued_at)
        except ValueError as error:  # also a JSON error
            bad = dead_letter(raw, "malformed", error=type(error).__name__, attempts=0)
            await self._publish([(self._dead_letters, bad)])
        else:
            self._notices[notice.delivery_id] = raw
            self.book.add(notice, position=(tp, offset))
        self._read_up_to[tp] = offset + 1

    async def flush(self) -> None:
        """Send every digest whose period is over (plus grace)."""
        grace = dt.timedelta(seconds=self._settings.notifications_digest_grace_seconds)
        now = self._clock()
        for digest in self.book.closed(now, grace=grace):
            if self._next_try.get((digest.address, digest.hour), now) <= now:
                await self._send(digest)

    async def _send(self, digest: Digest) -> None:
        s = self._settings
        if digest.letter is Letter.INBOX_NOTICE:
            message = render_notice(
                digest, sender=s.notifications_smtp_sender, inbox_url=s.notifications_inbox_url
            )
        else:
            message = render(
                digest,
                sender=s.notifications_smtp_sender,
                case_page_url=s.notifications_case_page_url,
            )
        try:
            await self._mailer.send(message)
        except MailNotSentError as error:
            key = (digest.address, digest.hour)
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            log.warning("digest not sent", reason=str(error), failures=failures)
            if error.permanent or failures >= s.notifications_smtp_attempts:
                await self._give_up(digest, str(error), failures)
            else:
                await self._report(digest, OutcomeStatus.FAILED, failures, str(error))
                pause = min(SMTP_FIRST_PAUSE * 2 ** (failures - 1), SMTP_LONGEST_PAUSE)
                self._next_try[key] = self._clock() + pause
            return
        attempt = self._failures.pop((digest.address, digest.hour), 0) + 1
        self._next_try.pop((digest.address, digest.hour), None)
        await self._report(digest, OutcomeStatus.DELIVERED, attempt, None)
        self._forget(digest)
        self.sent += 1

    async def _give_up(self, digest: Digest, error: str, attempts: int) -> None:
        dead = [
            (
                self._dead_letters,
                dead_letter(
                    self._record_of(digest.letter, i.delivery_id),
                    "mail-not-sent",
                    error=error,
                    attempts=attempts,
                ),
            )
            for i in digest.items
        ]
        await self._publish(dead)
        await self._report(digest, OutcomeStatus.DEAD_LETTERED, attempts, error)
        key = (digest.address, digest.hour)
        self._failures.pop(key, None)
        self._next_try.pop(key, None)
        self._forget(digest, sent=False)  # a replay of these alerts must be mailed, not skipped

    def _record_of(self, letter: Letter, delivery_id: str) -> KafkaRecord:
        if letter is Letter.INBOX_NOTICE:
            return self._notices[delivery_id]
        return self._deliveries[delivery_id].record

    async def _report(
        self, digest: Digest, status: OutcomeStatus, attempt: int, error: str | None
    ) -> None:
        if digest.letter is Letter.INBOX_NOTICE:
            return  # the delivery's outcome is its own lane's; a notice only points to it
        at = self._clock()
        await self._publish(
            [
                (
                    self._outcomes_topic,
                    outcome_record(
                        self._deliveries[i.delivery_id],
                        DeliveryChannel.EMAIL,
                        status,
                        attempt=attempt,
                        at=at,
                        error=error,
                    ),
                )
                for i in digest.items
            ]
        )

    def _forget(self, digest: Digest, *, sent: bool = True) -> None:
        if sent:
            self.book.mark_sent(digest)
        else:
            self.book.abandon(digest)
        for item in digest.items:
            if digest.letter is Letter.INBOX_NOTICE:
                self._notices.pop(item.delivery_id, None)
            else:
                self._deliveries.pop(item.delivery_id, None)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        safe = self.book.safe_commit_offsets(self._read_up_to)
        assigned = consumer.assignment()
        offsets = {tp: o for tp, o in safe.items() if tp in assigned}
        if offsets:
            await consumer.commit(offsets)

    async def _publish(self, outgoing: list[tuple[str, KafkaRecord]]) -> None:
        futures = [
            await self._producer.send(topic, r.value, key=r.key, headers=list(r.headers))
            for topic, r in outgoing
        ]
        for future in futures:
            await future
