"""The notice letter's content (AVG Art. 35a Abs. 1ter: the person is informed "über den
erfolgten Datenaustausch und dessen Inhalt"), for ``letters/templates/notice.html``. Pure.

Who sent what to whom and when, which kinds of data (German categories), the article with its
wording from the legal-basis matrix the notice was derived under, how to ask for an access
report, and whom to contact. The person is addressed by the sending institution's own case
reference (else the IIZ case number): the bus knows no name, address or AHV number, and the
letter carries none; the institution adds the address from its own file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from schemas.registry.institutions import InstitutionRegistry
from services.coordination.domain.policy import LegalBasisMatrix
from services.coordination.pages.wording import CATEGORIES, InstitutionNames, event_label
from services.coordination.reading.notices import NoticeView

TEMPLATE = "notice"
SUBJECT = "Mitteilung über einen Datenaustausch in der interinstitutionellen Zusammenarbeit"


@dataclass(frozen=True)
class ArticleText:
    article: str
    text: str | None  # None: the matrix in force is another version; the text is on request
    source: str | None


def letter_context(
    notice: NoticeView,
    registry: InstitutionRegistry,
    matrix: LegalBasisMatrix,
    today: dt.date,
) -> dict[str, Any]:
    """Everything ``notice.html`` shows, as plain values."""
    names = InstitutionNames.of(registry.institutions)
    sender = registry.by_id.get(notice.sender)
    contact = getattr(sender, "coordinator_email", None)
    reference = notice.case_ref or notice.case_number
    return {
        "subject": SUBJECT,
        "date": today,
        "sender": {"unit": names.get(notice.sender), "lines": [contact] if contact else []},
        "recipient": [
            "An die betroffene Person",
            "(Anschrift gemäss unserem Dossier)",
        ],
        "reference": reference,
        "reference_kind": "Unsere Fallnummer" if notice.case_ref else "IIZ-Fallnummer",
        "case_number": notice.case_number,
        "sender_name": names.get(notice.sender),
        "recipient_name": names.get(notice.recipient),
        "exchanged_on": notice.exchanged_at,
        "content": event_label(notice.event_type),
        "categories": [CATEGORIES.get(c, c) for c in notice.categories],
        "articles": [_article(a, notice.legal_basis_version, matrix) for a in notice.articles],
        "draft": matrix.status if matrix.status and matrix.status != "in-force" else None,
        "matrix_version": notice.legal_basis_version,
        "contact": contact,
        "notice_id": str(notice.notice_id),
    }


def _article(article: str, version: str | None, matrix: LegalBasisMatrix) -> ArticleText:
    entry = matrix.text_of(article) if version == matrix.version else None
    if entry is None or not entry.text:
        return ArticleText(article, None, None)
    return ArticleText(article, entry.text, entry.source or None)


def filename(notice: NoticeView) -> str:
    """``Mitteilung-<date>-<first 8 of the id>.pdf``: no personal data in the name."""
    return f"Mitteilung-{notice.exchanged_at:%Y-%m-%d}-{str(notice.notice_id)[:8]}.pdf"
