"""The access report assembled from audit rows and consents: receipts with categories and basis
(older rows readable), reads by institution and function only (no purpose), list views counted
per day, consents judged on the day, tables bounded for a long history, an erasure named, and
the letter in German without the AHV number or a staff member's id."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from schemas.ahv import AhvNumber
from schemas.vocabulary import DataCategory
from services.coordination.letters.access_report_letter import letter_context, render_access_report
from services.coordination.reading.access_report import (
    AuditRecord,
    ListViewCount,
    StoredConsent,
    assemble,
)
from services.coordination.reading.access_report_model import (
    ACCESS_LIMIT,
    LIST_VIEW_LIMIT,
    RECEIPT_LIMIT,
    Access,
    ConsentStatus,
)
from tests.pdf_pages import is_blank, page_count, pdf_to_png, words

pytestmark = pytest.mark.unit

AT = dt.datetime(2026, 11, 3, 9, 30, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 6)
CONSENT = uuid.UUID("11111111-2222-4333-8444-555555555555")
REVOKED = uuid.UUID("99999999-2222-4333-8444-555555555555")
NAMES = {"rav-liestal": "RAV Liestal", "iv-bl": "IV-Stelle Basel-Landschaft"}
AHV = AhvNumber("756.9217.0769.85")


def row(seq: int, action: str, actor: str = "coordination", **detail: Any) -> AuditRecord:
    return AuditRecord(
        seq=seq,
        at=AT + dt.timedelta(hours=seq),
        actor=actor,
        action=action,
        detail=detail,
    )


def decided_now(seq: int) -> AuditRecord:
    return row(
        seq,
        "decided",
        type="ch.bl.iiz.referral.requested.v1",
        allowed={"rav-liestal": "origin", "iv-bl": f"consent {CONSENT}"},
        denied={"sd-muttenz": "not-involved"},
        delivered={
            "rav-liestal": {
                "categories": ["case-admin", "employment"],
                "consents": [],
                "articles": [],
            },
            "iv-bl": {
                "categories": ["case-admin", "employment"],
                "consents": [str(CONSENT)],
                "articles": [],
            },
        },
    )


def decided_before_issue_17(seq: int) -> AuditRecord:
    return row(
        seq,
        "decided",
        type="ch.bl.iiz.benefit.granted.v1",
        allowed={"iv-bl": "origin", "rav-liestal": "law AVG Art. 35a Abs. 1bis"},
        denied={},
    )


def consents() -> list[StoredConsent]:
    return [
        StoredConsent(
            CONSENT,
            "rav-liestal",
            ("rav-liestal", "iv-bl"),
            ("case-admin", "employment"),
            dt.date(2026, 10, 1),
            None,
            "RAV-EW-2026-17",
        ),
        StoredConsent(
            REVOKED,
            "iv-bl",
            ("rav-liestal", "iv-bl"),
            ("health",),
            dt.date(2026, 10, 1),
            None,
            "IV-VM-88",
            revoked_at=AT,
            revocation_ref="IV-WR-3",
        ),
    ]


def report() -> Any:
    rows = [
        decided_now(1),
        decided_before_issue_17(2),
        row(3, "read-case-page", actor="iv-bl/caseworker/0f3c-staff-sub", outcome="ok"),
        row(4, "search-case", actor="rav-liestal/coordinator/a1b2", outcome="not_found"),
        row(5, "add-note", actor="rav-liestal/coordinator/a1b2", outcome="ok"),
        row(6, "delivery-outcome", actor="notifications", recipient="iv-bl"),
        row(7, "alerted", kind="referral-reminder", recipient="iv-bl", audience="institution"),
    ]
    return assemble(rows, consents(), NAMES, TODAY)


def test_a_receipt_names_recipient_origin_categories_and_consent_form() -> None:
    first = report().receipts[0]

    assert (first.recipient.name, first.origin.name) == (
        "IV-Stelle Basel-Landschaft",
        "RAV Liestal",
    )
    assert first.categories == [DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT]
    assert [(c.consent_id, c.document_ref) for c in first.consents] == [(CONSENT, "RAV-EW-2026-17")]


def test_an_older_decision_is_read_from_its_basis_text_without_categories() -> None:
    found = report()
    older = found.receipts[1]

    assert (older.basis, older.articles, older.categories) == (
        "law",
        ["AVG Art. 35a Abs. 1bis"],
        None,
    )
    assert found.categories_complete is False


def test_the_origins_receive_nothing_and_are_the_data_s_provenance() -> None:
    found = report()

    assert [r.recipient.id for r in found.receipts] == ["iv-bl", "rav-liestal", "iv-bl"]
    assert [o.id for o in found.origins] == ["iv-bl", "rav-liestal"]


def test_an_alert_to_an_institution_is_a_receipt_from_coordination() -> None:
    alert = report().receipts[-1]

    assert (alert.event_type, alert.origin, alert.basis) == (
        "alert:referral-reminder",
        None,
        "coordination",
    )
    assert alert.categories == [DataCategory.CASE_ADMIN]


def test_reads_name_institution_and_role_never_the_user() -> None:
    found = report()

    assert [(a.institution.id, a.role, a.action, a.outcome) for a in found.accesses] == [
        ("iv-bl", "caseworker", "read-case-page", "ok"),
        ("rav-liestal", "coordinator", "search-case", "not_found"),
    ]
    assert "0f3c-staff-sub" not in found.model_dump_json()


def test_consents_are_active_or_revoked_on_the_day() -> None:
    statuses = {c.consent_id: c.status for c in report().consents}

    assert statuses == {CONSENT: ConsentStatus.ACTIVE, REVOKED: ConsentStatus.REVOKED}


def test_a_consent_past_its_end_has_expired() -> None:
    ended = StoredConsent(
        CONSENT,
        "iv-bl",
        ("iv-bl", "rav-liestal"),
        ("employment",),
        dt.date(2026, 1, 1),
        dt.date(2026, 6, 30),
        "F-1",
    )

    assert assemble([], [ended], NAMES, TODAY).consents[0].status is ConsentStatus.EXPIRED


def test_a_person_with_only_look_ups_is_not_known() -> None:
    rows = [
        row(1, "search-case", actor="rav-liestal/caseworker/x", outcome="not_found"),
        row(2, "access-report", actor="iv-bl/auditor/y", outcome="ok"),
    ]
    found = assemble(rows, [], NAMES, TODAY)

    assert found.known is False
    assert len(found.accesses) == 2


def test_the_letter_speaks_german_and_masks_the_ahv_number() -> None:
    context = letter_context(
        report(), ahv=AHV, requested_by="Datenschutz, RAV Liestal", ticket="DS-1"
    )
    pdf = render_access_report(
        report(), ahv=AHV, requested_by="Datenschutz, RAV Liestal", ticket="DS-1"
    )
    text = words(pdf)

    assert context["ahv"] == "756.****.****.85"
    for expected in (
        "Auskunft über die Bearbeitung Ihrer Personendaten",
        "Verantwortliche Stelle",
        "Bearbeitete Daten (Kategorien)",
        "Zweck",
        "Empfänger",
        "Herkunft",
        "Aufbewahrung",
        "Einwilligungen",
        "Zugriffe",
        "Einwilligung (Formular RAV-EW-2026-17)",
        "Gesetz: AVG Art. 35a Abs. 1bis",
        "nicht erfasst",
        "Fallführung",
        "Arbeitsmarkt",
        "widerrufen",
        "756.****.****.85",
        "Erinnerung: Anmeldung unbeantwortet",
        "Hinweis der IIZ-Koordination",
    ):
        assert expected in text, expected
    assert "9217" not in text
    assert "0f3c-staff-sub" not in text
    assert not is_blank(pdf_to_png(pdf))


def test_the_letter_for_a_stranger_says_nothing_is_stored_not_that_nothing_ever_was() -> None:
    stranger = assemble([], [], NAMES, TODAY)
    text = words(render_access_report(stranger, ahv=AHV, requested_by="Koordination", ticket=None))

    assert "Im IIZ-Fallbus sind heute keine Daten über Sie gespeichert" in text
    assert "inzwischen gelöscht worden sind, können sie Ihnen nicht mehr zugeordnet werden" in text
    assert "bearbeitet worden." not in text  # no claim that nothing was ever processed


def test_an_erasure_still_found_is_named_with_its_day() -> None:
    erased = row(9, "erased", actor="operator/ds-1", rows={"cases": 1}, ticket="DS-9")
    found = assemble([erased], [], NAMES, TODAY)
    text = words(render_access_report(found, ahv=AHV, requested_by="Koordination", ticket=None))

    assert (found.known, found.erased_on) == (False, dt.date(2026, 11, 3))
    assert "Die Daten über Sie wurden am 3. November 2026 gelöscht" in text


def test_the_purpose_other_users_gave_is_not_in_the_report() -> None:
    assert "purpose" not in Access.model_fields
    assert "purpose" not in report().model_dump_json()


def list_read(seq: int, action: str, actor: str, **detail: Any) -> AuditRecord:
    return row(seq, action, actor=actor, outcome="ok", **detail)


def test_list_reads_are_counted_per_day_institution_and_role_not_listed() -> None:
    rows = [
        decided_now(1),
        list_read(2, "read-worklist", "rav-liestal/coordinator/a"),
        list_read(3, "read-inbox", "rav-liestal/coordinator/b"),
        list_read(4, "read-notices", "iv-bl/caseworker/c", status="open"),
        list_read(5, "read-notices", "iv-bl/caseworker/c", notice="n-1"),  # one notice: a read
        list_read(30, "read-deadlines", "rav-liestal/coordinator/a"),  # the next day
    ]
    counted = ListViewCount(dt.date(2026, 11, 3), "rav-liestal", "coordinator", "read-inbox", 5)

    found = assemble(rows, [], NAMES, TODAY, [counted])

    assert [(a.action, a.institution.id) for a in found.accesses] == [("read-notices", "iv-bl")]
    assert [(v.day.day, v.institution.id, v.role, v.lists, v.count) for v in found.list_views] == [
        (3, "iv-bl", "caseworker", ["read-notices"], 1),
        (3, "rav-liestal", "coordinator", ["read-inbox", "read-worklist"], 7),
        (4, "rav-liestal", "coordinator", ["read-deadlines"], 1),
    ]
    assert (found.list_views_total, found.list_shown_total) == (3, 9)


def long_history() -> list[AuditRecord]:
    """Five years of a coordinator's worklist: 2,000 list rows over 400 days, 600 deliveries
    (each a receipt for one recipient), 100 case reads."""
    start = dt.datetime(2022, 1, 3, 8, tzinfo=dt.UTC)
    rows: list[AuditRecord] = []
    for n in range(2000):
        at = start + dt.timedelta(days=n // 5, minutes=n % 5)
        actor = "rav-liestal/coordinator/a" if n % 2 else "iv-bl/caseworker/b"
        rows.append(AuditRecord(len(rows), at, actor, "read-worklist", detail={"outcome": "ok"}))
    for n in range(600):
        decided = decided_now(0)
        at = start + dt.timedelta(days=n * 3, hours=2)
        rows.append(AuditRecord(len(rows), at, "coordination", "decided", detail=decided.detail))
    for n in range(100):
        at = start + dt.timedelta(days=n * 15, hours=3)
        rows.append(AuditRecord(len(rows), at, "iv-bl/caseworker/b", "read-case", detail={}))
    return rows


def test_a_long_history_gives_bounded_tables_with_full_counts() -> None:
    found = assemble(long_history(), consents(), NAMES, TODAY)

    assert (len(found.receipts), found.receipts_total) == (RECEIPT_LIMIT, 600)
    assert (len(found.accesses), found.accesses_total) == (ACCESS_LIMIT, 100)
    assert (len(found.list_views), found.list_views_total) == (LIST_VIEW_LIMIT, 800)
    assert found.list_shown_total == 2000
    assert found.receipts[-1].at == max(r.at for r in found.receipts), "the newest, in order"
    assert found.receipts[0].at.year == 2026


def test_the_letter_of_a_long_history_stays_a_few_pages_and_says_what_it_left_out() -> None:
    found = assemble(long_history(), consents(), NAMES, TODAY)

    pdf = render_access_report(found, ahv=AHV, requested_by="Koordination", ticket=None)
    text = words(pdf)

    assert page_count(pdf) <= 8
    assert "insgesamt 2000-mal angezeigt" in text
    assert "in Listen angezeigt: Fallliste" in text
    for more, total in ((600 - RECEIPT_LIMIT, 600), (100 - ACCESS_LIMIT, 100), (770, 800)):
        expected = f"… und {more} weitere Einträge; vollständige Liste beim Datenschutz anfordern"
        assert expected in text
        assert f"von {total}" in text
