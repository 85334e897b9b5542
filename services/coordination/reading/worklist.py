"""Reading an institution's worklist and what falls due for it, the same way for every door.

Each function reads in one snapshot, summarises every case exactly as a case read would (the
same minimisation, judged on today: ``ReadStore.today``), and is audited like a case read: one
row per person shown (``list_audit``), counts never content. The committee never reads a case
list: ``None`` (the refusal is audited), which each door answers its own way (403 problem, German
"verboten" page).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from services.coordination.domain.summary import CaseSummary, summarise
from services.coordination.domain.worklist import (
    DueItem,
    PendingCheck,
    WorklistFilter,
    WorklistRow,
    WorklistSort,
    falls_due,
    my_items,
    scheduled_items,
    select,
    week_of,
    worklist_row,
)
from services.coordination.reading import worklist_queries
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller, Role
from services.coordination.reading.list_audit import PersonShown, record_list_read
from services.coordination.reading.read_store import ReadStore
from services.coordination.reading.worklist_queries import StoredFile

BASIS = "participant"  # a list shows only cases the caller's institution takes part in


class Worklist(BaseModel):
    today: dt.date = Field(description="The day overdue and active are judged on.")
    total: int = Field(description="Rows the filter keeps (before paging).")
    rows: list[WorklistRow]


class DueList(BaseModel):
    today: dt.date = Field(description="The day overdue is judged on.")
    week_from: dt.date = Field(description="Monday of this week (Europe/Zurich).")
    week_to: dt.date = Field(description="Sunday of this week.")
    items: list[DueItem] = Field(description="Overdue or due by Sunday, earliest first.")


@dataclass(frozen=True)
class WorklistQuery:
    where: WorklistFilter
    sort: WorklistSort
    limit: int
    offset: int = 0


async def read_worklist(
    store: ReadStore, caller: Caller, query: WorklistQuery, purpose: str
) -> Worklist | None:
    """The cases the caller's institution takes part in, filtered, sorted and paged."""
    if await _refused(store, caller, "read-worklist", purpose):
        return None
    today = store.today()
    where = query.where
    async with store.snapshot() as conn:
        found = await worklist_queries.cases_taken_part_in(
            conn, caller.institution, where.open, where.project
        )
    rows = [worklist_row(_summary(store, caller, f, today), caller.institution) for f in found]
    kept = select(rows, caller.institution, where, query.sort)
    page = kept[query.offset : query.offset + query.limit]
    whose = {f.case_number: f.file.pseudonym for f in found}
    await record_list_read(
        store,
        caller,
        "read-worklist",
        purpose,
        ((whose[row.case_number], row) for row in page),
        _person_in_worklist,
        basis=BASIS,
        total=len(kept),
        sort=query.sort.value,
        **_filters(where),
    )
    return Worklist(today=today, total=len(kept), rows=page)


async def read_due(store: ReadStore, caller: Caller, purpose: str) -> DueList | None:
    """Everything overdue or due this week (Monday to Sunday) for the caller's institution."""
    if await _refused(store, caller, "read-deadlines", purpose):
        return None
    today = store.today()
    monday, sunday = week_of(today)
    async with store.snapshot() as conn:
        found = await worklist_queries.persons_with_due_items(conn, caller.institution, sunday)
        checks = await worklist_queries.pending_checks(
            conn, [f.file.pseudonym for f in found], sunday
        )
    items: list[DueItem] = []
    whose: dict[int, str] = {}  # id of an item -> the person it is about
    for stored in found:
        pending = [
            PendingCheck(d, stored.case_number) for d in checks.get(stored.file.pseudonym, [])
        ]
        mine = my_items(_summary(store, caller, stored, today), caller.institution)
        mine += scheduled_items(stored.file, pending, caller.institution, today, store.world)
        whose.update((id(i), stored.file.pseudonym) for i in mine)
        items += mine
    due = falls_due(items, today)
    await record_list_read(
        store,
        caller,
        "read-deadlines",
        purpose,
        ((whose[id(i)], i) for i in due),
        _person_due,
        basis=BASIS,
    )
    return DueList(today=today, week_from=monday, week_to=sunday, items=due)


def _summary(store: ReadStore, caller: Caller, stored: StoredFile, today: dt.date) -> CaseSummary:
    """The summary a case read would give the caller today (the case asked about, or the
    person's latest when none)."""
    return summarise(
        stored.file,
        None,
        caller.institution,
        case_key=stored.case_key,
        last_event_on=stored.newest,
        today=today,
        world=store.world,
    ).model_copy(update={"case_number": stored.case_number})


def _person_in_worklist(rows: Sequence[WorklistRow]) -> PersonShown:
    return PersonShown(rows[0].case_number, BASIS, {"rows": len(rows)})


def _person_due(items: Sequence[DueItem]) -> PersonShown:
    numbers = (i.case_number for i in items if i.case_number)
    overdue = sum(1 for i in items if i.overdue)
    return PersonShown(next(numbers, None), BASIS, {"rows": len(items), "overdue": overdue})


async def _refused(store: ReadStore, caller: Caller, action: str, purpose: str) -> bool:
    """The committee reads aggregates only: refused, and the refusal audited."""
    if caller.role is not Role.COMMITTEE:
        return False
    await store.record(
        audit_entry(caller, action, purpose, subject=None, case_number=None, outcome="denied")
    )
    return True


def _filters(where: WorklistFilter) -> dict[str, Any]:
    """The filter as the audit row keeps it (no values from a case)."""
    return {
        "open": where.open,
        "overdue_only": where.overdue_only,
        "lead_only": where.lead_only,
        "project": where.project,
    }
