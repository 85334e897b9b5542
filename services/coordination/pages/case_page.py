"""What the case page lists besides the chart: deadlines and the caller's events with their
(already minimised) details. Pure; reads only what the API gives the caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.coordination.domain.summary import CaseSummary
from services.coordination.domain.working_days import business_date
from services.coordination.pages.wording import event_label, event_name
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


def deadlines(summary: CaseSummary, entries: Sequence[TimelineEntry]) -> list[Deadline]:
    """Answers due for open referrals, planned ends of measures, expected benefit exhaustion."""
    today = summary.last_event_on
    found = [
        Deadline(
            r.answer_due,
            f"Antwort auf Anmeldung an {r.to_institution}",
            r.to_institution,
            r.overdue,
        )
        for r in summary.open_referrals
    ]
    ended = {
        str(e.data.get("measure_id")) for e in entries if event_name(e.type) == "measure.ended"
    }
    for entry in entries:
        name, data = event_name(entry.type), entry.data
        due = _date(data.get("planned_end") if name == "measure.started" else None)
        if due and str(data.get("measure_id")) not in ended:
            found.append(_deadline(due, "Geplantes Ende der Massnahme", entry.origin, today))
        forecast = _date(
            data.get("expected_end") if name == "benefit.exhaustion.expected" else None
        )
        if forecast:
            found.append(_deadline(forecast, "Voraussichtliche Aussteuerung", entry.origin, today))
    return sorted(found, key=lambda d: (d.due, d.institution))


def _deadline(due: dt.date, what: str, institution: str, today: dt.date | None) -> Deadline:
    return Deadline(due, what, institution, today is not None and due < today)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def event_rows(entries: Sequence[TimelineEntry]) -> list[EventRow]:
    """The caller's entries, newest first, with the fields the API returned to it."""
    return [
        EventRow(
            on=business_date(e.time),
            origin=e.origin,
            label=event_label(e.type),
            case_number=e.case_number,
            details=list(_flatten(e.data)),
            withheld=list(e.withheld),
        )
        for e in reversed(entries)
    ]


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []
    for key, value in data.items():
        if (not prefix and key in HIDDEN_KEYS) or key.endswith("_id"):
            continue  # identifiers mean nothing to a reader
        if isinstance(value, dict):
            shown += _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            shown.append((prefix + key, ", ".join(str(v) for v in value)))
        elif value is not None:
            shown.append((prefix + key, str(value)))
    return shown
