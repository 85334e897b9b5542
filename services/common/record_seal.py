"""Seals a canonical record for its person (crypto-shredding): the value and every header that
can carry personal data are AES-256-GCM under the person's own key, so erasing the key makes the
person's records on the immutable log unreadable.

Readable stay only the routing headers (``ce_`` id, source, type, subject, time, specversion,
dataschema, partitionkey) and the Kafka key (the subject): a worker can tell whose record it is
and which key opens it. Everything else (correlation and causation ids, which partners fill with
their own case references, any other attribute, the content type) travels inside the sealed
value. Associated data binds the ciphertext to the readable envelope (event id, subject, type,
source, time, key), so a sealed value moved to another event or person, or an envelope changed,
does not open.

Sealed form: header ``iiz-sealed: v1``, ``content-type: application/octet-stream``, value =
12-byte nonce ‖ AES-GCM(plaintext) where plaintext = 4-byte length ‖ JSON list of the sealed
headers (values as Latin-1, which carries any bytes) ‖ the original value. ``open_record``
returns the record as it was before sealing, so ``from_kafka`` reads it unchanged; records
without the header pass through as they are only for legacy subjects (``psn:``, from before the
registry): an unsealed record naming a registry subject is refused.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.codec import CE_PREFIX, CONTENT_TYPE, KafkaRecord
from services.common.person_registry import is_registry_subject

SEALED_HEADER = "iiz-sealed"
FORMAT_VERSION = b"v1"
SEALED_CONTENT_TYPE = b"application/octet-stream"
NONCE_BYTES = 12
_LENGTH_BYTES = 4
# The routing envelope: who, what kind, when. Nothing else stays readable. Every one of these is
# set by the bus, never taken from a partner as text (intake's ``canonicalise``: dataschema is the
# event type's own schema URI), so no free text of a person stays readable once the key is gone.
READABLE_ATTRIBUTES = frozenset(
    {"id", "source", "type", "subject", "time", "specversion", "dataschema", "partitionkey"}
)
_BOUND_ATTRIBUTES = ("id", "subject", "type", "source", "time")


class RecordSealError(ValueError):
    """A sealed record that cannot be opened although its person's key exists (changed bytes,
    moved to another event or person, unknown format, no subject). The message names no
    content."""


class UnsealedRecordError(RecordSealError):
    """A record in clear that names a registry (``prs:``) subject: every record of a registry
    person is sealed, so this one was not written by the bus (or the seal was stripped). Only
    legacy ``psn:`` records may be in clear; taking this one would fold a person's data that
    erasure cannot reach, or bring an erased person back."""


@dataclass(frozen=True)
class Erased:
    """The record's person was erased: their key is gone, the record can never be read."""

    subject: str
    event_id: str


def is_sealed(record: KafkaRecord) -> bool:
    return record.header(SEALED_HEADER) is not None


