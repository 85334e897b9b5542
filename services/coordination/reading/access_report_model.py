"""The access report's JSON (DSG Art. 25): what the bus did with one person's data. It names
institutions and functions, never staff, and carries no AHV number and no pseudonym."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas.vocabulary import DataCategory

# The newest entries the report keeps per table (JSON and letter alike); the totals count all.
RECEIPT_LIMIT = 40
ACCESS_LIMIT = 40
LIST_VIEW_LIMIT = 30


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ConsentStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"


class Institution(_Model):
    id: str = Field(description="Registry id of the institution.")
    name: str = Field(description="Its name in the registry (the id if unknown).")


class ConsentRef(_Model):
    consent_id: uuid.UUID
    document_ref: str | None = Field(
        description="Reference of the signed form at its holder; null when not on the bus."
    )


class Receipt(_Model):
    """One event's delivery to one institution other than its origin, or one alert."""

    at: dt.datetime = Field(description="When coordination decided the delivery.")
    event_type: str = Field(
        description="Kind of entry (CloudEvents type), or alert:<kind> for an alert."
    )
    origin: Institution | None = Field(
        description="Who recorded the entry (null: coordination, for an alert)."
    )
    recipient: Institution
    categories: list[DataCategory] | None = Field(
        description="Categories delivered; null for decisions recorded before they were noted."
    )
    basis: str = Field(description="consent, law, consent+law, or coordination (alerts).")
    consents: list[ConsentRef]
    articles: list[str] = Field(description="Articles of law the delivery rested on.")


class Access(_Model):
    """A person's case or data looked at by a user (institution and function only; neither the
    user nor the free-text purpose they gave, which may name other people)."""

    at: dt.datetime
    institution: Institution
    role: str = Field(description="The user's function: coordinator, caseworker, auditor, ...")
    action: str = Field(description="What was looked at, e.g. read-case, search-case.")
    outcome: str = Field(description="ok, denied or not_found.")


class ListView(_Model):
    """The person shown in lists (worklist, Posteingang, deadlines, notices) by one institution's
    function on one day: counted, not listed one by one."""

    day: dt.date = Field(description="The day (Swiss time).")
    institution: Institution
    role: str = Field(description="The users' function.")
    lists: list[str] = Field(description="Which lists: read-worklist, read-inbox, ...")
    count: int = Field(description="How often the person was shown in them that day.")


class Consent(_Model):
    consent_id: uuid.UUID
    recorded_by: Institution
    institutions: list[Institution]
    categories: list[DataCategory]
    valid_from: dt.date
    valid_until: dt.date | None
    document_ref: str = Field(description="Reference of the signed form at its holder.")
    status: ConsentStatus = Field(description="Judged on the report's day.")
    revoked_at: dt.datetime | None
    revocation_ref: str | None = Field(description="Reference of the written revocation.")


class EntryCount(_Model):
    event_type: str
    count: int


class AccessReport(_Model):
    """Everything the bus can say about one person, from its audit log and consent records."""

    generated_on: dt.date
    known: bool = Field(
        description="False: no data about the person are stored or can be attributed to them"
        " today (never processed, or erased: an erasure removes the link to the AHV number)."
    )
    erased_on: dt.date | None = Field(
        default=None,
        description="Day the person's data were erased, where the erasure can still be found"
        " (persons from before the person registry only).",
    )
    categories: list[DataCategory] = Field(description="Every category processed (Kategorien).")
    categories_complete: bool = Field(
        description="False when some decisions predate the recording of categories."
    )
    entries: list[EntryCount] = Field(description="Kinds of entries recorded, with counts.")
    origins: list[Institution] = Field(description="Institutions that recorded data (Herkunft).")
    receipts: list[Receipt] = Field(
        description="Who received which data, when, on which basis: bounded to the newest"
        f" {RECEIPT_LIMIT}, in time order; receipts_total counts all."
    )
    receipts_total: int = Field(description="Every receipt, also those not in receipts.")
    accesses: list[Access] = Field(
        description="Who looked at the person's data, and when (list views not included):"
        f" bounded to the newest {ACCESS_LIMIT}, in time order; accesses_total counts all."
    )
    accesses_total: int = Field(description="Every access, also those not in accesses.")
    list_views: list[ListView] = Field(
        description="Shown in lists, per day, institution and function: bounded to the newest"
        f" {LIST_VIEW_LIMIT} lines, in time order; list_views_total counts all lines."
    )
    list_views_total: int = Field(description="Every list-view line, also those not shown.")
    list_shown_total: int = Field(description="How often in all the person was shown in lists.")
    consents: list[Consent]
