"""Deadlines and event rows of the case page, from what the caller may see."""

from __future__ import annotations

import datetime as dt
import uuid

from services.coordination.domain.summary import ReferralView
from services.coordination.pages.case_page import deadlines, event_rows
from tests.unit.coordination.pages.test_swimlanes import entry, summary


def test_deadlines_list_open_referrals_planned_ends_and_expected_exhaustion() -> None:
    view = summary(dt.date(2026, 3, 20), "rav").model_copy(
        update={
            "open_referrals": [
                ReferralView(
                    referral_id=uuid.uuid4(),
                    from_institution="rav",
                    to_institution="assessmentcenter",
                    purpose="assessmentcenter-intake",
                    requested_at=dt.datetime(2026, 3, 8, tzinfo=dt.UTC),
                    answer_due=dt.date(2026, 3, 9),
                    overdue=True,
                )
            ]
        }
    )
    entries = [
        entry(1, "rav", "measure.started", measure_id="m1", planned_end="2026-06-30"),
        entry(2, "rav", "measure.started", measure_id="m2", planned_end="2026-04-30"),
        entry(3, "rav", "measure.ended", measure_id="m2"),
        entry(4, "rav", "benefit.exhaustion.expected", expected_end="2026-09-30"),
    ]
    found = deadlines(view, entries)
    assert [(d.due, d.overdue) for d in found] == [
        (dt.date(2026, 3, 9), True),
        (dt.date(2026, 6, 30), False),
        (dt.date(2026, 9, 30), False),
    ]
    assert found[0].what == "Antwort auf Anmeldung an assessmentcenter"


def test_event_rows_are_newest_first_without_the_person_block() -> None:
    first = entry(1, "rav", "case.opened", person={"case_ref": "RAV-1"}, reason="Aussteuerung")
    second = entry(
        2,
        "iv",
        "assessment.completed",
        assessment_id="a1",
        recommendation="Teilzeit",
        barriers=["health"],
    )
    second = second.model_copy(update={"withheld": ["health_limitations"]})
    rows = event_rows([first, second])
    assert [r.label for r in rows] == ["Abklärung abgeschlossen", "Fall eröffnet"]
    assert rows[0].details == [("recommendation", "Teilzeit"), ("barriers", "health")]
    assert rows[0].withheld == ["health_limitations"]
    assert rows[1].details == [("reason", "Aussteuerung")]
