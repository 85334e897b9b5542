"""The notice letter as a PDF: rendered to a page image that is not blank, and its text holds
what AVG Art. 35a Abs. 1ter asks for (who gave what to whom, when, on which article with its
wording, the right of access, a contact) and no AHV number."""

from __future__ import annotations

import datetime as dt
import re

from schemas.ahv import contains_ahv_number
from services.coordination.letters.pdf import render_pdf
from services.coordination.pages.notice_letter import TEMPLATE, letter_context
from tests.pdf_pages import is_blank, pdf_text, pdf_to_png
from tests.unit.coordination.test_notices import PROFILE, REGISTRY, notice


def test_the_notice_letter_names_the_exchange_its_law_and_the_way_to_an_access_report() -> None:
    pdf = render_pdf(TEMPLATE, letter_context(notice(), REGISTRY, PROFILE, dt.date(2026, 3, 12)))

    assert not is_blank(pdf_to_png(pdf, 0))
    text = " ".join(pdf_text(pdf).split())
    for expected in (
        "Mitteilung über einen Datenaustausch",
        "Unsere Fallnummer: RAV-4711",
        "Bekanntgegeben an IV-Stelle Basel-Landschaft (SVA BL)",
        "Datum 10.03.2026",
        "Anlass Massnahme begonnen",
        "Art der Angaben Arbeitsmarkt, Fallführung",
        "AVG Art. 35a Abs. 1bis/1ter; AVIG Art. 85f Abs. 3",
        "über den erfolgten Datenaustausch und dessen Inhalt zu informieren",
        "Ihr Recht auf Auskunft",
        "Auskunftsbericht",
        "iiz-koordination.rav@example.org",
        "12. März 2026",
    ):
        assert expected in text, expected
    assert not contains_ahv_number(text)
    assert not re.search(r"\b(psn|prs):", text)  # no pseudonym either
