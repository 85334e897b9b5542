"""Reading PDF letters in tests: their text and their pages as images (pypdfium2, no poppler)."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
from PIL import Image, ImageStat

BROKEN_AT_HYPHEN = re.compile("\ufffe(?:\r?\n)?")


def words(pdf: bytes) -> str:
    """The text with every run of white space (line and page breaks too) as one space: for
    checking phrases that a table cell or a page may break."""
    return " ".join(pdf_text(pdf).split())


def pdf_text(pdf: bytes) -> str:
    """The text of every page (lines end in ``\n``), pages joined by a form feed. A word broken
    at its hyphen across lines (a table cell) comes back whole: PDFium marks the break U+FFFE."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = (page.get_textpage().get_text_range() for page in document)
        return "\f".join(BROKEN_AT_HYPHEN.sub("-", t).replace("\r\n", "\n") for t in pages)
    finally:
        document.close()


def page_count(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


def pdf_to_png(pdf: bytes, page: int = 0, scale: float = 1.5) -> Image.Image:
    """One page rendered as an RGB image (``.save(path)`` writes it as PNG)."""
    document = pdfium.PdfDocument(pdf)
    try:
        image: Image.Image = document[page].render(scale=scale).to_pil()
        return image.convert("RGB")
    finally:
        document.close()


def is_blank(image: Image.Image) -> bool:
    """Whether the page has nothing on it (every pixel the same)."""
    extrema = ImageStat.Stat(image.convert("L")).extrema[0]
    return extrema[0] == extrema[1]
