"""Worklist rows and the deadlines list, built from the case summary the reader would get."""

from __future__ import annotations

import datetime as dt
import uuid

from services.coordination.domain.summary import (
    CaseSummary,
    CaseView,
    EngagementView,
    ParticipantView,
    ReferralView,
)
from services.coordination.domain.worklist import (
    DueKind,
    Role,
    WorklistFilter,
    WorklistSort,
    due_items,
    falls_due,
    my_items,
    select,
    week_of,
    worklist_row,
)

OPENED = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 5)  # a Saturday


def referral(sender: str, recipient: str, due: dt.date, *, overdue: bool) -> ReferralView:
    return ReferralView(
        referral_id=uuid.uuid4(),
        from_institution=sender,
        to_institution=recipient,
        purpose="assessmentcenter-intake",
        requested_at=OPENED,
        answer_due=due,
        overdue=overdue,
    )


def summary(
    number: str,
    *referrals: ReferralView,
    lead: str = "rav",
    closed: bool = False,
    newest: dt.date = dt.date(2026, 3, 10),
) -> CaseSummary:
    return CaseSummary(
        case_number=number,
        case=CaseView(
            opened_at=OPENED,
            opened_by=lead,
            lead=lead,
            open=not closed,
            closed_at=OPENED + dt.timedelta(days=5) if closed else None,
        ),
        position=9,
        last_event_on=newest,
        read_on=TODAY,
        judged_on=TODAY,
        participants=[
            ParticipantView(institution=i, role="participant", since=OPENED, via_referral=False)
            for i in ("rav", "iv")
        ],
        current_engagements=[
            EngagementView(institution="iv", kind="referral", since=dt.date(2026, 3, 7))
        ],
        parallel=True,
        consents=[],
        open_referrals=list(referrals),
    )


def test_a_referral_is_due_for_its_recipient_and_awaited_by_its_sender() -> None:
    view = summary("IIZ-2026-000001", referral("rav", "iv", dt.date(2026, 3, 9), overdue=True))
    assert [i.kind for i in due_items(view, "iv")] == [DueKind.ANSWER_DUE]
    assert [i.kind for i in due_items(view, "rav")] == [DueKind.ANSWER_AWAITED]
    assert [i.kind for i in due_items(view, "assessmentcenter")] == [DueKind.REFERRAL_OPEN]
    assert my_items(view, "assessmentcenter") == []


def test_a_row_names_the_overdue_items_and_the_next_deadline_apart() -> None:
    view = summary(
        "IIZ-2026-000001",
        referral("rav", "iv", dt.date(2026, 3, 9), overdue=True),
        referral("rav", "assessmentcenter", dt.date(2026, 12, 10), overdue=False),
    )
    row = worklist_row(view, "rav")
    assert row.role is Role.LEAD
    assert [i.due_on for i in row.overdue] == [dt.date(2026, 3, 9)]
    assert row.next_deadline is not None
    assert row.next_deadline.due_on == dt.date(2026, 12, 10)
    assert row.active == ["iv"]


def test_a_closed_case_row_has_neither_overdue_items_nor_a_next_deadline() -> None:
    view = summary(
        "IIZ-2026-000002",
        referral("rav", "iv", dt.date(2026, 3, 9), overdue=False),
        closed=True,
    )
    row = worklist_row(view, "rav")
    assert row.open is False
    assert row.overdue == []
    assert row.next_deadline is None
    assert my_items(view, "iv") == []


def test_sorting_by_deadline_puts_overdue_cases_first_then_the_next_deadline() -> None:
    rows = [
        worklist_row(summary("IIZ-2026-000001"), "rav"),
        worklist_row(
            summary("IIZ-2026-000002", referral("rav", "iv", dt.date(2026, 12, 20), overdue=False)),
            "rav",
        ),
        worklist_row(
            summary("IIZ-2026-000003", referral("rav", "iv", dt.date(2026, 4, 1), overdue=True)),
            "rav",
        ),
    ]
    by_deadline = select(rows, "rav", WorklistFilter(), WorklistSort.DEADLINE)
    assert [r.case_number[-1] for r in by_deadline] == ["3", "2", "1"]
    overdue = select(rows, "rav", WorklistFilter(overdue_only=True), WorklistSort.CASE)
    assert [r.case_number[-1] for r in overdue] == ["3"]
    assert select(rows, "iv", WorklistFilter(lead_only=True), WorklistSort.CASE) == []


def test_sorting_by_update_puts_the_newest_event_first() -> None:
    rows = [
        worklist_row(summary("IIZ-2026-000001", newest=dt.date(2026, 3, 1)), "rav"),
        worklist_row(summary("IIZ-2026-000002", newest=dt.date(2026, 11, 1)), "rav"),
    ]
    updated = select(rows, "rav", WorklistFilter(), WorklistSort.UPDATED)
    assert [r.case_number[-1] for r in updated] == ["2", "1"]


def test_this_week_runs_from_monday_to_sunday_and_later_items_wait() -> None:
    assert week_of(TODAY) == (dt.date(2026, 11, 30), dt.date(2026, 12, 6))
    view = summary(
        "IIZ-2026-000001",
        referral("rav", "iv", dt.date(2026, 3, 9), overdue=True),
        referral("rav", "iv", dt.date(2026, 12, 6), overdue=False),
        referral("rav", "iv", dt.date(2026, 12, 7), overdue=False),
    )
    due = falls_due(my_items(view, "iv"), TODAY)
    assert [i.due_on for i in due] == [dt.date(2026, 3, 9), dt.date(2026, 12, 6)]
