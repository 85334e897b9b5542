"""The shared timeline as one institution sees it: each entry minimised exactly like its
delivery (the decision's withheld fields removed), with the basis it was shown on."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from services.coordination.domain.fields import without_fields
from services.coordination.reading.queries import Involvement


class Basis(BaseModel):
    """Why the reader may see an entry: its own event, a consent, or an article of law."""

    kind: str = Field(description="origin, consent, law or consent+law")
    consent_ids: list[uuid.UUID] = Field(default_factory=list)
    articles: list[str] = Field(default_factory=list)


class TimelineEntry(BaseModel):
    position: int = Field(description="Bus position (offset in iiz.case-events.v1).")
    event_id: uuid.UUID
    type: str = Field(description="CloudEvent type, e.g. ch.bl.iiz.referral.requested.v1.")
    time: dt.datetime = Field(description="Business time: when it happened.")
    origin: str = Field(description="Institution that published it.")
    category: str = Field(description="Data category of the event.")
    case_number: str | None = Field(description="The case it belongs to; None before a case.")
    basis: Basis
    withheld: list[str] = Field(
        description="Paths of the type's fields this reader may not see, listed whether or not"
        " this event carries them (a value path such as `barriers[health]` names one value)."
    )
    data: dict[str, Any] = Field(description="The event's data, minimised for this reader.")


class TimelinePage(BaseModel):
    case_number: str
    entries: list[TimelineEntry]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; None on the last page."
    )


NEVER_IN_THE_TIMELINE = frozenset({"person.ahv_number", "person.sealed_ahv"})


def timeline_entry(row: Any, reader: str) -> TimelineEntry:
    """A timeline row (with the reader's decision) as the reader may see it."""
    own = row["origin"] == reader
    data = json.loads(row["event"]).get("data", {})
    # The reader is told which of the type's fields it may not see: all of them, whether this
    # event carries them or not, so that the list says nothing about the person (a
    # ``health_limitations`` listed only when present would tell that there are some). The AHV
    # number is never in the timeline at all (neither clear nor sealed), so it is not listed.
    # It is still taken out, should a row ever hold it.
    taken_out = set() if own else set(row["withheld"] or [])
    withheld = [p for p in row["withheld"] or [] if p in taken_out - NEVER_IN_THE_TIMELINE]
    return TimelineEntry(
        position=row["bus_offset"],
        event_id=row["event_id"],
        type=row["type"],
        time=row["occurred_at"],
        origin=row["origin"],
        category=row["datacategory"],
        case_number=row["case_number"],
        basis=Basis(
            kind="origin" if own else (row["basis_kind"] or "consent"),
            consent_ids=[] if own else list(row["consent_ids"] or []),
            articles=[] if own else list(row["articles"] or []),
        ),
        withheld=withheld,
        data=without_fields(data, taken_out),
    )


def timeline_basis(involved: Involvement, entries: Sequence[TimelineEntry]) -> str:
    """The audit row's basis of a read of entries: the involvement, the consents, the law."""
    consents = sorted({str(c) for e in entries for c in e.basis.consent_ids})
    articles = sorted({a for e in entries for a in e.basis.articles})
    parts = [involved.basis()]
    if consents:
        parts.append("consent " + " ".join(consents))
    if articles:
        parts.append("law " + "; ".join(articles))
    return "; ".join(parts)
