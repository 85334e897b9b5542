"""Documents are sealed with AES-256-GCM under a key id, bound to their id; any change fails."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from pydantic import SecretStr

from services.common.document_seal import DocumentSeal, DocumentSealError, key_from_setting
from services.common.settings import DEVELOPMENT_DOCUMENT_KEY, CommonSettings

CONTENT = b"%PDF-1.7\nEinwilligung unterschrieben\n%%EOF\n"
HASH = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def seal() -> DocumentSeal:
    return DocumentSeal(b"\x01" * 32, "d1")


def test_a_sealed_document_opens_to_its_content_and_hides_it(seal: DocumentSeal) -> None:
    document_id = uuid.uuid4()

    sealed = seal.seal(document_id, CONTENT)

    assert sealed.startswith(b"d1:")
    assert b"Einwilligung" not in sealed
    assert seal.open(document_id, sealed, HASH) == CONTENT


def test_every_sealing_uses_a_new_nonce(seal: DocumentSeal) -> None:
    document_id = uuid.uuid4()

    assert seal.seal(document_id, CONTENT) != seal.seal(document_id, CONTENT)


def test_a_changed_byte_anywhere_is_detected(seal: DocumentSeal) -> None:
    document_id = uuid.uuid4()
    sealed = seal.seal(document_id, CONTENT)

    for index in range(len(b"d1:"), len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(DocumentSealError):
            seal.open(document_id, bytes(tampered), HASH)


def test_a_sealed_document_under_another_id_does_not_open(seal: DocumentSeal) -> None:
    sealed = seal.seal(uuid.uuid4(), CONTENT)

    with pytest.raises(DocumentSealError, match="changed or is not this one"):
        seal.open(uuid.uuid4(), sealed, HASH)


def test_another_key_or_key_id_does_not_open_it(seal: DocumentSeal) -> None:
    document_id = uuid.uuid4()
    sealed = seal.seal(document_id, CONTENT)

    with pytest.raises(DocumentSealError, match="key 'd1'"):
        DocumentSeal(b"\x01" * 32, "d2").open(document_id, sealed, HASH)
    with pytest.raises(DocumentSealError):
        DocumentSeal(b"\x02" * 32, "d1").open(document_id, sealed, HASH)


def test_a_document_that_does_not_match_its_announced_hash_is_refused(seal: DocumentSeal) -> None:
    document_id = uuid.uuid4()
    sealed = seal.seal(document_id, CONTENT)

    with pytest.raises(DocumentSealError, match="announced hash"):
        seal.open(document_id, sealed, hashlib.sha256(b"other").hexdigest())


def test_the_key_setting_must_be_32_bytes_of_base64() -> None:
    assert len(key_from_setting(DEVELOPMENT_DOCUMENT_KEY)) == 32
    for wrong in ("", "abc", "c2hvcnQ="):
        with pytest.raises(ValueError, match="IIZ_DOCUMENT_KEY"):
            key_from_setting(wrong)


def test_production_refuses_the_development_document_key() -> None:
    with pytest.raises(ValueError, match="IIZ_DOCUMENT_KEY"):
        CommonSettings(
            environment="production",
            kafka_security_protocol="SASL_SSL",
            kafka_username="u",
            kafka_password=SecretStr("p"),
            kafka_bootstrap_servers="kafka:9093",
            database_url="postgresql://iiz@db/iiz",
            pseudonym_key=SecretStr("p" * 40),
            identity_key=SecretStr("Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI="),
        )