def subject_of(headers: Iterable[tuple[str, bytes]]) -> str | None:
    """The readable subject in a record's headers (sealed or not), or None."""
    raw = next((v for n, v in headers if n == f"{CE_PREFIX}subject"), None)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def _readable(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith(CE_PREFIX) and lowered[len(CE_PREFIX) :] in READABLE_ATTRIBUTES


_SUBJECT_HEADER = f"{CE_PREFIX}subject"


def _aad(key: bytes | None, readable: Iterable[tuple[str, bytes]]) -> bytes:
    return _aad_of(key, {name.lower(): value for name, value in readable})


def _aad_of(key: bytes | None, headers: Mapping[str, bytes]) -> bytes:
    """Associated data from the readable headers by lower-cased name (the last of a name wins)."""
    bound = [headers.get(f"{CE_PREFIX}{a}", b"").hex() for a in _BOUND_ATTRIBUTES]
    return b"|".join([b"iiz-case-event", FORMAT_VERSION, *(b.encode() for b in bound)]) + (
        b"|" + (key or b"").hex().encode()
    )


def seal_record(record: KafkaRecord, person_key: bytes) -> KafkaRecord:
    """The record sealed under its person's key (the record names the person: ``ce_subject``)."""
    # One pass over the headers: the checks of ``is_sealed``/``subject_of``, the split into
    # readable and sealed headers, and the associated data's inputs.
    readable: list[tuple[str, bytes]] = []
    by_name: dict[str, bytes] = {}
    hidden: list[list[str]] = []
    named = False
    for name, value in record.headers:
        if name == SEALED_HEADER:
            raise RecordSealError("the record is sealed already")
        if name == _SUBJECT_HEADER:
            named = True
        lowered = name.lower()
        if lowered.startswith(CE_PREFIX) and lowered[len(CE_PREFIX) :] in READABLE_ATTRIBUTES:
            readable.append((name, value))
            by_name[lowered] = value
        else:
            hidden.append([name, value.decode("latin-1")])
    if not named:
        raise RecordSealError("only a record with a subject can be sealed for its person")
    listed = json.dumps(hidden, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    plaintext = len(listed).to_bytes(_LENGTH_BYTES, "big") + listed + record.value
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + AESGCM(person_key).encrypt(nonce, plaintext, _aad_of(record.key, by_name))
    headers = (*readable, (CONTENT_TYPE, SEALED_CONTENT_TYPE), (SEALED_HEADER, FORMAT_VERSION))
    return KafkaRecord(key=record.key, value=sealed, headers=headers)


def open_record(record: KafkaRecord, keys: Mapping[str, bytes | None]) -> KafkaRecord | Erased:
    """The plain record, or ``Erased`` when its person's key is gone (``keys[subject]`` is None).

    ``keys`` maps subjects to person keys (``person_registry.keys_of``). A record without the
    ``iiz-sealed`` header is returned unchanged if it is a legacy one (a ``psn:`` subject, from
    before the registry); one naming a registry subject is ``UnsealedRecordError`` (fail
    closed)."""
    version = record.header(SEALED_HEADER)
    if version is None:
        named = (
            v.decode("utf-8", errors="replace")
            for n, v in record.headers
            if n.lower() == f"{CE_PREFIX}subject"
        )
        if any(is_registry_subject(s.strip()) for s in named):  # any spelling, any copy
            raise UnsealedRecordError("a record in clear names a person of the registry")
        return record
    if version != FORMAT_VERSION:
        raise RecordSealError("the record is sealed in a format this bus does not know")
    subject = subject_of(record.headers)
    if subject is None:
        raise RecordSealError("a sealed record names no subject")
    if subject not in keys:
        raise RecordSealError("the person registry holds no key for the record's subject")
    key = keys[subject]
    if key is None:
        raw_id = record.header(f"{CE_PREFIX}id") or b""
        return Erased(subject, raw_id.decode("utf-8", errors="replace"))
    readable = tuple((n, v) for n, v in record.headers if _readable(n))
    body = record.value
    try:
        plaintext = AESGCM(key).decrypt(
            body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(record.key, readable)
        )
        length = int.from_bytes(plaintext[:_LENGTH_BYTES], "big")
        listed = json.loads(plaintext[_LENGTH_BYTES : _LENGTH_BYTES + length])
        hidden = tuple((str(n), str(v).encode("latin-1")) for n, v in listed)
    except (InvalidTag, ValueError, TypeError):
        raise RecordSealError("the sealed record does not open for its envelope") from None
    value = plaintext[_LENGTH_BYTES + length :]
    return KafkaRecord(key=record.key, value=value, headers=(*readable, *hidden))


def event_id_of(record: KafkaRecord) -> uuid.UUID | None:
    """The readable event id of a record, if it is a UUID."""
    raw = record.header(f"{CE_PREFIX}id")
    try:
        return None if raw is None else uuid.UUID(raw.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
