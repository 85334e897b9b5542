"""What the case page lists besides the chart: deadlines and the caller's events with their
(already minimised) details. Pure; reads only what the API gives the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.coordination.domain.summary import CaseSummary
from services.coordination.domain.working_days import business_date
from services.coordination.pages.wording import (
    NO_NAMES,
    InstitutionNames,
    details,
    event_label,
    event_name,
    field_label,
)
from services.coordination.reading.timeline import TimelineEntry

HIDDEN_KEYS = frozenset({"person"})  # the partner's own reference and the sealed AHV number


@dataclass(frozen=True)
class Deadline:
    due: dt.date
    what: str
    institution: str
    overdue: bool


@dataclass(frozen=True)
class EventRow:
    on: dt.date
    origin: str
    label: str
    case_number: str | None
    details: list[tuple[str, str]]
    withheld: list[str]
    document_id: str | None = None  # a document.shared: its download link


def deadlines(
    summary: CaseSummary, entries: Sequence[TimelineEntry], names: InstitutionNames = NO_NAMES
) -> list[Deadline]:
    """Answers due for open referrals, planned ends of measures, expected benefit exhaustion;
    overdue as the summary judged it (on today; never in a closed case)."""
    today = None if summary.closed else summary.judged_on
    found = [
        Deadline(
            r.answer_due,
            f"Antwort auf Anmeldung an {names.short(r.to_institution)}",
            r.to_institution,
            r.overdue,
        )
        for r in summary.open_referrals
    ]
    found += [
        Deadline(e.expected_on, "Voraussichtliche Aussteuerung", e.institution, e.overdue)
        for e in summary.expected_exhaustions
    ]
    ended = {
        str(e.data.get("measure_id")) for e in entries if event_name(e.type) == "measure.ended"
    }
    for entry in entries:
        name, data = event_name(entry.type), entry.data
        due = _date(data.get("planned_end") if name == "measure.started" else None)
        if due and str(data.get("measure_id")) not in ended:
            found.append(_deadline(due, "Geplantes Ende der Massnahme", entry.origin, today))
    return sorted(found, key=lambda d: (d.due, d.institution))


def _deadline(due: dt.date, what: str, institution: str, today: dt.date | None) -> Deadline:
    return Deadline(due, what, institution, today is not None and due < today)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def event_rows(
    entries: Sequence[TimelineEntry], names: InstitutionNames = NO_NAMES
) -> list[EventRow]:
    """The caller's entries, newest first, with the fields the API returned to it (German
    labels, readable values) and the fields withheld from it (by their German labels)."""
    return [
        EventRow(
            on=business_date(e.time),
            origin=e.origin,
            label=event_label(e.type),
            case_number=e.case_number,
            details=details(event_name(e.type), e.data, names, skip=HIDDEN_KEYS),
            withheld=[field_label(path) for path in e.withheld],
            document_id=_document_id(e),
        )
        for e in reversed(entries)
    ]


def _document_id(entry: TimelineEntry) -> str | None:
    if event_name(entry.type) != "document.shared":
        return None
    found = entry.data.get("document_id")
    return str(found) if found else None
