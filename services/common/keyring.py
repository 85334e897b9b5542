"""Versioned keys: the current one that seals or hashes new data, and the previous ones that
still open (or find) what was written under them until ``ops rekey`` has moved every row.

A keyring is built from settings (the current key and its id, plus a JSON object of previous
ids → keys). Retiring a version means removing it from the previous keys once ``ops keys
status`` reports that no stored row uses it any more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr


class UnknownKeyError(LookupError):
    """Data names a key id this keyring does not hold (retired, or from another deployment)."""


@dataclass(frozen=True)
class Keyring:
    """The current key id and every key still held, by id (the current one included)."""

    current_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        if self.current_id not in self.keys:
            raise ValueError(f"the keyring does not hold its current key {self.current_id!r}")

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    @property
    def previous_ids(self) -> tuple[str, ...]:
        return tuple(sorted(k for k in self.keys if k != self.current_id))

    def get(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise UnknownKeyError(f"no key {key_id[:8]!r} in this keyring") from None

    def __iter__(self) -> Iterator[tuple[str, bytes]]:
        """Every (id, key), the current one first: lookups try the newest version first."""
        yield self.current_id, self.current
        for key_id in self.previous_ids:
            yield key_id, self.keys[key_id]


def keyring_from_settings(
    current: SecretStr,
    current_id: str,
    previous: Mapping[str, SecretStr],
    *,
    decode: Callable[[str], bytes],
) -> Keyring:
    """A keyring from the settings' secrets; ``decode`` turns each secret into key bytes."""
    if current_id in previous:
        raise ValueError(f"key id {current_id!r} is both current and previous")
    keys = {key_id: decode(secret.get_secret_value()) for key_id, secret in previous.items()}
    keys[current_id] = decode(current.get_secret_value())
    return Keyring(current_id=current_id, keys=keys)
