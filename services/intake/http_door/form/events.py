"""What each form submits: the four forms, and the CloudEvent in structured mode each builds.

Uploaded documents are only hashed: their content is neither stored nor forwarded
(``document.shared`` carries metadata and the hash).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import re
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile

from schemas.events import DocumentShared, ReferralRequested
from schemas.registry.institutions import Institution
from schemas.vocabulary import ReferralPurpose

ZIF = "zif"
_HASH_CHUNK = 64 * 1024


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


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def media_type_of(head: bytes, filename: str) -> str:
    """The media type from the content's first bytes, else from the file name's extension."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _title_of(filename: str) -> str:
    name = re.split(r"[\\/]", filename)[-1]
    name = re.sub(r"\s+", " ", name).strip()
    return (name or "Dokument")[:200]


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int
    media_type: str
    title: str


async def digest_of(upload: UploadFile) -> Digest:
    """Hash the upload in chunks; the content itself is dropped."""
    hasher, size, head = hashlib.sha256(), 0, b""
    while chunk := await upload.read(_HASH_CHUNK):
        if not head:
            head = chunk[:16]
        hasher.update(chunk)
        size += len(chunk)
    await upload.close()
    filename = upload.filename or ""
    return Digest(hasher.hexdigest(), size, media_type_of(head, filename), _title_of(filename))


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
        "person": {"ahv_number": ahv, "case_ref": values["case_ref"]},
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


def document_event(
    institution: Institution, digest: Digest, values: dict[str, str], ahv: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person": {"ahv_number": ahv, "case_ref": values["case_ref"]},
        "document_id": str(uuid.uuid4()),
        "title": digest.title,
        "media_type": digest.media_type,
        "size_bytes": digest.size,
        "sha256": digest.sha256,
        "held_by": institution.id,
    }
    return _envelope(
        institution, DocumentShared.cloud_event_type(), DocumentShared.dataschema(), data
    )
