"""The answers intake writes: receipts to the sender, sealed dead letters for operators."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid

from schemas.codec import CONTENT_TYPE, JSON_CONTENT_TYPE, KafkaRecord, to_kafka
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

# What every receipt's headers share, as ``to_kafka`` writes them (tests/unit/intake compare
# every record ``receipt_record`` writes with ``receipt`` + ``to_kafka``).
_SPECVERSION = ("ce_specversion", b"1.0")
_SOURCE = ("ce_source", INTAKE_SOURCE.encode())
_TYPE = ("ce_type", Receipt.cloud_event_type().encode())
_DATASCHEMA = ("ce_dataschema", Receipt.dataschema().encode())
_DATACATEGORY = ("ce_datacategory", Receipt.default_category.value.encode())
_CONTENT_TYPE = (CONTENT_TYPE, JSON_CONTENT_TYPE.encode())
_NAMESPACE = RECEIPT_NAMESPACE.bytes
_MAX_PARTITIONKEY = 200  # CloudEvent.partitionkey
_MAX_CAUSATIONID = 100  # CloudEvent.causationid
_MAX_MESSAGE = 1000  # Receipt.message
_ZERO = dt.timedelta(0)
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


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
        partitionkey=_cut(key, _MAX_PARTITIONKEY),
        causationid=_cut(submission.original_id, _MAX_CAUSATIONID),
        data=data,
    )


def receipt_record(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> KafkaRecord:
    """``to_kafka(receipt(...))``, byte for byte, with the headers and JSON written directly
    (the pydantic envelope cost ≈ 19 µs per receipt). Whatever the direct way cannot vouch for
    as the envelope would (a time not in UTC, text that
    is not UTF-8, an unexpected type) takes the long way, so it is refused exactly as before."""
    record = _direct_receipt(outcome, duplicate=duplicate, now=now)
    if record is None:
        return to_kafka(receipt(outcome, duplicate=duplicate, now=now))
    return record


def _direct_receipt(outcome: Outcome, *, duplicate: bool, now: dt.datetime) -> KafkaRecord | None:
    submission = outcome.submission
    time = _utc_time(now)
    original_id = submission.original_id
    channel = submission.channel
    raw_key = submission.record.key
    if (
        time is None
        or type(channel) is not str
        or (original_id is not None and type(original_id) is not str)
        or (raw_key is not None and type(raw_key) is not bytes)
    ):
        return None
    key = _cut(raw_key.decode("utf-8", "replace") if raw_key else None, _MAX_PARTITIONKEY)
    causation = _cut(original_id, _MAX_CAUSATIONID)
    original_json = "" if original_id is None else f'"original_id":{_json(original_id)},'
    if isinstance(outcome, Accepted):
        event_id = outcome.event.id
        if type(event_id) is not uuid.UUID:
            return None
        status = ReceiptStatus.DUPLICATE if duplicate else ReceiptStatus.ACCEPTED
        canonical = str(event_id)
        basis = canonical
        data = (
            f'{{"status":"{status.value}",{original_json}"canonical_id":"{canonical}",'
            f'"channel":{_json(channel)}}}'
        )
    else:
        reason = outcome.error.reason.value
        message = redact_ahv_numbers(outcome.error.message)[:_MAX_MESSAGE]
        if type(reason) is not str or type(message) is not str:
            return None
        status = ReceiptStatus.REJECTED
        basis = f"{channel}|{original_id}"
        data = (
            f'{{"status":"rejected",{original_json}"reason":{_json(reason)},'
            f'"message":{_json(message)},"channel":{_json(channel)}}}'
        )
    try:
        value = data.encode()
        receipt_id = _uuid5(f"{basis}|{status.value}".encode())
        headers = [
            _SPECVERSION,
            ("ce_id", receipt_id),
            _SOURCE,
            _TYPE,
            ("ce_time", time.encode()),
            _DATASCHEMA,
            _DATACATEGORY,
        ]
        encoded_key = None if key is None else key.encode()
        if encoded_key is not None:
            headers.append(("ce_partitionkey", encoded_key))
        if causation is not None:
            headers.append(("ce_causationid", causation.encode()))
    except UnicodeEncodeError:  # a lone surrogate: the long way refuses it as before
        return None
    headers.append(_CONTENT_TYPE)
    return KafkaRecord(key=encoded_key or None, value=value, headers=tuple(headers))


def _cut(text: str | None, most: int) -> str | None:
    """A sender's id or key as far as the receipt's envelope holds it: a partner may send any
    bytes there, and a receipt that could not be built would hold up every submission after it
    (the ids of valid submissions are UUIDs, far shorter). The receipt's ``original_id`` keeps
    up to 200 characters of the id."""
    return None if text is None else text[:most]


def _json(text: str) -> str:
    """A JSON string as the envelope's serialiser writes it (no ASCII escaping): what
    ``json.dumps(text, ensure_ascii=False)`` gives, without building an encoder per call."""
    return _ENCODE(text)


def _uuid5(name: bytes) -> bytes:
    """``str(uuid.uuid5(RECEIPT_NAMESPACE, name)).encode()`` without the ``uuid.UUID``."""
    digest = bytearray(hashlib.sha1(_NAMESPACE + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}".encode()


def _utc_time(at: dt.datetime) -> str | None:
    """``at`` as the envelope writes it (ISO 8601, ``Z``) if it is in UTC; else None."""
    if type(at) is not dt.datetime or at.tzinfo is None or at.utcoffset() != _ZERO:
        return None
    text = at.isoformat()
    return f"{text[:-6]}Z" if text.endswith("+00:00") else None


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
