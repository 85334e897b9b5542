"""Reading a case, the same way for every door (the JSON API and the German pages).

Each function checks access, reads in one snapshot (refolding a past state where asked), lets
the policy's decisions minimise what is shown, and leaves exactly one audit row — granted or
refused. ``None`` means "no such case visible to the caller" (its refusal is already audited);
each door answers that its own way (404 problem, German 404 page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.summary import CaseSummary, summarise
from services.coordination.reading import queries
from services.coordination.reading.access import (
    Granted,
    admit,
    audit_entry,
    check_access,
    check_person_access,
)
from services.coordination.reading.caller import Caller
from services.coordination.reading.queries import CaseRow, TimelineFilter
from services.coordination.reading.read_store import ReadStore
from services.coordination.reading.timeline import (
    TimelineEntry,
    TimelinePage,
    timeline_basis,
    timeline_entry,
)

PAGE_SIZE = 200  # rows per query when a whole history is read
MAX_ENTRIES = 5000  # a person's history is far shorter; a bound keeps one page view bounded


@dataclass(frozen=True)
class CaseOverview:
    """The summary and every timeline entry the caller may see (the case page)."""

    summary: CaseSummary
    entries: list[TimelineEntry]


@dataclass(frozen=True)
class NoteTarget:
    """The case a note is added to, and the caller's own case reference for the person."""

    case: CaseRow
    case_ref: str | None


async def find_case(
    store: ReadStore, caller: Caller, pseudonyms: Sequence[str], purpose: str
) -> CaseRow | None:
    """The person's open case, else the latest one, under any of their subjects (the registry's
    first: ``person_lookup.subjects_of``)."""
    async with store.snapshot() as conn:
        access = await check_person_access(conn, caller, *pseudonyms)
    subject = access.case.pseudonym if access.case is not None else pseudonyms[0]
    granted = await admit(store, caller, "search-case", purpose, access, subject=subject)
    if granted is None:
        return None
    await store.record(
        audit_entry(
            caller,
            "search-case",
            purpose,
            subject=granted.case.pseudonym,
            case_number=granted.case.case_number,
            basis=granted.involved.basis(),
            outcome="ok",
            found=1,
        )
    )
    return granted.case


async def read_summary(
    store: ReadStore,
    caller: Caller,
    case_number: str,
    action: str,
    purpose: str,
    *,
    as_of: int | None = None,
) -> CaseSummary | None:
    """The summary now (``as_of`` None) or refolded up to a past bus position."""
    async with store.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        found = None
        if access.granted and as_of is None:
            found = await queries.current_file(conn, access.pseudonym)
        elif access.granted and as_of is not None:
            found = await queries.refolded_file(conn, access.pseudonym, as_of, store.rules)
    granted = await admit(store, caller, action, purpose, access)
    if granted is None:
        return None
    assert found is not None
    summary = _summary(store, caller, granted, *found, as_of=as_of)
    extra = {} if as_of is None else {"as_of": as_of}
    await store.record(
        audit_entry(
            caller,
            action,
            purpose,
            subject=granted.case.pseudonym,
            case_number=granted.case.case_number,
            basis=granted.involved.basis(),
            outcome="ok",
            **_counts(summary),
            **extra,
        )
    )
    return summary


async def read_timeline(
    store: ReadStore, caller: Caller, case_number: str, purpose: str, page: TimelineFilter
) -> TimelinePage | None:
    """One page of the entries the caller may see, in bus order, paged by bus position."""
    async with store.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        rows = (
            await queries.timeline_page(conn, access.pseudonym, caller.institution, page)
            if access.granted
            else []
        )
    granted = await admit(store, caller, "read-timeline", purpose, access)
    if granted is None:
        return None
    entries = [timeline_entry(row, caller.institution) for row in rows[: page.limit]]
    await store.record(
        audit_entry(
            caller,
            "read-timeline",
            purpose,
            subject=granted.case.pseudonym,
            case_number=granted.case.case_number,
            basis=timeline_basis(granted.involved, entries),
            outcome="ok",
            entries=len(entries),
            withheld_fields=sum(len(e.withheld) for e in entries),
        )
    )
    return TimelinePage(
        case_number=granted.case.case_number,
        entries=entries,
        next_after=entries[-1].position if len(rows) > page.limit else None,
    )


async def read_overview(
    store: ReadStore, caller: Caller, case_number: str, action: str, purpose: str
) -> CaseOverview | None:
    """The summary now and the caller's whole timeline (up to ``MAX_ENTRIES``)."""
    async with store.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        found = await queries.current_file(conn, access.pseudonym) if access.granted else None
        rows = await _visible_rows(conn, access.pseudonym, caller.institution, access.granted)
    granted = await admit(store, caller, action, purpose, access)
    if granted is None:
        return None
    assert found is not None
    summary = _summary(store, caller, granted, *found, as_of=None)
    entries = [timeline_entry(row, caller.institution) for row in rows]
    await store.record(
        audit_entry(
            caller,
            action,
            purpose,
            subject=granted.case.pseudonym,
            case_number=granted.case.case_number,
            basis=timeline_basis(granted.involved, entries),
            outcome="ok",
            **_counts(summary),
            entries=len(entries),
            withheld_fields=sum(len(e.withheld) for e in entries),
        )
    )
    return CaseOverview(summary, entries)


async def note_target(
    store: ReadStore, caller: Caller, case_number: str, purpose: str
) -> NoteTarget | None:
    """Where the caller's note goes; a refusal is audited as ``add-note``."""
    async with store.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        case_ref = (
            await queries.case_ref_of(conn, access.pseudonym, caller.institution)
            if access.granted
            else None
        )
    granted = await admit(store, caller, "add-note", purpose, access)
    return None if granted is None else NoteTarget(granted.case, case_ref)


def _summary(
    store: ReadStore,
    caller: Caller,
    granted: Granted,
    file: CaseFile,
    newest: dt.date | None,
    *,
    as_of: int | None,
) -> CaseSummary:
    return summarise(
        file,
        as_of,
        caller.institution,
        case_key=granted.case.case_key,
        last_event_on=newest,
        today=store.today() if as_of is None else None,  # a past state: judged back then
        world=store.world,
    ).model_copy(update={"case_number": granted.case.case_number})


def _counts(summary: CaseSummary) -> dict[str, Any]:
    """What the audit row of a summary counts (never values)."""
    return {
        "participants": len(summary.participants),
        "engagements": len(summary.current_engagements),
        "consents": len(summary.consents),
        "open_referrals": len(summary.open_referrals),
    }


async def _visible_rows(
    conn: asyncpg.Connection, pseudonym: str, reader: str, allowed: bool
) -> list[Any]:
    """All of the person's timeline rows the reader may see, paged like the API's timeline."""
    rows: list[Any] = []
    after = None
    while allowed and len(rows) < MAX_ENTRIES:
        page = TimelineFilter(after, PAGE_SIZE, None, None, None, None)
        found = await queries.timeline_page(conn, pseudonym, reader, page)
        rows += found[:PAGE_SIZE]
        if len(found) <= PAGE_SIZE:
            break
        after = int(found[PAGE_SIZE - 1]["bus_offset"])
    return rows
