"""The access report (DSG Art. 25) assembled from one person's audit rows and consent records.

- Receipts: every ``decided`` row's allowed recipients other than the event's origin, with the
  categories, consents and articles of the decision (``delivered``, recorded since issue 17; an
  older row's basis text is parsed and its categories stay unknown).
- Alerts (``alerted`` rows) are receipts too: coordination told an institution something about
  the person (case administration).
- Origins (Herkunft): the recipients whose basis is ``origin``.
- Accesses: the human reads about the person (actor ``<institution>/<role>/<user>``), named by
  institution and role only — the user never leaves this module, nor does the free-text purpose
  they gave (it may name colleagues or third persons): action and outcome only.
- List views: the list reads (worklist, Posteingang, deadlines, the notices list write one row
  per person shown) are not accesses of their own but counted per day, institution and role.
- Consents: the consent records with their form reference, judged on the report's day.
- Erased: the day of an ``erased`` row, where one is still found (legacy subjects only: a
  registry person's erasure deletes the lookups that would find it).

Bounded: receipts, accesses and list views keep the newest ``*_LIMIT`` entries, with the full
counts beside them (``*_total``), so a long history gives a letter of a few pages.

Pure: rows, pre-counted list views, consents, the registry's names and the day are passed in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from schemas.vocabulary import DataCategory
from services.coordination.domain.working_days import SWISS_TIME
from services.coordination.reading.access_report_model import (
    ACCESS_LIMIT,
    LIST_VIEW_LIMIT,
    RECEIPT_LIMIT,
    Access,
    AccessReport,
    Consent,
    ConsentRef,
    ConsentStatus,
    EntryCount,
    Institution,
    ListView,
    Receipt,
)

ORIGIN = "origin"
COORDINATION = "coordination"  # the basis of an alert: coordination's own task
ALERT_PREFIX = "alert:"  # a receipt's event type for an alert: alert:<kind>
Named = Callable[[str], Institution]  # a registry id with its name
T = TypeVar("T")
# The human actions that look at a person's data (reads, searches, downloads, earlier reports).
ACCESS_PREFIXES = ("read-", "search-", "download-")
ACCESS_ACTIONS = frozenset({"access-report"})
# The list reads: one row per person shown (read-notices is a list read unless it names a notice).
LIST_ACTIONS = frozenset({"read-worklist", "read-deadlines", "read-inbox"})
NOTICES_READ = "read-notices"
ERASED = "erased"


def is_list_read(action: str, detail: Mapping[str, Any]) -> bool:
    """Whether an audit row is a list read (a person shown in a list, not looked at)."""
    return action in LIST_ACTIONS or (action == NOTICES_READ and "notice" not in detail)


@dataclass(frozen=True)
class AuditRecord:
    """One audit row as the report reads it."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    object: str | None = None
    basis: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListViewCount:
    """How often one institution's role showed the person in one list on one day (Swiss time)."""

    day: dt.date
    institution: str
    role: str
    action: str
    count: int


@dataclass(frozen=True)
class StoredConsent:
    """A consent as the bus recorded it, with its revocation if any."""

    consent_id: uuid.UUID
    recorded_by: str
    institutions: tuple[str, ...]
    categories: tuple[str, ...]
    valid_from: dt.date
    valid_until: dt.date | None
    document_ref: str
    revoked_at: dt.datetime | None = None
    revocation_ref: str | None = None


def assemble(
    rows: Iterable[AuditRecord],
    consents: Sequence[StoredConsent],
    names: Mapping[str, str],
    today: dt.date,
    list_views: Iterable[ListViewCount] = (),
) -> AccessReport:
    """The report; ``known`` is false when no decision and no consent concern the person.
    ``list_views`` are list reads counted elsewhere (in SQL); list-read ``rows`` count too."""
    ordered = sorted(rows, key=lambda r: r.seq)
    decided = [r for r in ordered if r.action == "decided"]
    forms = {c.consent_id: c.document_ref for c in consents}

    def institution(code: str) -> Institution:
        return Institution(id=code, name=names.get(code, code))

    decisions = [_decision(row, forms, institution) for row in decided]
    origins = {d.origin.id: d.origin for d in decisions if d.origin is not None}
    entries = Counter(str(r.detail.get("type", "")) for r in decided)
    receipts = sorted(
        [r for d in decisions for r in d.receipts]
        + [_alert(r, institution) for r in ordered if r.action == "alerted"],
        key=lambda r: r.at,
    )
    listed = [*list_views, *(c for r in ordered if (c := _list_view(r)) is not None)]
    accesses = [
        a
        for r in ordered
        if not is_list_read(r.action, r.detail) and (a := _access(r, institution)) is not None
    ]
    views = _list_views(listed, institution)
    erased = [r.at for r in ordered if r.action == ERASED]
    return AccessReport(
        generated_on=today,
        known=bool(decided or consents),
        erased_on=max(erased).astimezone(SWISS_TIME).date() if erased else None,
        categories=sorted(set().union(*(d.categories for d in decisions))),
        categories_complete=all(d.recorded for d in decisions),
        entries=[EntryCount(event_type=t, count=n) for t, n in sorted(entries.items())],
        origins=sorted(origins.values(), key=lambda i: i.name),
        receipts=_newest(receipts, RECEIPT_LIMIT),
        receipts_total=len(receipts),
        accesses=_newest(accesses, ACCESS_LIMIT),
        accesses_total=len(accesses),
        list_views=_newest(views, LIST_VIEW_LIMIT),
        list_views_total=len(views),
        list_shown_total=sum(v.count for v in views),
        consents=[_consent(c, institution, today) for c in consents],
    )


