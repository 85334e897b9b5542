"""The shared letter layout: German text, escaping, page numbers, a page that is not blank."""

from __future__ import annotations

import datetime as dt

import pytest

from services.coordination.letters.pdf import LETTERHEAD, long_date, render_html, render_pdf
from tests.pdf_pages import is_blank, page_count, pdf_text, pdf_to_png

pytestmark = pytest.mark.unit


def test_long_date_names_the_month_in_german() -> None:
    assert long_date(dt.date(2026, 3, 1)) == "1. März 2026"


def test_template_values_are_escaped() -> None:
    html = render_html(
        "letter_base",
        {
            "subject": "<script>x</script>",
            "date": dt.date(2026, 1, 2),
            "sender": None,
            "recipient": None,
        },
    )
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;" in html


def test_a_long_letter_has_the_letterhead_and_page_numbers_on_every_page() -> None:
    pdf = render_pdf(
        "letter_base",
        {
            "subject": "Prüfbrief für Zoë Müller-Häfliger",
            "date": dt.date(2026, 11, 12),
            "recipient": ["Frau Zoë Müller-Häfliger"] + [f"Zeile {i}" for i in range(120)],
        },
    )
    pages = pdf_text(pdf).split("\f")
    assert page_count(pdf) == len(pages) >= 2
    for number, text in enumerate(pages, start=1):
        assert LETTERHEAD in text
        assert f"Seite {number} von {len(pages)}" in text
    assert "Liestal, 12. November 2026" in pdf_text(pdf)
    assert "Müller-Häfliger" in pages[0]
    assert not is_blank(pdf_to_png(pdf, page=0))
