"""Finds the subjects the bus knows a person under, from their AHV number.

The one place where an AHV number becomes subjects for reading (case search, access report,
erasure). Today: the keyed pseudonym under every pseudonym key still held; the person registry
(crypto-shredding, issue 17) adds its lookups here.
"""

from __future__ import annotations

import asyncpg

from schemas.ahv import AhvNumber, pseudonymise
from services.common.settings import CommonSettings


async def subjects_of(
    conn: asyncpg.Connection | asyncpg.Pool, ahv: AhvNumber, settings: CommonSettings
) -> list[str]:
    """Every subject of this person, newest key first, without duplicates."""
    del conn  # the registry's lookup table comes here
    found: list[str] = []
    for key_id, key in settings.pseudonym_keyring:
        subject = pseudonymise(ahv, key, key_id)
        if subject not in found:
            found.append(subject)
    return found
