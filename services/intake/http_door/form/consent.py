"""The consent section of the ZIF registration forms: which institutions, which data
categories, the period, read from the form and checked with German messages per field.

The municipality and ZIF are always named (the registration goes from the one to the other);
further institutions of the canton may be ticked. ``health`` is covered only when ticked on its
own: no other choice implies it. ``case-admin`` must be ticked: the registration itself is of
that category, and without it the registration could not reach ZIF under this consent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from schemas.registry.institutions import Institution, InstitutionRegistry
from schemas.vocabulary import DataCategory, InstitutionKind

ZIF = "zif"
ZURICH = ZoneInfo("Europe/Zurich")

# In the order the form lists them, with the German label the person signed.
CATEGORY_LABELS: dict[DataCategory, str] = {
    DataCategory.CASE_ADMIN: "Fallführung (Anmeldung, Beteiligung, Termine)",
    DataCategory.INTEGRATION: "Integrationsförderung",
    DataCategory.EMPLOYMENT: "Arbeitsmarkt und Stellensuche",
    DataCategory.EDUCATION: "Berufsbildung",
    DataCategory.BENEFITS: "Leistungen (Taggelder, Renten, Sozialhilfe)",
    DataCategory.DOCUMENTS: "Dokumente",
    DataCategory.IDENTITY: "AHV-Nummer",
    DataCategory.HEALTH: "Gesundheit (besonders schützenswert)",
}


@dataclass(frozen=True)
class ConsentChoice:
    institutions: list[str]
    categories: list[DataCategory]
    valid_from: dt.date
    valid_until: dt.date


def today() -> dt.date:
    return dt.datetime.now(ZURICH).date()


def optional_institutions(registry: InstitutionRegistry, sender: Institution) -> list[Institution]:
    """Institutions the person may name besides the municipality and ZIF: the canton's
    offices (not other municipalities)."""
    return [
        i
        for i in registry.institutions
        if i.id not in (sender.id, ZIF) and i.kind is not InstitutionKind.SOCIAL_SERVICES
    ]


def _date(form: FormData, name: str) -> dt.date | None:
    value = form.get(name)
    try:
        return dt.date.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def consent_values(form: FormData) -> dict[str, str]:
    """What the page shows again after a refusal (no personal data)."""
    return {
        "consent_signed_on": str(form.get("consent_signed_on") or "")[:40],
        "consent_valid_until": str(form.get("consent_valid_until") or "")[:40],
        "consent_institutions": " ".join(str(v)[:40] for v in form.getlist("consent_institutions")),
        "consent_categories": " ".join(str(v)[:40] for v in form.getlist("consent_categories")),
        "open_case": "1" if form.get("open_case") == "1" else "",
    }


def read_consent(
    form: FormData, sender: Institution, registry: InstitutionRegistry, on: dt.date
) -> ConsentChoice | dict[str, str]:
    """The consent as the form states it on the day ``on``, or the messages per field."""
    errors: dict[str, str] = {}
    allowed = {i.id for i in optional_institutions(registry, sender)}
    ticked = [str(v) for v in form.getlist("consent_institutions")]
    if any(v not in allowed for v in ticked):
        errors["consent_institutions"] = "Bitte nur Stellen aus der Liste auswählen."
    known = {c.value for c in DataCategory}
    chosen = [str(v) for v in form.getlist("consent_categories")]
    if any(v not in known for v in chosen):
        errors["consent_categories"] = "Bitte nur Datenkategorien aus der Liste auswählen."
    elif DataCategory.CASE_ADMIN.value not in chosen:
        errors["consent_categories"] = (
            "Bitte «Fallführung» ankreuzen: ohne diese Kategorie erreicht die Anmeldung das ZIF "
            "nicht. Kreuzen Sie nur an, was die Person auf dem Formular unterschrieben hat."
        )
    signed_on = _date(form, "consent_signed_on")
    if signed_on is None:
        errors["consent_signed_on"] = "Bitte das Datum der Unterschrift angeben."
    elif signed_on > on:
        errors["consent_signed_on"] = "Das Datum der Unterschrift liegt in der Zukunft."
    valid_until = _date(form, "consent_valid_until")
    if valid_until is None:
        errors["consent_valid_until"] = "Bitte angeben, bis wann die Einwilligung gilt."
    elif valid_until < on:
        errors["consent_valid_until"] = "Die Einwilligung ist bereits abgelaufen."
    if errors:
        return errors
    assert signed_on is not None
    assert valid_until is not None
    return ConsentChoice(
        institutions=[sender.id, ZIF, *sorted(set(ticked))],
        categories=[c for c in CATEGORY_LABELS if c.value in chosen],
        valid_from=signed_on,
        valid_until=valid_until,
    )