def _newest(items: Sequence[T], limit: int) -> list[T]:
    """The last ``limit`` of a list in time order (still in time order)."""
    return list(items[-limit:]) if len(items) > limit else list(items)


def _list_view(row: AuditRecord) -> ListViewCount | None:
    parts = row.actor.split("/")
    if len(parts) < 3 or not is_list_read(row.action, row.detail):
        return None
    day = row.at.astimezone(SWISS_TIME).date()
    return ListViewCount(day, parts[0], parts[1], row.action, 1)


def _list_views(counts: Iterable[ListViewCount], institution: Named) -> list[ListView]:
    """One line per day, institution and role: how often, and in which lists."""
    times: Counter[tuple[dt.date, str, str]] = Counter()
    lists: dict[tuple[dt.date, str, str], set[str]] = {}
    for c in counts:
        key = (c.day, c.institution, c.role)
        times[key] += c.count
        lists.setdefault(key, set()).add(c.action)
    return [
        ListView(
            day=day,
            institution=institution(code),
            role=role,
            lists=sorted(lists[day, code, role]),
            count=times[day, code, role],
        )
        for day, code, role in sorted(times)
    ]


@dataclass(frozen=True)
class _Decision:
    """One ``decided`` row as the report reads it."""

    origin: Institution | None
    receipts: list[Receipt]
    categories: frozenset[DataCategory]  # of every allowed recipient, the origin's included
    recorded: bool  # whether the row names its categories (since issue 17)


def _decision(row: AuditRecord, forms: Mapping[uuid.UUID, str], institution: Named) -> _Decision:
    allowed: Mapping[str, str] = row.detail.get("allowed") or {}
    delivered: Mapping[str, Any] | None = row.detail.get("delivered")
    code = next((r for r, b in allowed.items() if b.split(" ")[0] == ORIGIN), None)
    origin = institution(code) if code is not None else None
    receipts: list[Receipt] = []
    categories: set[DataCategory] = set()
    for recipient, basis_text in allowed.items():
        given = _given(basis_text, (delivered or {}).get(recipient))
        categories.update(given.categories or ())
        if given.kind == ORIGIN:
            continue
        receipts.append(
            Receipt(
                at=row.at,
                event_type=str(row.detail.get("type", "")),
                origin=origin,
                recipient=institution(recipient),
                categories=sorted(given.categories) if given.categories is not None else None,
                basis=given.kind,
                consents=[
                    ConsentRef(consent_id=c, document_ref=forms.get(c)) for c in given.consents
                ],
                articles=list(given.articles),
            )
        )
    return _Decision(origin, receipts, frozenset(categories), delivered is not None)


def _alert(row: AuditRecord, institution: Named) -> Receipt:
    """An alert coordination raised to an institution: case administration, no consent of its
    own (coordination raises it only where the recipient may know of the event behind it)."""
    return Receipt(
        at=row.at,
        event_type=f"{ALERT_PREFIX}{row.detail.get('kind', '')}",
        origin=None,
        recipient=institution(str(row.detail.get("recipient", ""))),
        categories=[DataCategory.CASE_ADMIN],
        basis=COORDINATION,
        consents=[],
        articles=[],
    )


@dataclass(frozen=True)
class _Given:
    kind: str
    categories: frozenset[DataCategory] | None
    consents: tuple[uuid.UUID, ...]
    articles: tuple[str, ...]


def _given(basis_text: str, delivered: Mapping[str, Any] | None) -> _Given:
    """What one recipient got: from ``delivered`` when recorded, else from the basis text
    (``consent <id> …`` / ``law <article>`` / ``consent+law <ids> <articles>``)."""
    kind, _, rest = basis_text.partition(" ")
    if delivered is not None:
        return _Given(
            kind,
            frozenset(_categories(delivered.get("categories", ()))),
            tuple(uuid.UUID(c) for c in delivered.get("consents", ())),
            tuple(str(a) for a in delivered.get("articles", ())),
        )
    ids: list[uuid.UUID] = []
    words: list[str] = []
    for token in rest.split():
        try:
            ids.append(uuid.UUID(token))
        except ValueError:
            words.append(token)
    return _Given(kind, None, tuple(ids), (" ".join(words),) if words else ())


def _categories(codes: Iterable[str]) -> Iterable[DataCategory]:
    known = {c.value for c in DataCategory}
    return (DataCategory(c) for c in codes if c in known)


def _access(row: AuditRecord, institution: Named) -> Access | None:
    """A human read about the person; None for the bus's own rows and for writes."""
    parts = row.actor.split("/")
    is_access = row.action.startswith(ACCESS_PREFIXES) or row.action in ACCESS_ACTIONS
    if len(parts) < 3 or not is_access:
        return None
    return Access(
        at=row.at,
        institution=institution(parts[0]),
        role=parts[1],
        action=row.action,
        outcome=str(row.detail.get("outcome", "ok")),
    )


def _consent(consent: StoredConsent, institution: Named, today: dt.date) -> Consent:
    return Consent(
        consent_id=consent.consent_id,
        recorded_by=institution(consent.recorded_by),
        institutions=[institution(i) for i in consent.institutions],
        categories=sorted(_categories(consent.categories)),
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        document_ref=consent.document_ref,
        status=consent_status(consent, today),
        revoked_at=consent.revoked_at,
        revocation_ref=consent.revocation_ref,
    )


def consent_status(consent: StoredConsent, today: dt.date) -> ConsentStatus:
    if consent.revoked_at is not None:
        return ConsentStatus.REVOKED
    if consent.valid_until is not None and consent.valid_until < today:
        return ConsentStatus.EXPIRED
    if consent.valid_from > today:
        return ConsentStatus.NOT_YET_VALID
    return ConsentStatus.ACTIVE
