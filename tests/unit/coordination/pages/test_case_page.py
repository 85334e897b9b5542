"""Deadlines and event rows of the case page, from what the caller may see."""

from __future__ import annotations

import datetime as dt
import uuid

from services.coordination.domain.summary import CaseSummary, ExhaustionView, ReferralView
from services.coordination.pages.case_page import deadlines, event_rows
from services.coordination.pages.wording import InstitutionNames
from tests.unit.coordination.pages.test_swimlanes import entry, summary


def open_case_on(today: dt.date, *, closed: bool = False) -> CaseSummary:
    """rav's case with an overdue-looking referral and an exhaustion forecast, read on ``today``
    (a closed case: closed on 2026-03-20, so nothing in it is overdue)."""
    view = summary(dt.date(2026, 3, 20), "rav")
    assert view.case is not None
    case = view.case.model_copy(
        update={"open": False, "closed_at": dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC)}
        if closed
        else {}
    )
    return view.model_copy(
        update={
            "case": case,
            "judged_on": dt.date(2026, 3, 20) if closed else today,
            "open_referrals": [
                ReferralView(
                    referral_id=uuid.uuid4(),
                    from_institution="rav",
                    to_institution="assessmentcenter",
                    purpose="assessmentcenter-intake",
                    requested_at=dt.datetime(2026, 3, 8, tzinfo=dt.UTC),
                    answer_due=dt.date(2026, 3, 9),
                    overdue=not closed,
                )
            ],
            "expected_exhaustions": [
                ExhaustionView(
                    benefit_id=uuid.uuid4(),
                    institution="rav",
                    expected_on=dt.date(2026, 9, 30),
                    overdue=not closed and today > dt.date(2026, 9, 30),
                )
            ],
        }
    )


ENTRIES = [
    entry(1, "rav", "measure.started", measure_id="m1", planned_end="2026-06-30"),
    entry(2, "rav", "measure.started", measure_id="m2", planned_end="2026-04-30"),
    entry(3, "rav", "measure.ended", measure_id="m2"),
]


def test_deadlines_list_open_referrals_planned_ends_and_expected_exhaustion() -> None:
    found = deadlines(open_case_on(dt.date(2026, 3, 20)), ENTRIES)
    assert [(d.due, d.what, d.overdue) for d in found] == [
        (dt.date(2026, 3, 9), "Antwort auf Anmeldung an assessmentcenter", True),
        (dt.date(2026, 6, 30), "Geplantes Ende der Massnahme", False),
        (dt.date(2026, 9, 30), "Voraussichtliche Aussteuerung", False),
    ]


def test_a_planned_end_is_overdue_when_today_is_past_it_however_old_the_newest_event() -> None:
    found = deadlines(open_case_on(dt.date(2026, 12, 5)), ENTRIES)
    assert [(d.due, d.overdue) for d in found] == [
        (dt.date(2026, 3, 9), True),
        (dt.date(2026, 6, 30), True),
        (dt.date(2026, 9, 30), True),
    ]


def test_a_closed_case_lists_its_deadlines_but_none_of_them_as_overdue() -> None:
    found = deadlines(open_case_on(dt.date(2026, 12, 5), closed=True), ENTRIES)
    assert len(found) == 3
    assert not any(d.overdue for d in found)


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
    assert rows[0].details == [("Empfehlung", "Teilzeit"), ("Hindernisse", "Gesundheit")]
    assert rows[0].withheld == ["Gesundheitliche Einschränkungen"]  # still listed, in German
    assert rows[1].details == [("Grund", "Aussteuerung")]


NAMES = InstitutionNames(
    {"assessmentcenter": "Kantonales Assessmentcenter (KSA)", "zif": "Zentrum (ZIF)"},
    {"assessmentcenter": "Assessmentcenter", "zif": "ZIF"},
)


def test_deadlines_name_the_institution_by_its_short_name() -> None:
    found = deadlines(open_case_on(dt.date(2026, 3, 20)), ENTRIES, NAMES)
    assert found[0].what == "Antwort auf Anmeldung an Assessmentcenter"
    assert found[0].institution == "assessmentcenter"  # the page names it (short, full as title)


def test_event_rows_show_german_labels_and_readable_values() -> None:
    document = entry(
        1,
        "sozialhilfe-2829",
        "document.shared",
        document_id="d1",
        title="Einwilligung unterschrieben.pdf",
        media_type="application/pdf",
        size_bytes=2101,
        sha256="f4172d",
        held_by="sozialhilfe-2829",
    )
    referral = entry(
        2,
        "sozialhilfe-2829",
        "referral.requested",
        referral_id="r1",
        note="Deutsch A2.",
        purpose="zif-first-interview",
        to_institution="zif",
        answer_due="2026-12-18",
    )
    consent = entry(
        3,
        "sozialhilfe-2829",
        "consent.granted",
        consent_id="c1",
        categories=["case-admin", "integration"],
        valid_from="2026-12-06",
        institutions=["sozialhilfe-2829", "zif"],
        health_included=False,
    )
    rows = {r.label: r for r in event_rows([document, referral, consent], NAMES)}
    assert rows["Dokument geteilt"].details == [
        ("Titel", "Einwilligung unterschrieben.pdf"),
        ("Dateityp", "PDF"),
        ("Grösse", "2.1 kB"),
        ("Prüfsumme (SHA-256)", "f4172d"),
        ("Aufbewahrt bei", "sozialhilfe-2829"),  # not in the registry given: its id
    ]
    assert rows["Dokument geteilt"].document_id == "d1"
    assert rows["Anmeldung"].details == [
        ("Bemerkung", "Deutsch A2."),
        ("Zweck", "Erstgespräch ZIF"),
        ("An", "ZIF"),
        ("Antwort bis", "18.12.2026"),
    ]
    assert rows["Einwilligung erteilt"].details == [
        ("Kategorien", "Fallführung, Integration"),
        ("Gültig ab", "06.12.2026"),
        ("Institutionen", "sozialhilfe-2829, ZIF"),
        ("health_included", "Nein"),  # a field without a German label keeps its name
    ]
