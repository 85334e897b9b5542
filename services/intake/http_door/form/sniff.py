"""Which kind of document an upload is, judged by its content alone (the file name and the
browser's Content-Type do not count): PDF, JPEG or PNG, else none.

Each kind is recognised by its magic bytes and a structural check of its frame, so a file that
merely starts like a PDF (or a PNG header glued to something else) is refused:

- PDF: ``%PDF-1.x`` or ``%PDF-2.x`` at the start, ``%%EOF`` in the last 1024 bytes.
- PNG: the 8-byte signature, an ``IHDR`` chunk of 13 bytes right after it (width and height not
  zero), and the ``IEND`` chunk at the end.
- JPEG: ``FF D8 FF`` at the start (SOI and a marker) and the EOI marker ``FF D9`` at the end
  (up to a few padding bytes after it, as some cameras write).

Pure: no I/O.
"""

from __future__ import annotations

import re
import struct

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
ACCEPTED = (PDF, JPEG, PNG)

_PDF_HEADER = re.compile(rb"%PDF-[12]\.[0-9]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_TAIL = 1024
_JPEG_PADDING = 16


def media_type_of(content: bytes) -> str | None:
    """``application/pdf``, ``image/jpeg`` or ``image/png``; None for anything else."""
    if _is_pdf(content):
        return PDF
    if _is_png(content):
        return PNG
    if _is_jpeg(content):
        return JPEG
    return None


def _is_pdf(content: bytes) -> bool:
    return _PDF_HEADER.match(content) is not None and b"%%EOF" in content[-_TAIL:]


def _is_png(content: bytes) -> bool:
    if not content.startswith(_PNG_SIGNATURE) or len(content) < 8 + 25 + len(_PNG_IEND):
        return False
    length, kind, width, height = struct.unpack(">I4sII", content[8:24])
    return (
        length == 13
        and kind == b"IHDR"
        and width > 0
        and height > 0
        and content.endswith(_PNG_IEND)
    )


def _is_jpeg(content: bytes) -> bool:
    if len(content) < 4 or not content.startswith(b"\xff\xd8\xff"):
        return False
    return b"\xff\xd9" in content[-(_JPEG_PADDING + 2) :]
