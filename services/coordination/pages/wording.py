"""German words for the codes the pages show (event types, kinds, categories, outcomes,
referral purposes, roles, the fields of an event's details) and the names of institutions.
The one place for these words: every page takes them from here. Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

EVENT_TYPES = {
    "case.opened": "Fall eröffnet",
    "case.closed": "Fall abgeschlossen",
    "case.participant.joined": "Institution beigetreten",
    "case.participant.left": "Institution ausgetreten",
    "case.project.assigned": "Projekt zugeordnet",
    "consent.granted": "Einwilligung erteilt",
    "consent.revoked": "Einwilligung widerrufen",
    "consent.confirmed": "Einwilligung bestätigt",
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
PURPOSES = {  # referral purposes (Zweck einer Anmeldung)
    "iv-early-detection": "Früherfassung IV",
    "zif-first-interview": "Erstgespräch ZIF",
    "potential-assessment": "Potenzialabklärung",
    "re-assessment": "Re-Assessment",
    "assessmentcenter-intake": "Aufnahme Assessmentcenter",
    "vocational-case-management": "Case Management Berufsbildung",
    "job-placement": "Vermittlung durch das RAV",
    "social-assistance-clarification": "Abklärung Sozialhilfe",
    "other": "Anderes",
}
DECLINE_REASONS = {
    "not-eligible": "Voraussetzungen nicht erfüllt",
    "no-capacity": "Keine Kapazität",
    "person-declined": "Person lehnt ab",
    "other": "Anderer Grund",
}
CALLER_ROLES = {  # the signed-in user's role (reading.caller.Role)
    "coordinator": "Koordination",
    "caseworker": "Fallführung",
    "auditor": "Datenschutz",
    "committee": "IIZ-Ausschuss",
}
MEASURE_KINDS = {
    "coaching": "Coaching",
    "labour-market-measure": "Arbeitsmarktliche Massnahme (AMM)",
    "job-search-support": "Stellensuche / Vermittlung",
    "iv-early-intervention": "Frühintervention IV",
    "iv-integration-measure": "Integrationsmassnahme IV",
    "iv-vocational-measure": "Berufliche Massnahme IV",
    "language-course": "Sprachkurs",
    "budget-debt-counselling": "Budget- und Schuldenberatung",
    "work-integration": "Arbeitsintegration",
    "bridge-offer": "Brückenangebot",
    "apprenticeship": "Lehre / berufliche Grundbildung",
    "vocational-case-management": "Case Management Berufsbildung",
    "other": "Anderes",
}
MEASURE_RESULTS = {
    "completed": "abgeschlossen",
    "aborted": "abgebrochen",
    "transferred": "übergeben",
}
BENEFIT_KINDS = {
    "alv-daily-allowance": "ALV-Taggeld",
    "iv-daily-allowance": "IV-Taggeld",
    "iv-pension": "IV-Rente",
    "social-assistance": "Wirtschaftliche Sozialhilfe",
    "scholarship": "Stipendium",
    "other": "Andere",
}
BENEFIT_END_REASONS = {
    "exhausted": "Aussteuerung",
    "employment": "Erwerbstätigkeit",
    "replaced": "abgelöst durch andere Leistung",
    "other": "Anderer Grund",
}
APPOINTMENT_KINDS = {
    "case-conference": "Fallkonferenz",
    "round-table": "Runder Tisch",
    "interview": "Gespräch",
}
POTENTIALS = {"high": "hoch", "medium": "mittel", "low": "tief", "unclear": "unklar"}
BARRIERS = {
    "health": "Gesundheit",
    "language": "Sprache",
    "childcare": "Kinderbetreuung",
    "debts": "Schulden",
    "qualification": "Qualifikation",
    "housing": "Wohnen",
    "residence-status": "Aufenthaltsstatus",
    "other": "Anderes",
}
MEDIA_TYPES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG-Bild",
    "image/png": "PNG-Bild",
    "text/plain": "Text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word",
}
FIELDS = {  # an event's data fields, as the "Angaben" column names them
    "title": "Titel",
    "text": "Text",
    "note": "Bemerkung",
    "reason": "Grund",
    "result": "Ergebnis",
    "outcome": "Abschluss",
    "purpose": "Zweck",
    "to_institution": "An",
    "institution": "Institution",
    "institutions": "Institutionen",
    "institution_case_ref": "Eigene Fallnummer",
    "role": "Rolle",
    "project_code": "Projekt",
    "categories": "Kategorien",
    "valid_from": "Gültig ab",
    "valid_until": "Gültig bis",
    "document_ref": "Beleg",
    "answer_due": "Antwort bis",
    "first_appointment": "Erster Termin",
    "kind": "Art",
    "planned_end": "Geplantes Ende",
    "cost_chf": "Kosten",
    "financed_by": "Finanziert durch",
    "start": "Beginn",
    "end": "Ende",
    "expected_end": "Voraussichtliches Ende",
    "potential": "Potenzial",
    "barriers": "Hindernisse",
    "health_limitations": "Gesundheitliche Einschränkungen",
    "recommendation": "Empfehlung",
    "scheduled_for": "Termin",
    "held_on": "Durchgeführt am",
    "media_type": "Dateityp",
    "size_bytes": "Grösse",
    "sha256": "Prüfsumme (SHA-256)",
    "held_by": "Aufbewahrt bei",
    "person": "Person",
    "case_ref": "Fallnummer der Institution",
}
INSTITUTION_FIELDS = frozenset(
    {"to_institution", "institution", "institutions", "held_by", "financed_by"}
)
VALUE_WORDS: dict[str, Mapping[str, str]] = {  # fields whose values are codes, any event
    "purpose": PURPOSES,
    "categories": CATEGORIES,
    "role": ROLES,
    "outcome": OUTCOMES,
    "potential": POTENTIALS,
    "barriers": BARRIERS,
    "media_type": MEDIA_TYPES,
}
EVENT_VALUE_WORDS: dict[tuple[str, str], Mapping[str, str]] = {  # codes that depend on the event
    ("measure.started", "kind"): MEASURE_KINDS,
    ("measure.ended", "kind"): MEASURE_KINDS,
    ("measure.ended", "result"): MEASURE_RESULTS,
    ("benefit.granted", "kind"): BENEFIT_KINDS,
    ("benefit.ended", "kind"): BENEFIT_KINDS,
    ("benefit.ended", "reason"): BENEFIT_END_REASONS,
    ("benefit.exhaustion.expected", "kind"): BENEFIT_KINDS,
    ("appointment.scheduled", "kind"): APPOINTMENT_KINDS,
    ("referral.declined", "reason"): DECLINE_REASONS,
}
ZURICH = ZoneInfo("Europe/Zurich")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
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


def open_parallel(parallel: bool) -> str:
    """Whether institutions work in parallel in an open case, judged today."""
    return "Ja: mehrere Institutionen sind derzeit gleichzeitig aktiv" if parallel else "Nein"


def closed_parallel(parallel: bool) -> str:
    """The same for a closed case: what was so at closing, never "derzeit"."""
    if parallel:
        return "mehrere Institutionen waren beim Abschluss gleichzeitig aktiv"
    return "keine parallelen Angebote beim Abschluss"


# ---------------------------------------------------------------------------------------------
# Institutions


@dataclass(frozen=True)
class InstitutionNames:
    """Registry ids to names: ``get``/``name`` the full name, ``short`` the short one for
    narrow columns; an id the registry does not know stays the id."""

    full: Mapping[str, str]
    shorter: Mapping[str, str]

    @classmethod
    def of(cls, institutions: Iterable[Any]) -> InstitutionNames:
        """From the registry's institutions (anything with ``id``, ``name``, ``short``)."""
        found = list(institutions)
        return cls(
            {i.id: i.name for i in found},
            {i.id: getattr(i, "short", None) or i.name for i in found},
        )

    def get(self, institution: str | None, default: str | None = None) -> str:
        if institution is None:
            return default if default is not None else DASH
        return self.full.get(institution, default if default is not None else institution)

    def name(self, institution: str | None) -> str:
        return self.get(institution)

    def short(self, institution: str | None) -> str:
        if institution is None:
            return DASH
        return self.shorter.get(institution, institution)

    def shorts(self, institutions: Iterable[str]) -> str:
        return ", ".join(self.short(i) for i in institutions)


