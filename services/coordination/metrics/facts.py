"""What the committee's figures are computed from: one record per IIZ case, no identifiers.

Loaded from coordination's read models (``load.py``) or built by tests from a simulation's
ground truth; the figures (``figures.py``) are a pure function of these facts. ``person`` is an
opaque number that only links the cases of one person (for re-entry within 12 months); it never
leaves this module's callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class EngagementFact:
    """An institution's measure, benefit or accepted referral in the case (Zurich dates)."""

    institution: str
    kind: str  # "measure" | "benefit" | "referral"
    started_on: dt.date
    ended_on: dt.date | None = None


@dataclass(frozen=True)
class ReferralFact:
    from_institution: str
    to_institution: str
    requested_on: dt.date
    answered_on: dt.date | None = None
    accepted: bool | None = None  # None while unanswered


@dataclass(frozen=True)
class CostFact:
    financed_by: (
        str  # kind of the financing institution (e.g. "iv", "social-services"), or "unknown"
    )
    chf: Decimal
    ended_on: dt.date


@dataclass(frozen=True)
class ConsentFact:
    """A consent of the person, in force from ``valid_from`` to the earliest of ``valid_until``
    and the day before its revocation (None: still in force)."""

    valid_from: dt.date
    ended_on: dt.date | None = None


@dataclass(frozen=True)
class CaseFact:
    person: int
    projects: tuple[str, ...]
    opened_on: dt.date
    closed_on: dt.date | None = None
    outcome: str | None = None  # schemas.vocabulary.CaseOutcome value
    engagements: tuple[EngagementFact, ...] = ()
    referrals: tuple[ReferralFact, ...] = ()
    costs: tuple[CostFact, ...] = ()
    institutions: frozenset[str] = field(default_factory=frozenset)  # ever took part
    consents: tuple[ConsentFact, ...] = ()  # the person's consents that overlap the case
    # Secret and uniform in [0, 1): the case's record key for the cell-key method (cell_key.py).
    record_key: float = 0.0
