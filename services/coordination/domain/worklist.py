"""An institution's worklist ("Meine Fälle") and what falls due for it ("Fristen").

Every row and item is derived from the case summary the institution would get for that case
(``summary.summarise``, judged on the day of reading): the same engagements, referrals and
exhaustion forecasts, minimised by the same rule, overdue by the same judgement — a closed case
has no overdue items. The coordinator's scheduled checks (``consequences.Deadline``) are shown
to whom the scheduler would alert: escalations to the case's coordinator if the alert may reach
it, planning windows to the institutions ``alerts.planning_alerts`` names.

Pure: summaries, files, pending deadlines and the day of reading are passed in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.events import BenefitExhaustionExpected
from services.coordination.domain.alerts import CASE_ADMIN, facts_at, may_see, planning_alerts
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import ReferralStatus
from services.coordination.domain.consequences import Deadline
from services.coordination.domain.policy import World
from services.coordination.domain.summary import CaseSummary
from services.coordination.domain.working_days import business_date


class DueKind(StrEnum):
    ANSWER_DUE = "answer-due"  # a referral to the reader waits for its answer
    ANSWER_AWAITED = "answer-awaited"  # the reader's referral waits for the recipient's answer
    REFERRAL_OPEN = "referral-open"  # a referral between others the reader may see
    EXHAUSTION = "exhaustion"  # expected benefit exhaustion
    ESCALATION = "escalation"  # the coordinator is told of an unanswered referral
    EXHAUSTION_PLANNING = "exhaustion-planning"  # the planning window of a forecast opens


class DueItem(BaseModel):
    kind: DueKind
    due_on: dt.date
    overdue: bool = Field(description="Past due on the day of reading; never in a closed case.")
    institution: str = Field(description="Who must act (or whose benefit ends).")
    counterpart: str | None = Field(
        default=None, description="The other side of a referral, or the benefit's institution."
    )
    ref_id: uuid.UUID = Field(description="The referral or benefit it is about.")
    case_number: str | None = Field(default=None, description="The case it belongs to, if any.")


class Role(StrEnum):
    LEAD = "lead"
    PARTICIPANT = "participant"
    INVITED = "invited"  # referred to it, not answered yet
    LEFT = "left"


class WorklistRow(BaseModel):
    case_number: str
    open: bool
    opened_on: dt.date
    closed_on: dt.date | None = None
    lead: str = Field(description="Institution leading the case (fallführend).")
    role: Role = Field(description="The reader's part in it.")
    projects: list[str]
    active: list[str] = Field(
        description="Institutions active on judged_on whose engagement the reader may see."
    )
    parallel: bool = Field(description="Two or more institutions active (all are counted).")
    judged_on: dt.date | None = Field(
        description="Today; the closing date for a closed case (what was active at closing)."
    )
    next_deadline: DueItem | None = Field(
        description="The earliest deadline not yet overdue (none in a closed case)."
    )
    overdue: list[DueItem] = Field(description="Overdue items (never in a closed case).")
    last_event_on: dt.date | None = Field(description="Business date of the newest event.")


class WorklistSort(StrEnum):
    DEADLINE = "deadline"
    CASE = "case"
    UPDATED = "updated"


@dataclass(frozen=True)
class WorklistFilter:
    open: bool | None = None  # None: open and closed
    overdue_only: bool = False
    lead_only: bool = False
    project: str | None = None


def due_items(summary: CaseSummary, reader: str) -> list[DueItem]:
    """Everything with a date the reader sees in the summary: open referrals and expected
    exhaustions, overdue as the summary judged it."""
    items = [
        DueItem(
            kind=_referral_kind(reader, r.from_institution, r.to_institution),
            due_on=r.answer_due,
            overdue=r.overdue,
            institution=r.to_institution,
            counterpart=r.from_institution,
            ref_id=r.referral_id,
            case_number=summary.case_number,
        )
        for r in summary.open_referrals
    ]
    items += [
        DueItem(
            kind=DueKind.EXHAUSTION,
            due_on=e.expected_on,
            overdue=e.overdue,
            institution=e.institution,
            ref_id=e.benefit_id,
            case_number=summary.case_number,
        )
        for e in summary.expected_exhaustions
    ]
    return sorted(items, key=_item_order)


def _referral_kind(reader: str, sender: str, recipient: str) -> DueKind:
    if recipient == reader:
        return DueKind.ANSWER_DUE
    if sender == reader:
        return DueKind.ANSWER_AWAITED
    return DueKind.REFERRAL_OPEN


def worklist_row(summary: CaseSummary, reader: str) -> WorklistRow:
    """One case of the reader's worklist, from the summary it would read."""
    case = summary.case
    assert case is not None
    assert summary.case_number is not None
    items = [] if summary.closed else due_items(summary, reader)
    upcoming = [i for i in items if not i.overdue]
    return WorklistRow(
        case_number=summary.case_number,
        open=case.open,
        opened_on=business_date(case.opened_at),
        closed_on=business_date(case.closed_at) if case.closed_at else None,
        lead=case.lead,
        role=_role(summary, reader),
        projects=case.projects,
        active=sorted({e.institution for e in summary.current_engagements}),
        parallel=summary.parallel,
        judged_on=summary.judged_on,
        next_deadline=upcoming[0] if upcoming else None,
        overdue=[i for i in items if i.overdue],
        last_event_on=summary.last_event_on,
    )


