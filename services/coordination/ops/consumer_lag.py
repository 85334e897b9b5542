"""How far coordination's consumer group is behind on the canonical log.

The retention run waits for 0 (ops/retention.py): the projections it judges on show only what the
worker has folded, so a person whose new event still waits on the log would look past retention.
The group's committed offsets are asked of the broker (not of this process's consumer): with
several worker instances each holds only its share of the partitions, and the retention run may be
the ``retention`` command, which has no consumer at all. The consumer edge commits its position,
also past transaction markers while idle, so a worker that has caught up reaches exactly 0.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.common.kafka_clients import create_admin, create_reader, end_offsets
from services.coordination.settings import CoordinationSettings

# Records still to process (0: caught up); asked as often as the caller likes.
Lag = Callable[[], Awaitable[int]]


def behind(ends: dict[TopicPartition, int], committed: dict[TopicPartition, int]) -> int:
    """Records between each partition's committed offset and its end (a partition the group
    never committed counts from 0: the group has not read it)."""
    return sum(max(0, end - max(0, committed.get(tp, 0))) for tp, end in ends.items())


class GroupLag:
    """The group's lag on one topic, with one reader and one admin client kept for the
    ``async with`` block (a retention run asks before every person it erases)."""

    def __init__(self, settings: CoordinationSettings, topic: str, group: str) -> None:
        self._settings = settings
        self._topic = topic
        self._group = group
        self._partitions: list[TopicPartition] = []
        self._reader: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    @classmethod
    def of_worker(cls, settings: CoordinationSettings) -> GroupLag:
        """The worker's group on the canonical log (``iiz.case-events.v1``)."""
        return cls(
            settings, settings.coordination_case_events_topic, settings.coordination_group_id
        )

    async def __aenter__(self) -> GroupLag:
        # end_offsets waits for the topic's metadata; its partitions are what is asked later.
        self._partitions = list(await end_offsets(self._settings, [self._topic]))
        self._reader = create_reader(self._settings)
        self._admin = create_admin(self._settings)
        try:
            await self._reader.start()
            await self._admin.start()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    async def __call__(self) -> int:
        assert self._reader is not None, "async with first"
        assert self._admin is not None, "async with first"
        if not self._partitions:
            return 0
        ends = await self._reader.end_offsets(self._partitions)  # read_committed: stable ends
        offsets = await self._admin.list_consumer_group_offsets(
            self._group, partitions=self._partitions
        )
        committed = {tp: at.offset for tp, at in offsets.items() if at is not None}
        return behind(dict(ends), committed)
