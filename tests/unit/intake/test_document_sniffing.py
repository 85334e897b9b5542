"""Uploads are judged by content: PDF, JPEG and PNG by magic bytes and a structural check."""

from __future__ import annotations

import pytest

from services.intake.http_door.form.sniff import JPEG, PDF, PNG, media_type_of

PNG_FILE = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG_FILE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 64 + b"\xff\xd9"
PDF_FILE = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PDF_FILE, PDF),
        (b"%PDF-2.0\n" + b"x" * 5000 + b"\n%%EOF", PDF),
        (PNG_FILE, PNG),
        (JPEG_FILE, JPEG),
        (JPEG_FILE + b"\x00" * 8, JPEG),  # padding after EOI, as some cameras write
    ],
)
def test_well_formed_documents_are_recognised(content: bytes, expected: str) -> None:
    assert media_type_of(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"%PDF-1.7\nno end of file marker",
        b"%PDF-1.7\n%%EOF" + b"x" * 2000,  # the marker must be near the end
        b"%PDF-9.9\n%%EOF",
        b"%%EOF %PDF-1.7",
        PNG_FILE[:-12],  # no IEND
        PNG_FILE[:8] + b"\x00\x00\x00\rIHDX" + PNG_FILE[16:],  # not IHDR
        PNG_FILE[:16] + b"\x00\x00\x00\x00" + PNG_FILE[20:],  # width 0
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # no EOI
        b"GIF89a" + b"\x00" * 32,
        b"II*\x00" + b"\x00" * 32,  # TIFF
        b"MZ\x90\x00\x03",  # a Windows executable
        b"<html><script>alert(1)</script></html>",
        b"PK\x03\x04" + b"\x00" * 30,  # a ZIP (or an Office file)
    ],
)
def test_anything_else_is_refused(content: bytes) -> None:
    assert media_type_of(content) is None
