"""Render a German letter to PDF: a Jinja2 template (autoescaped) under ``templates/`` that
extends ``letter_base.html``, which inlines the shared ``letter.css``; WeasyPrint lays it out.
Rendering fetches nothing (no network, no files; fonts come from fontconfig) and takes about a
second: call it in a thread from a request handler (``anyio.to_thread.run_sync``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
LETTERHEAD = "Interinstitutionelle Zusammenarbeit Basel-Landschaft"
MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
# WeasyPrint and fontTools log every font subset and CSS hint at INFO/WARNING; a letter is not news.
for _noisy in ("weasyprint", "fontTools", "fontTools.subset", "fontTools.ttLib"):
    logging.getLogger(_noisy).setLevel(logging.ERROR)


def long_date(value: dt.date) -> str:
    """``2026-11-12`` → ``12. November 2026``."""
    return f"{value.day}. {MONTHS[value.month - 1]} {value.year}"


def short_date(value: object) -> str:
    """A date or datetime as ``12.11.2026`` (a dash for none)."""
    strftime = getattr(value, "strftime", None)
    return "\u2013" if strftime is None else str(strftime("%d.%m.%Y"))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(letterhead=LETTERHEAD)
    env.filters.update(long_date=long_date, short_date=short_date)
    return env


def render_html(template: str, context: Mapping[str, Any]) -> str:
    """The letter's HTML (``template`` with or without ``.html``); for tests and previews."""
    name = template if template.endswith(".html") else f"{template}.html"
    return _environment().get_template(name).render(**context)


def render_pdf(template: str, context: Mapping[str, Any]) -> bytes:
    """The letter as PDF bytes. ``context`` fills the template; ``date`` (a ``datetime.date``)
    defaults to today, ``subject`` is the subject line, ``sender`` an optional mapping with
    ``unit``, ``lines`` (address lines) for the sender block."""
    # imported here: loading pango costs ~0.5 s, and only letters need it
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    values = {"date": dt.date.today(), "sender": None, "recipient": None, **context}
    html = render_html(template, values)
    refuse_all = URLFetcher(allowed_protocols=())  # the stylesheet is inline; nothing to fetch
    pdf: bytes = HTML(string=html, url_fetcher=refuse_all).write_pdf()
    return pdf
