"""Seals AHV numbers for the one service allowed to hold them (coordination).

Intake seals, coordination unseals; on every topic in between only the sealed form travels.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from schemas.ahv import AhvNumber


class IdentitySealError(ValueError):
    """A sealed identity could not be opened (wrong key id, tampered or foreign token)."""


class IdentitySeal:
    """Fernet (AES-128-CBC + HMAC-SHA-256) with a key id, so keys can be rotated."""

    def __init__(self, key: str, key_id: str) -> None:
        self._fernet = Fernet(key.encode("ascii"))
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        return self._key_id

    def seal_bytes(self, raw: bytes) -> bytes:
        """Seal arbitrary bytes (dead letters that may contain an AHV number)."""
        return self._fernet.encrypt(raw)

    def unseal_bytes(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken:
            raise IdentitySealError("the sealed bytes are invalid or were tampered with") from None

    def seal(self, ahv: AhvNumber) -> str:
        return f"{self._key_id}:{self._fernet.encrypt(ahv.digits.encode('ascii')).decode('ascii')}"

    def unseal(self, sealed: str) -> AhvNumber:
        key_id, _, token = sealed.partition(":")
        if key_id != self._key_id:
            raise IdentitySealError(f"sealed with key {key_id!r}, this seal holds {self._key_id!r}")
        try:
            return AhvNumber(self._fernet.decrypt(token.encode("ascii")).decode("ascii"))
        except InvalidToken:
            raise IdentitySealError("the sealed identity is invalid or was tampered with") from None