NO_NAMES = InstitutionNames({}, {})


def purpose_label(code: object) -> str:
    """``zif-first-interview`` → ``Erstgespräch ZIF`` (unknown codes as they are)."""
    return DASH if code is None or code == "" else PURPOSES.get(str(code), str(code))


def caller_role(role: object) -> str:
    """The signed-in user's role in German (Koordination, Fallführung, …)."""
    code = str(getattr(role, "value", role))
    return CALLER_ROLES.get(code, code)


@dataclass(frozen=True)
class SignedIn:
    """What the header says about the signed-in user."""

    person: str
    institution: str  # short name
    institution_name: str  # full name (the tooltip)
    role: str


def signed_in(caller: Any, names: InstitutionNames) -> SignedIn:
    """The caller as the header shows it: display name (else the user id), institution, role."""
    return SignedIn(
        person=getattr(caller, "display_name", None) or caller.user,
        institution=names.short(caller.institution),
        institution_name=names.get(caller.institution),
        role=caller_role(caller.role),
    )


# ---------------------------------------------------------------------------------------------
# An event's details


def field_label(path: str) -> str:
    """An event field's German label: ``valid_from`` → ``Gültig ab``; a nested path by its last
    part (``person.case_ref``); a value path ``barriers[health]`` → ``Hindernisse (Gesundheit)``;
    an unknown field as its name."""
    head, bracket, rest = path.partition("[")
    if bracket and rest.endswith("]"):
        field = head.rpartition(".")[2]
        value = rest[:-1]
        words = VALUE_WORDS.get(field, {})
        return f"{field_label(head)} ({words.get(value, value)})"
    return FIELDS.get(path, FIELDS.get(path.rpartition(".")[2], path))


