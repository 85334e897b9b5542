"""German messages for a refused form submission, next to the fields they are about.

The messages name the problem, never the value (no AHV number is echoed).
"""

from __future__ import annotations

from schemas.errors import ContractError, ReasonCode
from schemas.storable import CANNOT_BE_STORED

_AHV_MESSAGES = (
    ("13 digits", "Die AHV-Nummer ist ungültig: sie hat 13 Ziffern (756.xxxx.xxxx.xx)."),
    ("country code 756", "Die AHV-Nummer ist ungültig: sie beginnt mit 756."),
    ("check digit", "Die AHV-Nummer ist ungültig: die Prüfziffer stimmt nicht."),
)


def _ahv_message(error: ContractError, submitted: str) -> str:
    if not submitted.strip():
        return "Bitte die AHV-Nummer angeben."
    return next(
        (german for english, german in _AHV_MESSAGES if english in error.message),
        "Die AHV-Nummer ist ungültig.",
    )


def _field_message(location: str, values: dict[str, str]) -> tuple[str, str] | None:
    if location == "data.person.ahv_number":
        return "ahv_number", "Bitte eine gültige AHV-Nummer angeben."
    if location == "data.person.case_ref":
        case_ref = values.get("case_ref", "")
        if not case_ref:
            return "case_ref", "Bitte die Fallnummer der Gemeinde angeben."
        if len(case_ref) > 64:
            return "case_ref", "Die Fallnummer ist zu lang (höchstens 64 Zeichen)."
        return "case_ref", (
            "Die Fallnummer darf nur Buchstaben, Ziffern sowie . _ / - enthalten und muss mit "
            "einem Buchstaben oder einer Ziffer beginnen."
        )
    if location == "data.note":
        return "note", "Die Bemerkung ist zu lang (höchstens 1000 Zeichen)."
    if location == "data.answer_due":
        return "answer_due", "Bitte ein gültiges Datum angeben."
    if location in ("data.title", "data.media_type", "data.size_bytes", "data.sha256"):
        return "document", "Diese Datei kann nicht gemeldet werden (Dateiname zu lang?)."
    return _CONSENT_FIELDS.get(location)


# The consent section of the ZIF registrations (the form checks these first; kept for safety).
_CONSENT_FIELDS = {
    "data.institutions": ("consent_institutions", "Bitte die beteiligten Stellen prüfen."),
    "data.categories": ("consent_categories", "Bitte die Datenkategorien prüfen."),
    "data.valid_from": ("consent_signed_on", "Bitte das Datum der Unterschrift prüfen."),
    "data.valid_until": ("consent_valid_until", "Bitte das Ende der Gültigkeit prüfen."),
    "data.document_ref": ("consent_document", "Das unterschriebene Formular fehlt."),
}


# Text PostgreSQL cannot store (e.g. a NUL character pasted from another program).
_UNSTORABLE_MESSAGES = {
    "data.person.ahv_number": ("ahv_number", "Die AHV-Nummer enthält ein unzulässiges Zeichen."),
    "data.person.case_ref": (
        "case_ref",
        "Die Fallnummer enthält ein unzulässiges Zeichen (angezeigt als �).",
    ),
    "data.note": (
        "note",
        "Die Bemerkung enthält ein unzulässiges Zeichen (angezeigt als �). Bitte entfernen Sie es.",
    ),
    "data.answer_due": ("answer_due", "Bitte ein gültiges Datum angeben."),
    "data.title": (
        "document",
        "Der Dateiname enthält ein unzulässiges Zeichen. Bitte benennen Sie die Datei um.",
    ),
}


def _problem_message(problem: str, values: dict[str, str]) -> tuple[str, str] | None:
    location, _, what = problem.partition(":")
    if CANNOT_BE_STORED in what:
        return _UNSTORABLE_MESSAGES.get(location.strip())
    return _field_message(location.strip(), values)


def field_errors(error: ContractError, values: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """German messages per form field, and one for the whole form if no field fits.

    The messages name the problem, never the value (no AHV number is echoed).
    """
    if error.reason is ReasonCode.INVALID_AHV:
        return {"ahv_number": _ahv_message(error, values.get("ahv_number", ""))}, None
    errors: dict[str, str] = {}
    if error.reason is ReasonCode.SCHEMA_VIOLATION:
        for part in error.message.split("; "):
            found = _problem_message(part, values)
            if found is not None:
                errors.setdefault(*found)
    if errors:
        return errors, None
    return {}, (
        f"Die Übermittlung wurde abgelehnt (Grund: {error.reason.value}). Bitte prüfen Sie die "
        "Angaben; besteht das Problem weiter, wenden Sie sich an den Support des Kantonalen "
        "Sozialamts."
    )
