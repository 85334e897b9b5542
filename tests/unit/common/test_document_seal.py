"""Documents are sealed with AES-256-GCM under a key id, bound to their id; any change fails;
the current key seals, every key of the keyring opens what names it."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from pydantic import SecretStr

from services.common.document_seal import (
    DocumentSeal,
    DocumentSealError,
    key_from_setting,
    key_id_of,
)
from services.common.keyring import Keyring
from services.common.settings import DEVELOPMENT_DOCUMENT_KEY, CommonSettings

CONTENT = b"%PDF-1.7\nEinwilligung unterschrieben\n%%EOF\n"
HASH = hashlib.sha256(CONTENT).hexdigest()


@pytest.fixture
def seal() -> DocumentSeal:
    return one_key(b"\x01" * 32, "d1")


def one_key(key: bytes, key_id: str) -> DocumentSeal:
    return DocumentSeal(Keyring(key_id, {key_id: key}))


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
        one_key(b"\x01" * 32, "d2").open(document_id, sealed, HASH)
    with pytest.raises(DocumentSealError):
        one_key(b"\x02" * 32, "d1").open(document_id, sealed, HASH)


ROTATED = Keyring("d2", {"d2": b"\x02" * 32, "d1": b"\x01" * 32})


def test_after_a_rotation_new_documents_are_sealed_under_the_current_key(
    seal: DocumentSeal,
) -> None:
    rotated = DocumentSeal(ROTATED)

    sealed = rotated.seal(uuid.uuid4(), CONTENT)

    assert rotated.key_id == "d2"
    assert key_id_of(sealed) == "d2"


def test_a_document_sealed_under_a_previous_key_still_opens(seal: DocumentSeal) -> None:
    document_id = uuid.uuid4()
    old = seal.seal(document_id, CONTENT)

    assert DocumentSeal(ROTATED).open(document_id, old, HASH) == CONTENT


def test_rekey_moves_a_document_to_the_current_key_once(seal: DocumentSeal) -> None:
    rotated = DocumentSeal(ROTATED)
    document_id = uuid.uuid4()
    old = seal.seal(document_id, CONTENT)

    moved = rotated.rekey(document_id, old)

    assert key_id_of(moved) == "d2"
    assert rotated.rekey(document_id, moved) is moved, "already current: unchanged"
    retired = one_key(b"\x02" * 32, "d2")
    assert retired.open(document_id, moved, HASH) == CONTENT
    with pytest.raises(DocumentSealError, match="does not hold"):
        retired.open(document_id, old, HASH)


def test_rekey_refuses_a_document_bound_to_another_id(seal: DocumentSeal) -> None:
    old = seal.seal(uuid.uuid4(), CONTENT)

    with pytest.raises(DocumentSealError, match="changed or is not this one"):
        DocumentSeal(ROTATED).rekey(uuid.uuid4(), old)


def test_a_sealed_form_without_a_key_id_is_refused_without_its_content() -> None:
    for junk in (b"", b"no key id at all", b"TOOLONGKEYID:abc", CONTENT):
        with pytest.raises(DocumentSealError) as refused:
            DocumentSeal(ROTATED).open(uuid.uuid4(), junk, HASH)
        assert "Einwilligung" not in str(refused.value)


def test_the_settings_keyring_holds_the_previous_document_keys() -> None:
    old = CommonSettings(environment="test")
    new = CommonSettings(
        environment="test",
        document_key=SecretStr("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="),
        document_key_id="d2",
        document_previous_keys={"d1": old.document_key},
    )
    document_id = uuid.uuid4()
    sealed = DocumentSeal.from_settings(old).seal(document_id, CONTENT)

    assert DocumentSeal.from_settings(new).open(document_id, sealed, HASH) == CONTENT
    assert key_id_of(DocumentSeal.from_settings(new).seal(document_id, CONTENT)) == "d2"


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
