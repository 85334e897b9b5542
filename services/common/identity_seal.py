"""Seals AHV numbers for the services allowed to hold them: intake seals, notifications opens
(for a partner whose delivery may carry identity), and what is kept sealed stays sealed.

On every topic in between only the sealed form travels: ``<key id>:<Fernet token>``. The key id
names a version of the identity key (``settings.identity_keyring``): new seals use the current
one, and anything sealed under a version the keyring still holds opens, so ``ops rekey`` can
move stored data to a new version while the services keep running.
"""

from __future__ import annotations

import re
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken

from schemas.ahv import AhvNumber
from services.common.keyring import Keyring

_KEY_ID = re.compile(r"^[a-z0-9]{1,8}$")


class IdentitySealError(ValueError):
    """A sealed identity could not be opened (unknown or retired key id, tampered or foreign
    token). The message names no content."""


class HasIdentityKeyring(Protocol):
    """Settings (or anything) that hold the identity keyring."""

    @property
    def identity_keyring(self) -> Keyring: ...


def key_id_of(sealed: str) -> str:
    """The key id in front of a sealed identity (never any of its content)."""
    key_id, colon, _ = sealed.partition(":")
    if not colon or not _KEY_ID.match(key_id):
        raise IdentitySealError("the sealed identity names no key id")
    return key_id


class IdentitySeal:
    """Fernet (AES-128-CBC + HMAC-SHA-256) under versioned keys: seals with the current one,
    opens with the one the sealed form names."""

    def __init__(self, keyring: Keyring) -> None:
        self._key_id = keyring.current_id
        self._fernets = {key_id: Fernet(key) for key_id, key in keyring}

    @classmethod
    def from_settings(cls, settings: HasIdentityKeyring) -> IdentitySeal:
        return cls(settings.identity_keyring)

    @property
    def key_id(self) -> str:
        """The current key id: what ``seal`` and ``seal_bytes`` use (name it beside raw bytes)."""
        return self._key_id

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id this seal can open."""
        return frozenset(self._fernets)

    def _fernet(self, key_id: str) -> Fernet:
        try:
            return self._fernets[key_id]
        except KeyError:
            raise IdentitySealError(
                f"sealed under key {key_id[:8]!r}, which this keyring does not hold"
            ) from None

    def seal_bytes(self, raw: bytes) -> bytes:
        """Seal arbitrary bytes (dead letters that may contain an AHV number) under the current
        key; the caller stores ``key_id`` beside them (the ``iiz_sealed`` header)."""
        return self._fernets[self._key_id].encrypt(raw)

    def unseal_bytes(self, sealed: bytes, key_id: str) -> bytes:
        """Open bytes sealed under ``key_id`` (the ``iiz_sealed`` header stored beside them)."""
        fernet = self._fernet(key_id)
        try:
            return fernet.decrypt(sealed)
        except InvalidToken:
            raise IdentitySealError("the sealed bytes are invalid or were tampered with") from None

    def seal(self, ahv: AhvNumber) -> str:
        token = self._fernets[self._key_id].encrypt(ahv.digits.encode("ascii"))
        return f"{self._key_id}:{token.decode('ascii')}"

    def unseal(self, sealed: str) -> AhvNumber:
        key_id = key_id_of(sealed)
        fernet, token = self._fernet(key_id), sealed[len(key_id) + 1 :]
        try:
            return AhvNumber(fernet.decrypt(token.encode("ascii")).decode("ascii"))
        except (InvalidToken, UnicodeError, ValueError):
            raise IdentitySealError("the sealed identity is invalid or was tampered with") from None

    def rekey(self, sealed: str) -> str:
        """The same identity sealed under the current key; unchanged if it already is."""
        if key_id_of(sealed) == self._key_id:
            return sealed
        return self.seal(self.unseal(sealed))
