"""Sends dead-lettered deliveries again, once the partner is back (operators' command).

Reads ``iiz.notifications.dead-letters.v1`` from the start to its current end, picks one
recipient's dead letters and publishes them unchanged (same delivery id, AHV number still sealed)
to ``iiz.deliveries.v1``; the lanes then deliver them like any other. Partners de-duplicate by
delivery id, so replaying twice is harmless.
"""

from __future__ import annotations

import datetime as dt

from aiokafka import TopicPartition

from schemas.topics import DELIVERIES, NOTIFICATIONS_DEAD_LETTERS
from services.common.kafka_clients import create_producer, create_reader, end_offsets
from services.notifications.settings import NotificationsSettings


async def replay_dead_letters(
    settings: NotificationsSettings,
    recipient: str,
    *,
    source: str = NOTIFICATIONS_DEAD_LETTERS,
    target: str = DELIVERIES,
    since: dt.datetime | None = None,
) -> int:
    """Replays ``recipient``'s dead letters (those written at or after ``since``, if given)."""
    since_ms = int(since.timestamp() * 1000) if since else 0
    ends = await end_offsets(settings, [source])
    reader = create_reader(settings)
    producer = create_producer(settings)
    await reader.start()
    await producer.start()
    replayed = 0
    try:
        reader.assign(list(ends))
        starts = await reader.beginning_offsets(list(ends))  # retention may have moved them
        for tp, start in starts.items():
            reader.seek(tp, start)
        done: set[TopicPartition] = {tp for tp, end in ends.items() if starts[tp] >= end}
        while len(done) < len(ends):
            for tp, records in (await reader.getmany(timeout_ms=1000)).items():
                for record in records:
                    if record.offset >= ends[tp] or record.timestamp < since_ms:
                        continue
                    headers = [(k, v) for k, v in record.headers if not k.startswith("iiz_")]
                    if dict(headers).get("ce_recipient") == recipient.encode():
                        await producer.send_and_wait(
                            target, record.value, key=record.key, headers=headers
                        )
                        replayed += 1
                if records and records[-1].offset >= ends[tp] - 1:
                    done.add(tp)
    finally:
        await reader.stop()
        await producer.stop()
    return replayed
