"""Canonical records sealed for their person: only the routing envelope stays readable, the
ciphertext is bound to its event and person, an erased person's records say so, and records
from before the registry pass through."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.codec import KafkaRecord, from_kafka, to_kafka
from schemas.events import NoteAdded
from services.common.keyring import Keyring
from services.common.person_registry import PersonKeyError, new_subject, unwrap_key, wrap_key
from services.common.record_seal import (
    SEALED_HEADER,
    Erased,
    RecordSealError,
    UnsealedRecordError,
    open_record,
    seal_record,
)
from tests.factories import sample_event

MARKER = "MARK-" + uuid.uuid4().hex


def person_record(subject: str, **attributes: str) -> KafkaRecord:
    event = sample_event(
        NoteAdded, text=f"Gespräch {MARKER}", subject=subject, partitionkey=subject, **attributes
    )
    return to_kafka(event)


def with_header(record: KafkaRecord, name: str, value: bytes) -> KafkaRecord:
    headers = tuple((n, value if n == name else v) for n, v in record.headers)
    return KafkaRecord(record.key, record.value, headers)


SUBJECT, OTHER = new_subject(), new_subject()
KEY, OTHER_KEY = AESGCM.generate_key(256), AESGCM.generate_key(256)
KEYS: dict[str, bytes | None] = {SUBJECT: KEY, OTHER: OTHER_KEY}


def test_a_sealed_record_opens_to_exactly_the_record_it_was() -> None:
    plain = person_record(SUBJECT, correlationid=f"case {MARKER}", causationid="c-1")

    sealed = seal_record(plain, KEY)
    opened = open_record(sealed, KEYS)

    assert isinstance(opened, KafkaRecord)
    assert opened.key == plain.key
    assert opened.value == plain.value
    assert sorted(opened.headers) == sorted(plain.headers)
    assert from_kafka(opened.key, opened.value, opened.headers) == from_kafka(
        plain.key, plain.value, plain.headers
    )


def test_only_the_routing_envelope_stays_readable() -> None:
    plain = person_record(SUBJECT, correlationid=f"case {MARKER}", causationid=MARKER)

    sealed = seal_record(plain, KEY)

    readable = {n for n, _ in sealed.headers}
    assert readable <= {
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_subject",
        "ce_time",
        "ce_specversion",
        "ce_dataschema",
        "ce_partitionkey",
        "content-type",
        SEALED_HEADER,
    }
    assert {"ce_id", "ce_subject", "ce_type"} <= readable
    raw = sealed.value + b"".join(n.encode() + v for n, v in sealed.headers)
    assert MARKER.encode() not in raw
    assert b"Gespr" not in raw
    assert sealed.header(SEALED_HEADER) == b"v1"


@pytest.mark.parametrize("header", ["ce_subject", "ce_id", "ce_type", "ce_source", "ce_time"])
def test_a_changed_envelope_does_not_open(header: str) -> None:
    sealed = seal_record(person_record(SUBJECT), KEY)
    replacement = {
        "ce_subject": SUBJECT.encode(),  # same subject text, but see the key test below
        "ce_id": str(uuid.uuid4()).encode(),
        "ce_type": b"ch.bl.iiz.case.opened.v1",
        "ce_source": b"/iiz/bl/iv",
        "ce_time": b"2020-01-01T00:00:00Z",
    }[header]
    if header == "ce_subject":
        # Claiming the record for another person (whose key the reader would then use).
        changed = with_header(sealed, header, OTHER.encode())
    else:
        changed = with_header(sealed, header, replacement)

    with pytest.raises(RecordSealError):
        open_record(changed, KEYS)


def test_a_ciphertext_moved_to_another_persons_record_does_not_open() -> None:
    mine, theirs = (
        seal_record(person_record(SUBJECT), KEY),
        seal_record(person_record(OTHER), OTHER_KEY),
    )
    moved = KafkaRecord(theirs.key, mine.value, theirs.headers)

    with pytest.raises(RecordSealError):
        open_record(moved, KEYS)


def test_a_record_sealed_under_another_key_does_not_open() -> None:
    sealed = seal_record(person_record(SUBJECT), OTHER_KEY)

    with pytest.raises(RecordSealError):
        open_record(sealed, KEYS)


def test_an_erased_persons_record_is_erased_not_an_error() -> None:
    record = person_record(SUBJECT)
    sealed = seal_record(record, KEY)

    opened = open_record(sealed, {SUBJECT: None})

    assert opened == Erased(SUBJECT, record.header("ce_id").decode())  # type: ignore[union-attr]


def test_a_sealed_record_whose_person_is_unknown_is_an_error() -> None:
    sealed = seal_record(person_record(SUBJECT), KEY)

    with pytest.raises(RecordSealError, match="no key"):
        open_record(sealed, {})


def test_a_legacy_cleartext_record_passes_through() -> None:
    legacy = person_record("psn:k1:" + "a" * 32)

    assert open_record(legacy, {}) is legacy


@pytest.mark.parametrize("name", ["ce_subject", "CE_Subject"])
def test_a_record_in_clear_for_a_registry_subject_is_refused_not_legacy(name: str) -> None:
    # Every record of a registry person is sealed: one in clear was not written by the bus, and
    # folding it would keep a person's data where erasure cannot reach (or undo an erasure).
    plain = person_record(SUBJECT)
    renamed = KafkaRecord(
        plain.key,
        plain.value,
        tuple((name if n == "ce_subject" else n, v) for n, v in plain.headers),
    )

    with pytest.raises(UnsealedRecordError):
        open_record(renamed, KEYS)
    with pytest.raises(UnsealedRecordError):
        open_record(renamed, {SUBJECT: None})  # erased: not brought back either


def test_an_unknown_format_version_is_an_error() -> None:
    sealed = with_header(seal_record(person_record(SUBJECT), KEY), SEALED_HEADER, b"v9")

    with pytest.raises(RecordSealError, match="format"):
        open_record(sealed, KEYS)


def test_a_record_is_sealed_once() -> None:
    sealed = seal_record(person_record(SUBJECT), KEY)

    with pytest.raises(RecordSealError):
        seal_record(sealed, KEY)


def test_a_wrapped_person_key_opens_only_for_its_subject_and_wrap_key() -> None:
    ring = Keyring("p2", {"p2": AESGCM.generate_key(256), "p1": AESGCM.generate_key(256)})
    wrapped, key_id = wrap_key(ring, SUBJECT, KEY)

    assert key_id == "p2"
    assert unwrap_key(ring, SUBJECT, wrapped, key_id) == KEY
    with pytest.raises(PersonKeyError):
        unwrap_key(ring, OTHER, wrapped, key_id)  # copied to another person's row
    with pytest.raises(PersonKeyError):
        unwrap_key(ring, SUBJECT, wrapped, "p1")  # claimed to be under another wrap key
    with pytest.raises(PersonKeyError, match="no person wrapping key"):
        unwrap_key(Keyring("p1", {"p1": ring.get("p1")}), SUBJECT, wrapped, key_id)
