"""A municipality registers a person with ZIF through intake's web form (no e-mail, no event of
its own): Erstgespräch, Potenzialabklärung or Re-Assessment, with the person's consent and the
signed consent form uploaded (a small PDF).

In the year mode (``ScriptWriter.by_form`` false) the municipality's case management application
sends the same events through the HTTP door instead, stamped with the registration's simulated
time: the form stamps the real time, and a year of registrations cannot all happen today.

The script holds the events the form will make, in the form's order (``case.opened`` if the
municipality opens the case with it, ``consent.granted``, ``referral.requested`` to ZIF,
``document.shared`` announcing the signed form), built as the form builds them
(``services.intake.http_door.form.events``), with placeholder ids: the form derives the ids and
the time itself, and the driver learns them from what the municipality sees (the receipt page
and the receipts on its delivery topic).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from schemas.events import (
    CaseOpened,
    ConsentGranted,
    DocumentShared,
    EventData,
    ReferralRequested,
)
from schemas.vocabulary import DataCategory, ReferralPurpose
from services.intake.http_door.form.consent import CATEGORY_LABELS, ZIF
from services.intake.http_door.form.events import FORMS
from services.intake.http_door.form.uploads import title_of
from simulator.script import FormSubmission, ScriptWriter
from simulator.traits import Traits, confirm_by_the_others

SLUGS = {form.purpose: form for form in FORMS.values() if form.purpose is not None}
PDF = "application/pdf"


@dataclass(frozen=True)
class Registration:
    """The placeholders of the ids the form makes (the driver replaces them by the real ones)."""

    referral_id: uuid.UUID
    consent_id: uuid.UUID
    document_id: uuid.UUID
    municipality: str
    named: tuple[str, ...]  # the institutions the consent names
    categories: tuple[DataCategory, ...]

    def confirm(self, w: ScriptWriter) -> None:
        """The other named institutions confirm the consent when it names health or identity
        (``simulator.traits.confirm_by_the_others``)."""
        confirm_by_the_others(
            w, self.municipality, list(self.named), list(self.categories), self.consent_id
        )


def signed_consent_pdf(w: ScriptWriter, case_ref: str) -> bytes:
    """A small, well-formed PDF (``%PDF-1.x`` … ``%%EOF``) standing for the scanned form."""
    marker = f"Einwilligung {case_ref} {w.uuid().hex}".encode()
    return b"%PDF-1.7\n1 0 obj <<>> stream\n" + marker * 16 + b"\nendstream endobj\n%%EOF\n"


def register_with_zif(
    w: ScriptWriter,
    t: Traits,
    municipality: str,
    purpose: ReferralPurpose,
    categories: list[DataCategory],
    *,
    institutions: tuple[str, ...] = (),
    open_case: bool,
    note: str | None = None,
    answer_due: dt.date | None = None,
    after: dt.timedelta | None = None,
) -> Registration:
    """The form submission as steps (see the module's documentation). The consent runs from
    today, the day the person signed (the form takes no date in the future), for a year,
    or a few weeks when it is one that expires. The other named institutions' confirmations
    are the caller's to schedule (``Registration.confirm``), after the registrations made
    together."""
    form = SLUGS[purpose]
    extra = tuple(sorted(set(institutions) - {municipality, ZIF}))
    chosen = [c for c in CATEGORY_LABELS if c in categories]  # in the form's order
    valid_until = w.today + dt.timedelta(days=365)
    if t.expiring:
        valid_until = w.today + dt.timedelta(days=w.rng.randrange(12, 25))
        w.tags.add("consent-expires")
    if DataCategory.HEALTH not in chosen:
        w.tags.add("consent-without-health")
    if DataCategory.IDENTITY in chosen:
        w.tags.add("consent-with-identity")
    case_ref = w.case_ref(municipality)
    name = f"Einwilligung {case_ref}.pdf"
    content = signed_consent_pdf(w, case_ref)
    submission = FormSubmission(
        slug=form.slug,
        open_case=open_case,
        institutions=extra,
        categories=tuple(c.value for c in chosen),
        signed_on=w.today,
        valid_until=valid_until,
        answer_due=answer_due,
        note=note,
        document_name=name,
        document=content,
    )
    named = [municipality, ZIF, *extra]
    ids = Registration(
        w.uuid(), w.uuid(), w.uuid(), municipality, tuple(named), tuple(chosen)
    )  # fmt: skip
    referral: dict[str, Any] = {
        "referral_id": ids.referral_id,
        "to_institution": ZIF,
        "purpose": purpose,
    }
    if answer_due is not None:
        referral["answer_due"] = answer_due
    if note:
        referral["note"] = note
    parts: list[tuple[type[EventData], dict[str, Any]]] = []
    if open_case:
        parts.append((CaseOpened, {"reason": form.title}))
    parts += [
        (
            ConsentGranted,
            {
                "consent_id": ids.consent_id,
                "institutions": named,
                "categories": chosen,
                "valid_from": submission.signed_on,
                "valid_until": valid_until,
                "document_ref": str(ids.document_id),
            },
        ),
        (ReferralRequested, referral),
        (
            DocumentShared,
            {
                "document_id": ids.document_id,
                "title": title_of(name),
                "media_type": PDF,
                "size_bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "held_by": municipality,
            },
        ),
    ]
    if w.by_form:
        w.tags.add("zif-form")
        w.submit_form(municipality, submission, parts, after=after)
        return ids
    # The year mode: the municipality's case management application sends the same events
    # through the HTTP door, at the registration's business time, a minute apart.
    w.tags.add("zif-http")
    for number, (cls, fields) in enumerate(parts):
        w.send(municipality, cls, after=after if number == 0 else dt.timedelta(minutes=1), **fields)
    return ids
