"""The partners' inboxes: every institution's delivery topic, read from where the simulation
started. Receipts (``original_id``) go to the driver's waiting submissions; everything else is
kept as a received delivery, raw, for the comparison with the expected model.

Until notifications writes the partner topics, the same deliveries (with sealed instead of
clear AHV numbers) can be read from ``iiz.deliveries.v1``: pass ``delivery_topics=[DELIVERIES]``.

With ``as_partner`` (see ``simulator.credentials.partner_settings``) each institution reads only
its own delivery topic, as its own principal, with a consumer group under its own prefix
(``<id>.simulator``, where it also commits how far it read when it stops), as a partner's system
would; without it one reader (e.g. as ``admin``) reads every topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.receipts import Receipt
from schemas.registry.institutions import InstitutionRegistry
from services.common.kafka_clients import create_reader, end_offsets
from services.common.settings import CommonSettings
from simulator.credentials import PartnerSettings

RECEIPT_TYPE = Receipt.cloud_event_type()
FORM_CHANNEL = "http:formular/"


@dataclass(frozen=True)
class ReceivedDelivery:
    """One record as a partner read it from a delivery topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    received_at: dt.datetime

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        raw = next((v for k, v in self.headers if k.lower() == wanted), None)
        return None if raw is None else raw.decode("utf-8", "replace")


class PartnerInboxes:
    """Reads the delivery topics of all institutions (and, optionally, other delivery topics)."""

    def __init__(
        self,
        settings: CommonSettings,
        registry: InstitutionRegistry,
        *,
        delivery_topics: Sequence[str] | None = None,
        as_partner: PartnerSettings | None = None,
    ) -> None:
        self._settings = settings
        self._as_partner = as_partner
        self._owner = {i.delivery_topic: i.id for i in registry.institutions}
        self.receipt_topics = frozenset(self._owner)
        self.delivery_topics = frozenset(delivery_topics or self.receipt_topics)
        if as_partner is not None and not self.delivery_topics <= self.receipt_topics:
            raise ValueError("a partner reads only its own delivery topic, not the bus's topics")
        self.deliveries: list[ReceivedDelivery] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._unclaimed: dict[str, dict[str, Any]] = {}
        # The receipts of web form submissions, by channel (``http:formular/<request>/<n>``):
        # one submission makes several events, each answered with its own receipt.
        self._form_receipts: dict[str, dict[str, Any]] = {}
        self._consumers: dict[str, AIOKafkaConsumer] = {}  # by topic
        self._tasks: list[asyncio.Task[None]] = []
        self._grouped: list[AIOKafkaConsumer] = []  # those that commit at stop
        self._arrived = asyncio.Condition()

    def _readers(self) -> list[tuple[str | None, CommonSettings, list[str]]]:
        """(group, settings, the topics that reader reads); settings hold keyrings (dicts), so
        they cannot be dictionary keys."""
        topics = sorted(self.receipt_topics | self.delivery_topics)
        if self._as_partner is None:
            return [(None, self._settings, topics)]
        return [
            (f"{self._owner[t]}.simulator", self._as_partner(self._owner[t]), [t]) for t in topics
        ]

    async def start(self, start: Mapping[TopicPartition, int] | None = None) -> None:
        """Assign every partition, starting at ``start`` or else at the current end."""
        for group, settings, topics in self._readers():
            positions = (
                {tp: at for tp, at in start.items() if tp.topic in topics}
                if start is not None
                else await end_offsets(settings, topics)
            )
            consumer = create_reader(settings, group_id=group)
            await consumer.start()
            consumer.assign(list(positions))
            for partition, offset in positions.items():
                consumer.seek(partition, offset)
            self._consumers.update(dict.fromkeys(topics, consumer))
            if group is not None:
                self._grouped.append(consumer)
            self._tasks.append(asyncio.create_task(self._read(consumer)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for consumer in {id(c): c for c in self._consumers.values()}.values():
            try:
                if consumer in self._grouped:  # the partner remembers how far it read
                    await consumer.commit()
            finally:
                await consumer.stop()

    async def __aenter__(self) -> PartnerInboxes:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def expect_receipt(self, original_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the receipt of a submission; ask before sending, so none is missed."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if original_id in self._unclaimed:
            future.set_result(self._unclaimed.pop(original_id))
        else:
            self._waiting[original_id] = future
        return future

    async def form_receipts(
        self, original_id: str, parts: int, *, within: float
    ) -> list[dict[str, Any]] | None:
        """The receipts of every event of the web form submission whose event ``original_id``
        (shown on the form's receipt page) is one of ``parts`` events, in the form's order;
        None if they do not all arrive ``within`` seconds."""

        def found() -> list[dict[str, Any]] | None:
            known = next(
                (r for r in self._form_receipts.values() if r.get("original_id") == original_id),
                None,
            )
            if known is None:
                return None
            submission = str(known["channel"]).rpartition("/")[0]
            answers = [self._form_receipts.get(f"{submission}/{n}") for n in range(parts)]
            return None if None in answers else [a for a in answers if a is not None]

        async with self._arrived:
            try:
                await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), within)
            except TimeoutError:
                return None
        return found()

    def forget_receipt(self, original_id: str) -> None:
        self._waiting.pop(original_id, None)

    async def wait_until(
        self, condition: Callable[[list[ReceivedDelivery]], bool], *, within: float
    ) -> bool:
        """Wait until ``condition(deliveries)`` holds (re-checked on every arrival)."""
        async with self._arrived:
            try:
                await asyncio.wait_for(
                    self._arrived.wait_for(lambda: condition(self.deliveries)), within
                )
            except TimeoutError:
                return False
        return True

    async def caught_up(self, ends: Mapping[TopicPartition, int], *, within: float) -> bool:
        """Whether the reader has passed ``ends`` (positions, so transaction markers count)."""
        assert self._consumers, "start() first"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            behind = [
                tp for tp, end in ends.items() if await self._consumers[tp.topic].position(tp) < end
            ]
            if not behind:
                return True
            if loop.time() > deadline:
                return False
            async with self._arrived:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._arrived.wait(), 0.5)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                now = dt.datetime.now(dt.UTC)
                for records in batch.values():
                    for record in records:
                        self._take(record, now)
                async with self._arrived:
                    self._arrived.notify_all()
        except Exception as error:  # the waiting submissions must learn why nothing comes
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(error)
            raise

    def _take(self, record: Any, now: dt.datetime) -> None:
        headers = tuple((name, value or b"") for name, value in record.headers)
        received = ReceivedDelivery(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value or b"",
            headers,
            now,
        )
        if record.topic in self.receipt_topics and received.header("ce_type") == RECEIPT_TYPE:
            answer = json.loads(received.value)
            if str(answer.get("channel", "")).startswith(FORM_CHANNEL):
                self._form_receipts[str(answer["channel"])] = answer
                return
            original_id = str(answer.get("original_id"))
            future = self._waiting.pop(original_id, None)
            if future is None:
                self._unclaimed[original_id] = answer  # e.g. the copy of an HTTP answer
            elif not future.done():
                future.set_result(answer)
        elif record.topic in self.delivery_topics:
            self.deliveries.append(received)