def _role(summary: CaseSummary, reader: str) -> Role:
    mine = [p for p in summary.participants if p.institution == reader]
    current = [p for p in mine if p.until is None]
    if summary.case is not None and summary.case.lead == reader and current:
        return Role.LEAD
    if any(not p.via_referral for p in current):
        return Role.PARTICIPANT
    return Role.INVITED if current else Role.LEFT


def select(
    rows: Iterable[WorklistRow], reader: str, where: WorklistFilter, sort: WorklistSort
) -> list[WorklistRow]:
    """The rows the filter keeps, in the order asked for."""
    kept = [
        r
        for r in rows
        if (where.open is None or r.open == where.open)
        and (not where.overdue_only or r.overdue)
        and (not where.lead_only or r.lead == reader)
        and (where.project is None or where.project in r.projects)
    ]
    if sort is WorklistSort.CASE:
        return sorted(kept, key=lambda r: r.case_number)
    if sort is WorklistSort.UPDATED:
        return sorted(kept, key=lambda r: (r.last_event_on or dt.date.min, r.case_number))[::-1]
    return sorted(kept, key=_deadline_order)


def _deadline_order(row: WorklistRow) -> tuple[int, dt.date, str]:
    """Overdue cases first (oldest overdue first), then by the next deadline, then the rest."""
    if row.overdue:
        return 0, min(i.due_on for i in row.overdue), row.case_number
    if row.next_deadline is not None:
        return 1, row.next_deadline.due_on, row.case_number
    return 2, dt.date.max, row.case_number


def week_of(today: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the week ``today`` is in."""
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=6)


def falls_due(items: Iterable[DueItem], today: dt.date) -> list[DueItem]:
    """What is overdue or due by the end of this week (Monday to Sunday)."""
    _, sunday = week_of(today)
    return sorted((i for i in items if i.overdue or i.due_on <= sunday), key=_item_order)


def my_items(summary: CaseSummary, reader: str) -> list[DueItem]:
    """The items that ask something of the reader: referrals to it or from it, and exhaustion
    forecasts it may see (none of a closed case)."""
    if summary.closed:
        return []
    return [i for i in due_items(summary, reader) if i.kind is not DueKind.REFERRAL_OPEN]


@dataclass(frozen=True)
class PendingCheck:
    """A scheduled check not yet run (a row of ``deadlines``)."""

    deadline: Deadline
    case_number: str | None


def scheduled_items(
    file: CaseFile,
    checks: Sequence[PendingCheck],
    reader: str,
    today: dt.date,
    world: World,
) -> list[DueItem]:
    """The scheduled checks whose alert would go to the reader, judged on the file as it is.

    Only while the file has an open case (a closed case shows nothing due)."""
    if file.open_case is None:
        return []
    items: list[DueItem] = []
    for check in checks:
        item = _scheduled_item(file, check, reader, today, world)
        if item is not None:
            items.append(item)
    return sorted(items, key=_item_order)


def _scheduled_item(
    file: CaseFile, check: PendingCheck, reader: str, today: dt.date, world: World
) -> DueItem | None:
    deadline = check.deadline
    overdue = deadline.due_on < today
    if deadline.kind == "referral-escalation":
        referral = file.referral(deadline.ref_id)
        case = file.open_case
        if referral is None or referral.status is not ReferralStatus.OPEN or case is None:
            return None
        sender = facts_at(file, referral.from_institution, today)
        if case.lead != reader or not may_see(reader, sender, CASE_ADMIN, world):
            return None
        return DueItem(
            kind=DueKind.ESCALATION,
            due_on=deadline.due_on,
            overdue=overdue,
            institution=referral.to_institution,
            counterpart=referral.from_institution,
            ref_id=referral.referral_id,
            case_number=check.case_number,
        )
    if deadline.kind == "exhaustion-planning":
        forecast = file.forecasts.get(str(deadline.ref_id))
        if forecast is None:
            return None
        origin, expected_end = forecast[0], dt.date.fromisoformat(forecast[1])
        category = frozenset({BenefitExhaustionExpected.default_category})
        facts = facts_at(file, origin, today, category)
        alerts = planning_alerts(file, facts, world, deadline.ref_id, expected_end)
        if not any(a.recipient == reader for a in alerts):
            return None
        return DueItem(
            kind=DueKind.EXHAUSTION_PLANNING,
            due_on=deadline.due_on,
            overdue=overdue,
            institution=reader,
            counterpart=origin,
            ref_id=deadline.ref_id,
            case_number=check.case_number,
        )
    return None  # reminders: the referral itself is the reader's item


def _item_order(item: DueItem) -> tuple[dt.date, str, str]:
    return item.due_on, item.case_number or "", item.kind.value
