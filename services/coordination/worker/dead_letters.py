"""Dead letters of case events on ``iiz.coordination.rejected.v1``: the original record as the
log holds it (a person's record still sealed under their key, so erasure covers the dead letter
too), sealed with the identity key, and its reason, position and id in readable headers. A
resent dead letter carries the same id (derived from the record's position)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer

from schemas.topics import COORDINATION_REJECTED
from services.common.consumer_edge import ConsumedRecord
from services.common.identity_seal import IdentitySeal
from services.common.logging import redact_ahv_numbers
from services.coordination.worker.effects import Poison

log = structlog.get_logger(__name__)


async def send_dead_letters(
    producer: AIOKafkaProducer, seal: IdentitySeal, poison: Sequence[Poison]
) -> None:
    """Send every dead letter and wait until the broker acknowledged all of them."""
    if not poison:
        return
    futures = [
        await producer.send(
            COORDINATION_REJECTED,
            key=str(p.record.poison_id).encode(),
            value=seal.seal_bytes(original(p.record.on_log)),
            headers=headers(p, seal.key_id),
        )
        for p in poison
    ]
    for future in futures:
        await future
    log.warning("dead-lettered case events", count=len(poison))


def headers(poison: Poison, key_id: str) -> list[tuple[str, bytes]]:
    r = poison.record
    return [
        ("iiz_reason", poison.reason.encode()),
        ("iiz_message", redact_ahv_numbers(poison.message).encode()),
        ("iiz_topic", r.topic.encode()),
        ("iiz_partition", str(r.partition).encode()),
        ("iiz_offset", str(r.offset).encode()),
        ("iiz_dead_letter_id", str(r.poison_id).encode()),
        ("iiz_sealed", key_id.encode()),
    ]


def original(record: ConsumedRecord) -> bytes:
    """The record's key, value and headers as JSON (base64), to be sealed. Pass it as the log
    holds it (``BusRecord.on_log``): a person's record stays sealed under their own key."""
    return json.dumps(
        {
            "key": _b64(record.key),
            "value": _b64(record.value),
            "headers": [[name, _b64(value)] for name, value in record.headers],
        }
    ).encode()


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")
