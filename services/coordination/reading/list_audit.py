"""The audit of a list read (Posteingang, worklist, deadlines), audited like a case read.

One row per person the list showed, in the order first shown: subject (the pseudonym), the case
number (the first one shown, if any), the basis and counts, never values. An empty list leaves one
row without subject. All rows of a list go into the chain in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller
from services.coordination.reading.read_store import ReadStore

T = TypeVar("T")


@dataclass(frozen=True)
class PersonShown:
    """What one person's audit row says of the list's lines about them."""

    case_number: str | None
    basis: str | None
    detail: dict[str, Any] = field(default_factory=dict)  # counts only


async def record_list_read(
    store: ReadStore,
    caller: Caller,
    action: str,
    purpose: str,
    shown: Iterable[tuple[str, T]],
    about: Callable[[Sequence[T]], PersonShown],
    *,
    basis: str | None = None,
    **detail: Any,
) -> None:
    """Audit a list read: ``shown`` is (pseudonym, line) in the list's order, ``about`` says
    what a person's row keeps of their lines; ``detail`` (counts, filter) goes into every row,
    ``basis`` into the row of an empty list."""
    by_person: dict[str, list[T]] = {}
    for pseudonym, line in shown:
        by_person.setdefault(pseudonym, []).append(line)
    people: list[tuple[str | None, PersonShown]] = [
        (pseudonym, about(lines)) for pseudonym, lines in by_person.items()
    ] or [(None, PersonShown(case_number=None, basis=basis))]
    await store.record(
        *(
            audit_entry(
                caller,
                action,
                purpose,
                subject=pseudonym,
                case_number=person.case_number,
                basis=person.basis,
                outcome="ok",
                **detail,
                **person.detail,
            )
            for pseudonym, person in people
        )
    )
