"""What each form submits: the four forms, and the CloudEvents in structured mode they build.

A ZIF registration builds, in this order: ``case.opened`` (unless the municipality says it
already takes part in the person's case), ``consent.granted`` (its ``document_ref`` is the id of
the signed form), ``referral.requested`` to ZIF and ``document.shared`` announcing the signed
form. Coordination decides each at its bus position: the opening makes the municipality take
part, so it may record the consent and refer; the consent is active before the referral, which
invites ZIF; the announcement after the referral reaches ZIF under the consent (if it lists
``documents``). An uploaded document is stored sealed before any of them is published
(``uploads``); the events carry its id, type, size and hash, never its bytes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from schemas.events import CaseOpened, ConsentGranted, DocumentShared, ReferralRequested
from schemas.registry.institutions import Institution
from schemas.vocabulary import ReferralPurpose
from services.intake.http_door.form.consent import ZIF, ConsentChoice
from services.intake.http_door.form.uploads import Upload


@dataclass(frozen=True)
class FormKind:
    slug: str
    title: str
    intro: str
    purpose: ReferralPurpose | None  # None: the document form

    @property
    def is_document(self) -> bool:
        return self.purpose is None


FORMS: dict[str, FormKind] = {
    form.slug: form
    for form in (
        FormKind(
            "erstgespraech",
            "Anmeldung Erstgespräch",
            "Melden Sie eine vorläufig aufgenommene Person oder einen Flüchtling beim ZIF für "
            "das Erstgespräch an.",
            ReferralPurpose.ZIF_FIRST_INTERVIEW,
        ),
        FormKind(
            "potenzialabklaerung",
            "Anmeldung Potenzialabklärung",
            "Melden Sie eine Person beim ZIF für die Abklärung ihres Potenzials an.",
            ReferralPurpose.POTENTIAL_ASSESSMENT,
        ),
        FormKind(
            "re-assessment",
            "Anmeldung Re-Assessment",
            "Melden Sie eine Person beim ZIF für ein erneutes Assessment an.",
            ReferralPurpose.RE_ASSESSMENT,
        ),
        FormKind(
            "dokument",
            "Dokument übermitteln",
            "Melden Sie ein Dokument (Kursbescheinigung, Vertrag, Zeugnis usw.) zu einem Fall.",
            None,
        ),
    )
}


def _envelope(
    institution: Institution, type_: str, dataschema: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": institution.source,
        "type": type_,
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "datacontenttype": "application/json",
        "dataschema": dataschema,
        "data": data,
    }


def referral_event(
    institution: Institution, purpose: ReferralPurpose, values: dict[str, str], ahv: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person": _person(values, ahv),
        "referral_id": str(uuid.uuid4()),
        "to_institution": ZIF,
        "purpose": purpose.value,
    }
    if values.get("answer_due"):
        data["answer_due"] = values["answer_due"]
    if values.get("note"):
        data["note"] = values["note"]
    return _envelope(
        institution, ReferralRequested.cloud_event_type(), ReferralRequested.dataschema(), data
    )


def _person(values: dict[str, str], ahv: str) -> dict[str, Any]:
    return {"ahv_number": ahv, "case_ref": values["case_ref"]}


def case_opened_event(
    institution: Institution, reason: str, values: dict[str, str], ahv: str
) -> dict[str, Any]:
    data = {"person": _person(values, ahv), "reason": reason[:500]}
    return _envelope(institution, CaseOpened.cloud_event_type(), CaseOpened.dataschema(), data)


def consent_event(
    institution: Institution,
    consent: ConsentChoice,
    values: dict[str, str],
    ahv: str,
    signed_form: Upload,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person": _person(values, ahv),
        "consent_id": str(uuid.uuid4()),
        "institutions": consent.institutions,
        "categories": [c.value for c in consent.categories],
        "valid_from": consent.valid_from.isoformat(),
        "valid_until": consent.valid_until.isoformat(),
        "document_ref": str(signed_form.document_id),
    }
    return _envelope(
        institution, ConsentGranted.cloud_event_type(), ConsentGranted.dataschema(), data
    )


def document_event(
    institution: Institution, upload: Upload, values: dict[str, str], ahv: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person": _person(values, ahv),
        "document_id": str(upload.document_id),
        "title": upload.title,
        "media_type": upload.media_type,
        "size_bytes": upload.size,
        "sha256": upload.sha256,
        "held_by": institution.id,
    }
    return _envelope(
        institution, DocumentShared.cloud_event_type(), DocumentShared.dataschema(), data
    )
