"""Print the yearly report: Jinja2 templates under ``templates/`` (autoescaped), with the letters'
A4 layout (``letters/templates/letter.css``) and inline SVG charts; WeasyPrint lays it out.
Fetches nothing (no network, no files); a few seconds: call it in a thread from a request."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.coordination.letters import pdf as letters
from services.coordination.reports import numbers
from services.coordination.reports.content import Report

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "annual_report.html"
LETTERHEAD = "Kanton Basel-Landschaft \u2014 IIZ-Ausschuss"
UNIT = "Interinstitutionelle Zusammenarbeit (IIZ)"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATES), FileSystemLoader(letters.TEMPLATES)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(letterhead=LETTERHEAD, unit=UNIT, dash=numbers.DASH)
    env.filters.update(long_date=letters.long_date, count=numbers.grouped, tick=numbers.tick)
    return env


def render_html(report: Report, *, made_on: dt.date) -> str:
    """The report's HTML; for tests and previews."""
    return _environment().get_template(TEMPLATE).render(report=report, made_on=made_on)


def render_report(report: Report, *, made_on: dt.date) -> bytes:
    """The report as PDF bytes."""
    # imported here: loading pango costs ~0.5 s, and only PDFs need it
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    refuse_all = URLFetcher(allowed_protocols=())  # styles and charts are inline
    pdf: bytes = HTML(
        string=render_html(report, made_on=made_on), url_fetcher=refuse_all
    ).write_pdf()
    return pdf
