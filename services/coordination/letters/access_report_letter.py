"""The access report as a German letter: the report's codes in German words (``wording``), the
AHV number masked, the requester named by institution and function only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from schemas.ahv import AhvNumber
from services.coordination.letters.pdf import render_pdf
from services.coordination.pages import wording
from services.coordination.reading.access_report import ALERT_PREFIX, COORDINATION
from services.coordination.reading.access_report_model import AccessReport, Institution, Receipt

TEMPLATE = "access_report"
SUBJECT = "Auskunft über die Bearbeitung Ihrer Personendaten"
NOT_RECORDED = "nicht erfasst"
BASES = {
    "consent": "Einwilligung",
    "law": "Gesetz",
    "consent+law": "Einwilligung und Gesetz",
    COORDINATION: "Hinweis der IIZ-Koordination",
}
ALERTS = {
    "parallel-planning": "Hinweis: Aussteuerung absehbar, parallel planen",
    "referral-reminder": "Erinnerung: Anmeldung unbeantwortet",
    "referral-escalation": "Eskalation: Anmeldung unbeantwortet",
    "sequential-handoff": "Hinweis: Übergabe mit Lücke",
}
ACTIONS = {  # what a user looked at (audit actions)
    "read-case": "Fallübersicht gelesen",
    "read-case-page": "Fallseite angesehen",
    "read-timeline": "Verlauf gelesen",
    "read-state": "Früheren Stand des Falls gelesen",
    "search-case": "Fall über die AHV-Nummer gesucht",
    "read-inbox": "Im Posteingang angezeigt",
    "read-worklist": "In der Fallliste angezeigt",
    "read-deadlines": "In der Fristenliste angezeigt",
    "read-answer-form": "Anmeldung zur Beantwortung geöffnet",
    "read-audit": "Protokoll eingesehen (Datenschutz)",
    "read-notices": "Informationspflichten eingesehen",
    "download-document": "Dokument heruntergeladen",
    "access-report": "Auskunft erstellt",
}
LISTS = {  # the lists a person is shown in (list reads, counted per day)
    "read-worklist": "Fallliste",
    "read-inbox": "Posteingang",
    "read-deadlines": "Fristenliste",
    "read-notices": "Informationspflichten",
}
SHOWN_IN_LISTS = "in Listen angezeigt"
OUTCOMES = {"ok": "gewährt", "denied": "abgewiesen", "not_found": "nichts gefunden"}
CONSENT_STATUS = {**wording.CONSENT_STATUS, "active": "aktiv"}


def masked_ahv(ahv: AhvNumber) -> str:
    """``756.****.****.12``: enough for the person to recognise the number, not to use it."""
    return f"756.****.****.{ahv.digits[-2:]}"


def letter_context(
    report: AccessReport,
    *,
    ahv: AhvNumber,
    requested_by: str,
    ticket: str | None,
    short_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything ``access_report.html`` shows, in German; the tables name institutions by
    their ``short_names`` (registry id → short name) where given, to fit the page."""
    shorter = short_names or {}

    def short(institution: Institution) -> str:
        return shorter.get(institution.id, institution.name)

    return {
        "subject": SUBJECT,
        "date": report.generated_on,
        "report": report,
        "ahv": masked_ahv(ahv),
        "requested_by": requested_by,
        "ticket": ticket,
        "categories": [wording.german(wording.CATEGORIES, c) for c in report.categories],
        "entries": [(wording.event_label(e.event_type), e.count) for e in report.entries],
        "origins": [i.name for i in report.origins],
        "receipts": [_receipt(r, short) for r in report.receipts],
        "receipts_more": report.receipts_total - len(report.receipts),
        "accesses": [
            {
                "at": wording.moment(a.at),
                "institution": a.institution.name,
                "role": wording.caller_role(a.role),
                "action": ACTIONS.get(a.action, "Zugriff"),
                "outcome": OUTCOMES.get(a.outcome, a.outcome),
            }
            for a in report.accesses
        ],
        "accesses_more": report.accesses_total - len(report.accesses),
        "list_views": [
            {
                "day": wording.day(v.day),
                "institution": short(v.institution),
                "role": wording.caller_role(v.role),
                "lists": f"{SHOWN_IN_LISTS}: " + ", ".join(LISTS.get(a, a) for a in v.lists),
                "count": v.count,
            }
            for v in report.list_views
        ],
        "list_views_more": report.list_views_total - len(report.list_views),
        "consents": [
            {
                "recorded_by": short(c.recorded_by),
                "institutions": ", ".join(short(i) for i in c.institutions),
                "categories": ", ".join(
                    wording.german(wording.CATEGORIES, k) for k in c.categories
                ),
                "valid": _period(c.valid_from, c.valid_until),
                "form": c.document_ref,
                "status": CONSENT_STATUS.get(c.status.value, c.status.value),
                "revoked": wording.moment(c.revoked_at) if c.revoked_at else None,
                "revocation_ref": c.revocation_ref,
            }
            for c in report.consents
        ],
    }


def render_access_report(
    report: AccessReport,
    *,
    ahv: AhvNumber,
    requested_by: str,
    ticket: str | None,
    short_names: Mapping[str, str] | None = None,
) -> bytes:
    """The letter as PDF (about a second: call it in a thread from a request handler)."""
    context = letter_context(
        report, ahv=ahv, requested_by=requested_by, ticket=ticket, short_names=short_names
    )
    return render_pdf(TEMPLATE, context)


def _receipt(receipt: Receipt, short: Callable[[Institution], str]) -> dict[str, str]:
    grounds = [
        f"Einwilligung (Formular {c.document_ref})" if c.document_ref else "Einwilligung"
        for c in receipt.consents
    ] + [f"Gesetz: {a}" for a in receipt.articles]
    categories = (
        ", ".join(wording.german(wording.CATEGORIES, c) for c in receipt.categories)
        if receipt.categories is not None
        else NOT_RECORDED
    )
    return {
        "at": wording.moment(receipt.at),
        "recipient": short(receipt.recipient),
        "origin": short(receipt.origin) if receipt.origin else "IIZ-Koordination",
        "entry": _entry_label(receipt.event_type),
        "categories": categories or wording.DASH,
        "basis": "; ".join(grounds) or BASES.get(receipt.basis, receipt.basis),
    }


def _entry_label(event_type: str) -> str:
    if event_type.startswith(ALERT_PREFIX):
        kind = event_type.removeprefix(ALERT_PREFIX)
        return ALERTS.get(kind, "Hinweis")
    return wording.event_label(event_type)


def _period(start: dt.date, end: dt.date | None) -> str:
    return (
        f"{wording.day(start)} {wording.DASH} {wording.day(end)}"
        if end
        else f"ab {wording.day(start)}"
    )


def render_for_caller(
    report: AccessReport, *, ahv: AhvNumber, caller: Any, registry: Any, ticket: str | None
) -> bytes:
    """The letter as the caller's institution sends it (both doors use this)."""
    return render_access_report(
        report,
        ahv=ahv,
        requested_by=requester(caller, registry),
        ticket=ticket,
        short_names=wording.InstitutionNames.of(registry.institutions).shorter,
    )


def requester(caller: Any, registry: Any) -> str:
    """Who sends the letter: the caller's function and institution, never the person's name."""
    names = wording.InstitutionNames.of(registry.institutions)
    return f"{wording.caller_role(caller.role)}, {names.get(caller.institution)}"
