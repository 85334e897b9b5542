"""The answers intake writes: receipts to the sender, sealed dead letters for operators."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import CloudEvent
from schemas.receipts import Receipt, ReceiptStatus
from services.common.identity_seal import IdentitySeal
from services.common.logging import redact_ahv_numbers
from services.intake.submission import Accepted, Outcome, Rejected

INTAKE_SOURCE = "/iiz/bl/intake"
RECEIPT_NAMESPACE = uuid.UUID("0d7f4b8e-2a7c-4f43-9b59-62a3c1a0f6de")
# Held here: pydantic caches a parametrised model only weakly, and rebuilt it during a run
# (2.3 % of intake's time in the profiles of docs/benchmarks.md).
RECEIPT_ENVELOPE = CloudEvent[Receipt]


def receipt(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> CloudEvent[Receipt]:
    """The receipt for one outcome; its id is derived so a reprocessed batch repeats it."""
    submission = outcome.submission
    if isinstance(outcome, Accepted):
        data = Receipt(
            status=ReceiptStatus.DUPLICATE if duplicate else ReceiptStatus.ACCEPTED,
            original_id=submission.original_id,
            canonical_id=outcome.event.id,
            channel=submission.channel,
        )
        basis = str(outcome.event.id)
    else:
        data = Receipt(
            status=ReceiptStatus.REJECTED,
            original_id=submission.original_id,
            reason=outcome.error.reason.value,
            message=redact_ahv_numbers(outcome.error.message)[:1000],
            channel=submission.channel,
        )
        basis = f"{submission.channel}|{submission.original_id}"
    key = submission.record.key.decode("utf-8", "replace") if submission.record.key else None
    return RECEIPT_ENVELOPE(
        id=uuid.uuid5(RECEIPT_NAMESPACE, f"{basis}|{data.status.value}"),
        source=INTAKE_SOURCE,
        type=Receipt.cloud_event_type(),
        time=now,
        dataschema=Receipt.dataschema(),
        datacategory=Receipt.default_category,
        partitionkey=key,
        causationid=submission.original_id,
        data=data,
    )


def receipt_record(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> KafkaRecord:
    return to_kafka(receipt(outcome, duplicate=duplicate, now=now))


def dead_letter(rejected: Rejected, seal: IdentitySeal) -> KafkaRecord:
    """The original bytes, sealed (they may hold an AHV number), with the reason in clear."""
    record = rejected.submission.record
    original = json.dumps(
        {
            "key": _b64(record.key),
            "value": _b64(record.value),
            "headers": [[name, _b64(value)] for name, value in record.headers],
        }
    ).encode()
    headers = (
        ("iiz_reason", rejected.error.reason.value.encode()),
        ("iiz_message", redact_ahv_numbers(rejected.error.message).encode()),
        ("iiz_sender", rejected.submission.sender.id.encode()),
        ("iiz_channel", rejected.submission.channel.encode()),
        ("iiz_original_id", (rejected.submission.original_id or "").encode()),
        ("iiz_sealed", seal.key_id.encode()),
    )
    return KafkaRecord(key=None, value=seal.seal_bytes(original), headers=headers)


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")
