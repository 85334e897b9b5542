"""Seals documents for the document store: AES-256-GCM, a random nonce per document, the
document id as associated data, and the key id in front so keys can be rotated.

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
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


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


class DocumentSeal:
    """AES-256-GCM under one key id; ``open`` refuses a document sealed under another."""

    def __init__(self, key: bytes, key_id: str) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a document key has {KEY_BYTES} bytes")
        if not key_id or ":" in key_id:
            raise ValueError("a key id is not empty and has no colon")
        self._aead = AESGCM(key)
        self._prefix = f"{key_id}:".encode("ascii")

    @classmethod
    def from_setting(cls, value: str, key_id: str) -> DocumentSeal:
        return cls(key_from_setting(value), key_id)

    def seal(self, document_id: uuid.UUID, content: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            self._prefix
            + nonce
            + self._aead.encrypt(nonce, content, self._prefix + document_id.bytes)
        )

    def open(self, document_id: uuid.UUID, sealed: bytes, sha256: str) -> bytes:
        """The content, checked against its SHA-256 (hex) as announced."""
        if not sealed.startswith(self._prefix):
            key_id = sealed.partition(b":")[0][:8].decode("ascii", errors="replace")
            raise DocumentSealError(f"sealed with key {key_id!r}, not with this one")
        body = sealed[len(self._prefix) :]
        nonce, ciphertext = body[:NONCE_BYTES], body[NONCE_BYTES:]
        try:
            content = self._aead.decrypt(nonce, ciphertext, self._prefix + document_id.bytes)
        except (InvalidTag, ValueError):
            raise DocumentSealError("the sealed document was changed or is not this one") from None
        if hashlib.sha256(content).hexdigest() != sha256:
            raise DocumentSealError("the document does not match its announced hash")
        return content
