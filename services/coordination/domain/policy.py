"""The consent and legal-basis policy: may a recipient see an event, on what basis, which fields.

Pure: every input is passed in (consents, the legal-basis matrix, the recipient's periods of
interest, the event's bus position and business time). Rules (ARCHITECTURE §7):

- The origin always sees its own events.
- Anyone else must take part in the case (or be invited by a referral) at the event's bus
  position, or have left no longer ago than the grace period — never a broadcast.
- Every category the event carries (its default plus a stricter declared one) must be covered by
  a consent naming origin and recipient that is active at the event's position (granted at or
  before it, not revoked before it, valid on the event's business date), or by an entry of the
  legal-basis matrix for (origin kind, recipient kind, category).
- ``health`` is covered only where it is named explicitly (consent or matrix entry); nothing
  implies it.
- ``health`` and ``identity`` leave their origin under a consent only if the origin itself
  recorded that consent or confirmed it at or before the event's position: nobody makes another
  institution's most sensitive data flow on its own word.
- Fields with their own category (the AHV number, a cost, functional limitations) are withheld
  unless that category is covered too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.working_days import business_date


@dataclass(frozen=True)
class ConsentRecord:
    """A consent as recorded on the bus, with the bus positions of its grant and revocation."""

    consent_id: uuid.UUID
    institutions: frozenset[str]
    categories: frozenset[DataCategory]
    valid_from: dt.date
    valid_until: dt.date | None
    granted_at: int
    revoked_at: int | None = None
    recorded_by: str = ""
    confirmed_at: Mapping[str, int] = field(default_factory=dict, hash=False)  # by whom, where

    def active_at(self, position: int, day: dt.date) -> bool:
        if self.granted_at > position:
            return False
        if self.revoked_at is not None and self.revoked_at < position:
            return False
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def covers(self, origin: str, recipient: str, category: DataCategory) -> bool:
        return (
            origin in self.institutions
            and recipient in self.institutions
            and category in self.categories
        )

    def vouched_by(self, origin: str, position: int) -> bool:
        """The origin recorded this consent, or confirmed it at or before ``position``."""
        confirmed = self.confirmed_at.get(origin)
        return origin == self.recorded_by or (confirmed is not None and confirmed <= position)


# Categories that leave their origin under a consent only if the origin vouches for it.
HOLDER_VOUCHED = frozenset({DataCategory.HEALTH, DataCategory.IDENTITY})


@dataclass(frozen=True)
class LegalBasisEntry:
    """One exchange the law allows without consent, citing its article."""

    from_kind: InstitutionKind
    to_kind: InstitutionKind
    category: DataCategory
    article: str
    inform_person: bool = False
    source: str = field(default="", compare=False)  # where the text was taken from (letters)
    text: str = field(default="", compare=False)  # the article's wording (letters)


@dataclass(frozen=True)
class LegalBasisMatrix:
    """Versioned; empty by default (every exchange then needs a consent)."""

    version: str = "empty"
    entries: tuple[LegalBasisEntry, ...] = ()
    status: str = ""  # e.g. "draft-for-legal-review"; shown with the texts, never decides

    def text_of(self, article: str) -> LegalBasisEntry | None:
        """The first entry citing ``article`` (its ``text`` and ``source``), for letters."""
        return next((e for e in self.entries if e.article == article), None)

    def entry_for(
        self, from_kind: InstitutionKind, to_kind: InstitutionKind, category: DataCategory
    ) -> LegalBasisEntry | None:
        """The first entry for (from, to, category)."""
        return self.entries_between(from_kind, to_kind).get(category)

    def entries_between(
        self, from_kind: InstitutionKind, to_kind: InstitutionKind
    ) -> Mapping[DataCategory, LegalBasisEntry]:
        """The first entry per category for (from, to): looked up in an index of the entries,
        built once per matrix (memoised; the matrix is frozen)."""
        return _ByCategory(self.by_code(from_kind, to_kind))

    def by_code(
        self, from_kind: InstitutionKind, to_kind: InstitutionKind
    ) -> Mapping[str, LegalBasisEntry]:
        """``entries_between`` keyed by the category's code (its value)."""
        index: dict[tuple[str, str], dict[str, LegalBasisEntry]] | None = self.__dict__.get(
            "_index"
        )
        if index is None:
            index = {}
            for e in self.entries:
                by_category = index.setdefault((str(e.from_kind), str(e.to_kind)), {})
                by_category.setdefault(str(e.category), e)
            object.__setattr__(self, "_index", index)
        return index.get((str(from_kind), str(to_kind)), _NO_ENTRIES)


_NO_ENTRIES: Mapping[str, LegalBasisEntry] = {}


