"""Finds the subjects the bus knows a person under, from their AHV number.

The one place where an AHV number becomes subjects for reading (case search, access report,
erasure): the person registry's subject, found through the person's lookup under every
pseudonym key version still held (none once the person is erased), then the legacy subjects
(events from before the registry carry the keyed pseudonym itself as their subject).
"""

from __future__ import annotations

import asyncpg

from schemas.ahv import AhvNumber
from services.common.person_registry import lookups_of, subjects_by_lookup
from services.common.settings import CommonSettings


async def subjects_of(
    conn: asyncpg.Connection | asyncpg.Pool, ahv: AhvNumber, settings: CommonSettings
) -> list[str]:
    """Every subject of this person: the registry's first, then the legacy pseudonyms (newest
    key first), without duplicates."""
    lookups = lookups_of(ahv, settings.pseudonym_keyring)
    registered = await subjects_by_lookup(conn, settings.person_db_schema, lookups)
    found: list[str] = []
    for subject in [*(registered[lookup] for lookup in lookups if lookup in registered), *lookups]:
        if subject not in found:
            found.append(subject)
    return found
