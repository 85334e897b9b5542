"""An uploaded document as the form keeps it: read whole (within the size limit), its kind
judged by content (``sniff``), hashed; sealed for the document store (``document_seal``).

A refusal is a German message for the field, naming the problem, never the content.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile

from services.common.document_seal import DocumentSeal
from services.common.document_store import StoredDocument
from services.common.settings import CommonSettings
from services.intake.http_door.form.sniff import media_type_of

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Upload:
    document_id: uuid.UUID
    content: bytes
    media_type: str
    title: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)

    def stored(self, seal: DocumentSeal, pseudonym: str, held_by: str) -> StoredDocument:
        return StoredDocument(
            document_id=self.document_id,
            pseudonym=pseudonym,
            held_by=held_by,
            media_type=self.media_type,
            size_bytes=self.size,
            sha256=self.sha256,
            sealed=seal.seal(self.document_id, self.content),
        )


def title_of(filename: str) -> str:
    name = re.split(r"[\\/]", filename)[-1]
    name = re.sub(r"\s+", " ", name).strip()
    return (name or "Dokument")[:200]


async def read_upload(form: FormData, field: str, max_bytes: int) -> Upload | str:
    """The upload in ``field``, or why it is refused (German)."""
    upload = form.get(field)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return "Bitte eine Datei auswählen."
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                return f"Die Datei ist zu gross (höchstens {max(1, max_bytes // 2**20)} MB)."
            chunks.append(chunk)
    finally:
        await upload.close()
    content = b"".join(chunks)
    if not content:
        return "Die Datei ist leer."
    media_type = media_type_of(content)
    if media_type is None:
        return (
            "Dieser Dateityp wird nicht angenommen: bitte ein PDF, JPEG oder PNG hochladen "
            "(massgebend ist der Inhalt der Datei, nicht ihr Name)."
        )
    return Upload(
        document_id=uuid.uuid4(),
        content=content,
        media_type=media_type,
        title=title_of(upload.filename),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def document_seal(settings: CommonSettings) -> DocumentSeal:
    return DocumentSeal.from_settings(settings)
