"""What a test fills into the web form's ZIF registration: the consent section and the signed
consent form (a small, well-formed PDF)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from services.intake.http_door.form.consent import today


def pdf(marker: bytes | None = None) -> bytes:
    """A small PDF whose body holds ``marker`` (random by default), to search for later."""
    body = marker if marker is not None else uuid.uuid4().hex.encode()
    return b"%PDF-1.7\n1 0 obj <<>> stream\n" + body * 64 + b"\nendstream endobj\n%%EOF\n"


def consent_fields(
    categories: tuple[str, ...] = ("case-admin", "integration", "documents", "identity"),
    institutions: tuple[str, ...] = (),
    valid_days: int = 365,
) -> dict[str, Any]:
    on = today()
    return {
        "open_case": "1",
        "consent_categories": list(categories),
        "consent_institutions": list(institutions),
        "consent_signed_on": on.isoformat(),
        "consent_valid_until": (on + dt.timedelta(days=valid_days)).isoformat(),
    }


def signed_form(content: bytes | None = None) -> dict[str, tuple[str, bytes, str]]:
    return {
        "consent_document": (
            "Einwilligung unterschrieben.pdf",
            content if content is not None else pdf(),
            "application/pdf",
        )
    }
