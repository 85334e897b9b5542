"""Origin check: an event's ``source`` must be a registered institution, and — where the
transport tells who sent it (the intake topic, the authenticated HTTP client) — that one."""

from __future__ import annotations

from typing import Any

from schemas.envelope import CloudEvent
from schemas.errors import SourceMismatchError, UnknownSourceError
from schemas.registry.institutions import Institution, InstitutionRegistry


def check_origin(
    event: CloudEvent[Any],
    registry: InstitutionRegistry,
    *,
    expected_institution_id: str | None,
) -> Institution:
    """The institution that published ``event``, or a ``ContractError`` saying why not.

    ``expected_institution_id`` is the sender the transport vouches for; ``None`` skips that
    comparison (e.g. when replaying the canonical topic).
    """
    institution = registry.by_source.get(event.source)
    if institution is None:
        raise UnknownSourceError(f"source {event.source!r} is no registered institution")
    if expected_institution_id is not None and institution.id != expected_institution_id:
        raise SourceMismatchError(
            f"source {event.source!r} belongs to {institution.id!r}, "
            f"but the message came from {expected_institution_id!r}"
        )
    return institution
