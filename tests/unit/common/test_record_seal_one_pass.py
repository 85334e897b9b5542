"""``seal_record`` reads the headers once: the same split, associated data and refusals as reading
them header by header (``is_sealed``, ``subject_of``, ``_readable``, ``_aad``)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.codec import KafkaRecord, to_kafka
from schemas.events import NoteAdded
from services.common.person_registry import new_subject
from services.common.record_seal import (
    NONCE_BYTES,
    SEALED_HEADER,
    RecordSealError,
    _aad,
    _readable,
    open_record,
    seal_record,
)
from tests.factories import sample_event

SUBJECT = new_subject()
KEY = AESGCM.generate_key(256)


def record_with(*extra: tuple[str, bytes]) -> KafkaRecord:
    plain = to_kafka(
        sample_event(NoteAdded, subject=SUBJECT, partitionkey=SUBJECT, correlationid="c-1")
    )
    return KafkaRecord(plain.key, plain.value, (*plain.headers, *extra))


@pytest.mark.parametrize(
    "extra",
    [
        (),
        (("CE_Subject", b"prs:" + b"0" * 32), ("ce_ID", b"spelled otherwise")),
        (("x-partner", "Zürich".encode()), ("ce_time", b"2026-01-01T00:00:00Z")),
    ],
)
def test_the_sealed_record_is_what_reading_header_by_header_gives(
    extra: tuple[tuple[str, bytes], ...],
) -> None:
    plain = record_with(*extra)

    sealed = seal_record(plain, KEY)

    readable = tuple((n, v) for n, v in plain.headers if _readable(n))
    hidden = [[n, v.decode("latin-1")] for n, v in plain.headers if not _readable(n)]
    assert sealed.headers[: len(readable)] == readable
    assert sealed.headers[len(readable) :] == (
        ("content-type", b"application/octet-stream"),
        (SEALED_HEADER, b"v1"),
    )
    body = sealed.value
    plaintext = AESGCM(KEY).decrypt(
        body[:NONCE_BYTES], body[NONCE_BYTES:], _aad(plain.key, readable)
    )
    listed = json.dumps(hidden, ensure_ascii=False, separators=(",", ":")).encode()
    assert plaintext == len(listed).to_bytes(4, "big") + listed + plain.value
    opened = open_record(sealed, {SUBJECT: KEY})
    assert isinstance(opened, KafkaRecord)
    assert sorted(opened.headers) == sorted(plain.headers)


def test_a_sealed_record_or_one_without_a_subject_is_refused_as_before() -> None:
    plain = record_with()
    unnamed = KafkaRecord(
        plain.key, plain.value, tuple((n, v) for n, v in plain.headers if n != "ce_subject")
    )
    # Only the exact header name names the subject, as ``subject_of`` reads it.
    spelled_otherwise = KafkaRecord(
        unnamed.key, unnamed.value, (*unnamed.headers, ("CE_SUBJECT", SUBJECT.encode()))
    )

    with pytest.raises(RecordSealError, match="sealed already"):
        seal_record(seal_record(plain, KEY), KEY)
    with pytest.raises(RecordSealError, match="sealed already"):
        seal_record(KafkaRecord(None, b"", ((SEALED_HEADER, b"v1"),)), KEY)
    for record in (unnamed, spelled_otherwise):
        with pytest.raises(RecordSealError, match="with a subject"):
            seal_record(record, KEY)
