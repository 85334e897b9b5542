"""German words for the codes the pages show (event types, kinds, categories, outcomes)."""

from __future__ import annotations

EVENT_TYPES = {
    "case.opened": "Fall eröffnet",
    "case.closed": "Fall abgeschlossen",
    "case.participant.joined": "Institution beigetreten",
    "case.participant.left": "Institution ausgetreten",
    "case.project.assigned": "Projekt zugeordnet",
    "consent.granted": "Einwilligung erteilt",
    "consent.revoked": "Einwilligung widerrufen",
    "referral.requested": "Anmeldung",
    "referral.accepted": "Anmeldung angenommen",
    "referral.declined": "Anmeldung abgelehnt",
    "referral.completed": "Zuweisung abgeschlossen",
    "measure.started": "Massnahme begonnen",
    "measure.ended": "Massnahme beendet",
    "benefit.granted": "Leistung zugesprochen",
    "benefit.ended": "Leistung beendet",
    "benefit.exhaustion.expected": "Voraussichtliche Aussteuerung",
    "assessment.completed": "Abklärung abgeschlossen",
    "appointment.scheduled": "Termin geplant",
    "appointment.held": "Termin durchgeführt",
    "document.shared": "Dokument geteilt",
    "coordination.note.added": "Notiz",
}
BAR_KINDS = {
    "measure": "Massnahme",
    "benefit": "Leistung",
    "referral": "Zuweisung",
    "waiting": "Anmeldung (bis Antwort)",
}
CATEGORIES = {
    "case-admin": "Fallführung",
    "employment": "Arbeitsmarkt",
    "benefits": "Leistungen",
    "education": "Berufsbildung",
    "integration": "Integration",
    "health": "Gesundheit",
    "documents": "Dokumente",
    "identity": "Identität",
}
CONSENT_STATUS = {
    "active": "gültig",
    "revoked": "widerrufen",
    "expired": "abgelaufen",
    "not-yet-valid": "noch nicht gültig",
}
OUTCOMES = {
    "employment": "Erwerbstätigkeit",
    "education": "Ausbildung",
    "iv-measure": "IV-Massnahme",
    "iv-pension": "IV-Rente",
    "social-assistance-exit": "Ablösung Sozialhilfe",
    "moved-away": "Wegzug",
    "other": "Anderes",
}
ROLES = {"lead": "fallführend", "participant": "beteiligt"}
TYPE_PREFIX = "ch.bl.iiz."
DASH = "\u2013"  # shown for a missing or suppressed value


def event_name(cloud_type: str) -> str:
    """``ch.bl.iiz.measure.started.v1`` → ``measure.started``."""
    name = cloud_type.removeprefix(TYPE_PREFIX)
    head, _, version = name.rpartition(".")
    return head if version.startswith("v") and version[1:].isdigit() else name


def event_label(cloud_type: str) -> str:
    name = event_name(cloud_type)
    return EVENT_TYPES.get(name, name)


def german(words: dict[str, str], code: str | None) -> str:
    """The German word for ``code``, else the code itself (a dash for none)."""
    if code is None:
        return DASH
    return words.get(code, code)


def day(value: object) -> str:
    """A date (or datetime) as ``31.12.2026``."""
    strftime = getattr(value, "strftime", None)
    return DASH if strftime is None else str(strftime("%d.%m.%Y"))