def detail_value(event: str, path: str, value: Any, names: InstitutionNames = NO_NAMES) -> str:
    """An event field's value as a reader reads it: dates ``31.12.2026``, sizes in kB, codes
    in German, institutions by name, Ja/Nein; anything else as its text."""
    field = path.rpartition(".")[2]
    if isinstance(value, list | tuple):
        return ", ".join(detail_value(event, path, v, names) for v in value) or DASH
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "Ja" if value else "Nein"
    if field in INSTITUTION_FIELDS:
        return names.short(str(value))
    if field == "size_bytes" and isinstance(value, int | float):
        return size(value)
    if field == "cost_chf":
        return f"CHF {value}"
    words = EVENT_VALUE_WORDS.get((event, field)) or VALUE_WORDS.get(field)
    if words is not None:
        return words.get(str(value), str(value))
    return moment(value)


def details(
    event: str,
    data: Mapping[str, Any],
    names: InstitutionNames = NO_NAMES,
    *,
    skip: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """An event's (minimised) data as (German label, readable value) pairs, nested objects by
    their fields; identifiers (``…_id``) and the fields in ``skip`` left out."""
    hidden = frozenset(skip)
    shown: list[tuple[str, str]] = []

    def walk(values: Mapping[str, Any], prefix: str) -> None:
        for key, value in values.items():
            path = prefix + key
            if (not prefix and key in hidden) or key.endswith("_id"):
                continue  # identifiers mean nothing to a reader
            if isinstance(value, dict):
                walk(value, path + ".")
            elif value is not None:
                shown.append((field_label(path), detail_value(event, path, value, names)))

    walk(data, "")
    return shown


def size(size_bytes: float) -> str:
    """``2101`` → ``2.1 kB`` (Swiss notation); under 1 kB in bytes, from 1 MB in MB."""
    if size_bytes < 1000:
        return f"{int(size_bytes)} Bytes"
    if size_bytes < 1_000_000:
        return f"{size_bytes / 1000:.1f} kB".replace(".0 kB", " kB")
    return f"{size_bytes / 1_000_000:.1f} MB".replace(".0 MB", " MB")


def moment(value: object) -> str:
    """A date as ``31.12.2026``, a date and time as ``31.12.2026 14:30`` (Swiss time); any
    other value as its text."""
    if isinstance(value, dt.datetime):
        return _with_time(value)
    if isinstance(value, dt.date):
        return day(value)
    text = str(value)
    try:
        if ISO_DATE.match(text):
            return day(dt.date.fromisoformat(text))
        if ISO_DATETIME.match(text):
            return _with_time(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text
    return text


def _with_time(value: dt.datetime) -> str:
    local = value.astimezone(ZURICH) if value.tzinfo else value
    return local.strftime("%d.%m.%Y %H:%M")
