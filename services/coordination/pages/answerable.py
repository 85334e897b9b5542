"""Which referrals the caller's institution may still answer, read off the entries it sees on
the case page (pure): referrals addressed to it that it has not declined or completed yet
(accepted ones can still be completed). The answer form checks again before it publishes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from services.coordination.domain.working_days import business_date
from services.coordination.pages.wording import event_name
from services.coordination.reading.timeline import TimelineEntry

ENDING = {"referral.declined": "declined", "referral.completed": "completed"}


@dataclass(frozen=True)
class Answerable:
    referral_id: str
    from_institution: str
    purpose: str
    requested_on: dt.date
    accepted: bool


def answerable(entries: Sequence[TimelineEntry], institution: str) -> list[Answerable]:
    """Referrals to ``institution`` still open or accepted, oldest first."""
    found: dict[str, Answerable] = {}
    for entry in entries:
        name, data = event_name(entry.type), entry.data
        referral_id = str(data.get("referral_id", ""))
        if name == "referral.requested" and data.get("to_institution") == institution:
            found.setdefault(
                referral_id,
                Answerable(
                    referral_id,
                    entry.origin,
                    str(data.get("purpose", "")),
                    business_date(entry.time),
                    accepted=False,
                ),
            )
        elif entry.origin == institution and referral_id in found:
            if name in ENDING:
                del found[referral_id]
            elif name == "referral.accepted":
                old = found[referral_id]
                found[referral_id] = Answerable(
                    old.referral_id,
                    old.from_institution,
                    old.purpose,
                    old.requested_on,
                    accepted=True,
                )
    return list(found.values())
