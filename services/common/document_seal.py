"""Seals documents for the document store: AES-256-GCM, a random nonce per document, the
document id as associated data, and the key id in front so keys can be rotated: new documents
are sealed under the current key of ``settings.document_keyring``, and a document opens under
whichever version its key id names while the keyring holds it (``ops rekey`` moves the rest).

Intake seals what the web form received; coordination opens it for a reader the policy lets
see the document. Sealed form: ``<key id>:`` + 12-byte nonce + ciphertext with its 16-byte tag.
The key id and the document id, bound in as associated data, make a sealed document moved to
another row (or id) fail to open, like any change of a byte.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import uuid
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.keyring import Keyring

NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(rb"^([a-z0-9]{1,8}):")


class DocumentSealError(ValueError):
    """A sealed document could not be opened or does not match its hash (tampered, wrong key,
    another document's bytes). The message names no content."""


def key_from_setting(value: str) -> bytes:
    """The 32-byte key from its URL-safe base64 form (``IIZ_DOCUMENT_KEY``)."""
    try:
        key = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("IIZ_DOCUMENT_KEY is not URL-safe base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"IIZ_DOCUMENT_KEY must decode to {KEY_BYTES} bytes (AES-256)")
    return key


class HasDocumentKeyring(Protocol):
    """Settings (or anything) that hold the document keyring."""

    @property
    def document_keyring(self) -> Keyring: ...


def key_id_of(sealed: bytes) -> str:
    """The key id in front of a sealed document."""
    found = _KEY_ID.match(sealed[:9])
    if found is None:
        raise DocumentSealError("the sealed document names no key id")
    return found.group(1).decode("ascii")


class DocumentSeal:
    """AES-256-GCM under versioned keys: seals with the current one, opens with the one the
    sealed form names; refuses a key id the keyring does not hold."""

    def __init__(self, keyring: Keyring) -> None:
        for key_id, key in keyring:
            if len(key) != KEY_BYTES:
                raise ValueError(f"a document key has {KEY_BYTES} bytes")
            if not _KEY_ID.match(f"{key_id}:".encode("ascii")):
                raise ValueError("a key id is 1-8 lower-case letters or digits")
        self._key_id = keyring.current_id
        self._aeads = {key_id: AESGCM(key) for key_id, key in keyring}

    @classmethod
    def from_settings(cls, settings: HasDocumentKeyring) -> DocumentSeal:
        return cls(settings.document_keyring)

    @property
    def key_id(self) -> str:
        """The current key id, the one new documents are sealed under."""
        return self._key_id

    def seal(self, document_id: uuid.UUID, content: bytes) -> bytes:
        prefix = f"{self._key_id}:".encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        aead = self._aeads[self._key_id]
        return prefix + nonce + aead.encrypt(nonce, content, prefix + document_id.bytes)

    def _decrypt(self, document_id: uuid.UUID, sealed: bytes) -> bytes:
        key_id = key_id_of(sealed)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DocumentSealError(
                f"sealed under key {key_id!r}, which this keyring does not hold"
            )
        prefix = f"{key_id}:".encode("ascii")
        body = sealed[len(prefix) :]
        nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, ciphertext, prefix + document_id.bytes)
        except (InvalidTag, ValueError):
            raise DocumentSealError("the sealed document was changed or is not this one") from None

    def open(self, document_id: uuid.UUID, sealed: bytes, sha256: str) -> bytes:
        """The content, checked against its SHA-256 (hex) as announced."""
        content = self._decrypt(document_id, sealed)
        if hashlib.sha256(content).hexdigest() != sha256:
            raise DocumentSealError("the document does not match its announced hash")
        return content

    def rekey(self, document_id: uuid.UUID, sealed: bytes) -> bytes:
        """The same document sealed under the current key; unchanged if it already is (the
        GCM tag proves the content is the one sealed, so no hash is needed here)."""
        if key_id_of(sealed) == self._key_id:
            return sealed
        return self.seal(document_id, self._decrypt(document_id, sealed))