class _ByCategory(Mapping[DataCategory, LegalBasisEntry]):
    """A (from, to) part of the matrix's index, looked up by category (a ``StrEnum``, keyed by
    its value, so a plain string finds the same entry as it did by ``==``)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, LegalBasisEntry]) -> None:
        self._entries = entries

    def __getitem__(self, category: DataCategory) -> LegalBasisEntry:
        return self._entries[str(category)]

    def __iter__(self) -> Iterator[DataCategory]:
        return (DataCategory(c) for c in self._entries)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class InterestPeriod:
    """An institution takes part in (or is invited to) the person's case from ``joined_at``.

    ``left_at`` is the bus position where it stopped, ``left_on`` the business time of that.
    """

    institution: str
    joined_at: int
    left_at: int | None = None
    left_on: dt.datetime | None = None

    def covers(self, position: int, moment: dt.datetime, grace: dt.timedelta) -> bool:
        if position < self.joined_at:
            return False
        if self.left_at is None or position <= self.left_at:
            return True
        return self.left_on is not None and moment <= self.left_on + grace


@dataclass(frozen=True)
class EventFacts:
    """What the policy needs to know about one event."""

    position: int
    origin: str
    time: dt.datetime
    categories: frozenset[DataCategory]
    marked_fields: Mapping[str, DataCategory] = field(default_factory=dict)


class BasisKind(StrEnum):
    ORIGIN = "origin"
    CONSENT = "consent"
    LAW = "law"
    CONSENT_AND_LAW = "consent+law"


class DenialReason(StrEnum):
    NOT_INVOLVED = "not-involved"  # no period of interest covers the event
    NO_BASIS = "no-basis"  # a category of the event is covered by no consent and no law


@dataclass(frozen=True)
class Basis:
    kind: BasisKind
    consent_ids: tuple[uuid.UUID, ...] = ()
    articles: tuple[str, ...] = ()
    legal_basis_version: str | None = None
    inform_person: bool = False
    # The categories an article with a duty to inform carried (not a consent): what the person
    # must be told of afterwards (AVG Art. 35a Abs. 1ter: the exchange "und dessen Inhalt").
    informed_categories: frozenset[DataCategory] = frozenset()


@dataclass(frozen=True)
class Decision:
    recipient: str
    allowed: bool
    basis: Basis | None = None
    categories: frozenset[DataCategory] = frozenset()
    withheld: frozenset[str] = frozenset()
    reason: DenialReason | None = None
    missing: frozenset[DataCategory] = frozenset()


@dataclass(frozen=True)
class World:
    """Everything about the person and the bus that a decision depends on."""

    kinds: Mapping[str, InstitutionKind]
    consents: Sequence[ConsentRecord]
    matrix: LegalBasisMatrix
    grace: dt.timedelta


_ORIGIN = Basis(BasisKind.ORIGIN)  # frozen: one for every origin's decision


def decide(
    event: EventFacts, recipient: str, world: World, interest: Iterable[InterestPeriod]
) -> Decision:
    """The decision for one event and one recipient."""
    if recipient == event.origin:
        return Decision(
            recipient=recipient,
            allowed=True,
            basis=_ORIGIN,
            categories=event.categories | frozenset(event.marked_fields.values()),
        )
    for p in interest:  # (a loop, not ``any`` over a generator: the same calls, cheaper)
        if p.institution == recipient and p.covers(event.position, event.time, world.grace):
            break
    else:
        return Decision(recipient=recipient, allowed=False, reason=DenialReason.NOT_INVOLVED)
    grounds = authorised_categories(event, recipient, world)
    missing = event.categories - grounds.keys()
    if missing:
        return Decision(
            recipient=recipient, allowed=False, reason=DenialReason.NO_BASIS, missing=missing
        )
    withheld = frozenset(
        path for path, category in event.marked_fields.items() if category not in grounds
    )
    delivered = event.categories | {c for p, c in event.marked_fields.items() if p not in withheld}
    return Decision(
        recipient=recipient,
        allowed=True,
        basis=_basis({c: grounds[c] for c in sorted(delivered)}, world.matrix.version),
        categories=frozenset(delivered),
        withheld=withheld,
    )


Ground = ConsentRecord | LegalBasisEntry


def authorised_categories(
    event: EventFacts, recipient: str, world: World
) -> dict[DataCategory, Ground]:
    """Every category the recipient may see of this origin at this position, with its ground.

    A consent wins over the law when both cover a category (no duty to inform the person then).
    Period of interest is not checked here (alerts use this for institutions not yet involved).
    """
    day = business_date(event.time)
    active = [c for c in world.consents if c.active_at(event.position, day)]
    origin_kind = world.kinds.get(event.origin)
    recipient_kind = world.kinds.get(recipient)
    law = (
        world.matrix.by_code(origin_kind, recipient_kind)
        if origin_kind is not None and recipient_kind is not None
        else _NO_ENTRIES
    )
    origin, position = event.origin, event.position
    grounds: dict[DataCategory, Ground] = {}
    for category, code in _CATEGORIES:
        for c in active:  # the first consent that covers the category
            if c.covers(origin, recipient, category) and (
                category not in HOLDER_VOUCHED or c.vouched_by(origin, position)
            ):
                grounds[category] = c
                break
        else:
            entry = law.get(code)
            if entry is not None:
                grounds[category] = entry
    return grounds


_CATEGORIES = tuple((c, str(c)) for c in DataCategory)  # in order, with each one's code


def _basis(by_category: Mapping[DataCategory, Ground], matrix_version: str) -> Basis:
    # One pass over the grounds (the same sets as one comprehension per kind of ground).
    consents: set[uuid.UUID] = set()
    cited: set[str] = set()
    informed: list[DataCategory] = []
    inform_person = False
    for category, ground in by_category.items():
        if isinstance(ground, ConsentRecord):
            consents.add(ground.consent_id)
        elif isinstance(ground, LegalBasisEntry):
            cited.add(ground.article)
            if ground.inform_person:
                inform_person = True
                informed.append(category)
    consent_ids = sorted(consents)
    articles = sorted(cited)
    if consent_ids and articles:
        kind = BasisKind.CONSENT_AND_LAW
    elif articles:
        kind = BasisKind.LAW
    else:
        kind = BasisKind.CONSENT
    return Basis(
        kind=kind,
        consent_ids=tuple(consent_ids),
        articles=tuple(articles),
        legal_basis_version=matrix_version if articles else None,
        inform_person=inform_person,
        informed_categories=frozenset(informed),
    )
