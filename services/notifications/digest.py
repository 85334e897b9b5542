"""Coordinator alerts grouped into one e-mail digest per address and Zurich hour (pure).

The same book also collects the Posteingang notices (``Letter.INBOX_NOTICE``): one e-mail per
address and period saying only that something new waits (``inbox_notice.render_notice``). The
two letters never share an e-mail, even where they share an address."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
import uuid
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from schemas.ahv import mask_ahv_like
from schemas.alerts import Alert, AlertKind, Audience
from schemas.envelope import CloudEvent

ZURICH = ZoneInfo("Europe/Zurich")
HOUR = dt.timedelta(hours=1)
MESSAGE_ID_DOMAIN = "iiz.bl.ch"
_MESSAGE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://iiz.bl.ch/notifications/digest")
_PSEUDONYM_LIKE = re.compile(r"(?:prs|psn:[a-z0-9]{1,8}):[0-9a-f]{32}")
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")

KIND_LABELS: Mapping[AlertKind, str] = {
    AlertKind.PARALLEL_PLANNING: "Parallele Planung",
    AlertKind.REFERRAL_REMINDER: "Erinnerung: Anmeldung unbeantwortet",
    AlertKind.REFERRAL_ESCALATION: "Eskalation: Anmeldung unbeantwortet",
    AlertKind.SEQUENTIAL_HANDOFF: "Sequenzielle Übergabe",
}
EN_DASH = "\u2013"
# Only the repeated October hour needs the zone to tell its two occurrences apart.
_ZONE_NAMES = {"CET": "MEZ", "CEST": "MESZ"}


def hour_of(at: dt.datetime) -> dt.datetime:
    """Start of the Zurich local hour containing ``at`` (aware; ``fold`` set in October)."""
    if at.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    utc = at.astimezone(dt.UTC)
    local = utc.astimezone(ZURICH)
    # Arithmetic in UTC: Zurich changes its offset on whole hours, so the local hour's start
    # has the same offset as `at`, and the repeated hour keeps its fold.
    start = utc - dt.timedelta(
        minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    return start.astimezone(ZURICH)


def period_of(at: dt.datetime, period: dt.timedelta = HOUR) -> dt.datetime:
    """Start of the digest period containing ``at``: the Zurich hour, or a slice of it (a
    period that divides the hour, e.g. a few minutes for a demonstration)."""
    if period <= dt.timedelta() or HOUR % period:
        raise ValueError("a digest period must divide the hour")
    hour = hour_of(at)
    slices = (_utc(at) - _utc(hour)) // period
    return (_utc(hour) + slices * period).astimezone(ZURICH)


class Letter(StrEnum):
    """Which e-mail an item goes into."""

    ALERTS = "alerts"  # the coordinator digest
    INBOX_NOTICE = "inbox-notice"  # "something new waits in your Posteingang"


@dataclass(frozen=True)
class DigestItem:
    """One coordinator alert as the digest shows it: no pseudonym, no person data."""

    letter: ClassVar[Letter] = Letter.ALERTS

    delivery_id: str
    address: str
    institution: str
    case_number: str | None
    case_ref: str | None
    kind: AlertKind
    message: str
    due: dt.date | None
    at: dt.datetime

    def __post_init__(self) -> None:
        if not self.delivery_id:
            raise ValueError("delivery id must not be empty")
        if not _ADDRESS.match(self.address):
            raise ValueError("coordinator address is not a plain e-mail address")
        if self.at.utcoffset() is None:
            raise ValueError("alert time must be timezone-aware")


@dataclass(frozen=True)
class InboxNotice:
    """A delivery to an institution that wants to be told of its Posteingang: only which
    delivery (for de-duplication), the address, the institution and when. Nothing of the
    delivery itself."""

    letter: ClassVar[Letter] = Letter.INBOX_NOTICE

    delivery_id: str
    address: str
    institution: str
    at: dt.datetime

    def __post_init__(self) -> None:
        if not self.delivery_id:
            raise ValueError("delivery id must not be empty")
        if not _ADDRESS.match(self.address):
            raise ValueError("notice address is not a plain e-mail address")
        if self.at.utcoffset() is None:
            raise ValueError("notice time must be timezone-aware")


Filed = DigestItem | InboxNotice


def item_from_alert(event: CloudEvent[Alert], *, address: str) -> DigestItem:
    """The digest item of a coordinator alert delivery; the envelope's subject stays behind."""
    alert = event.data
    if alert.audience is not Audience.COORDINATOR:
        raise ValueError("only coordinator alerts go into the e-mail digest")
    return DigestItem(
        delivery_id=str(event.id),
        address=address,
        institution=event.recipient or alert.recipient_institution,
        case_number=event.iizcase,
        case_ref=event.recipientcaseref,
        kind=alert.kind,
        message=alert.message,
        due=alert.due,
        at=event.time,
    )


def _utc(at: dt.datetime) -> dt.datetime:
    # Aware datetimes sharing one tzinfo compare by wall clock and ignore fold: the two
    # 02:00 of October would be equal. UTC keys and sort keys avoid that.
    return at.astimezone(dt.UTC)


@dataclass(frozen=True)
class Digest:
    """The alerts (or Posteingang notices) for one address in one Zurich hour (or period)."""

    address: str
    hour: dt.datetime
    items: tuple[Filed, ...]
    period: dt.timedelta = HOUR
    letter: Letter = Letter.ALERTS

    @property
    def alerts(self) -> list[DigestItem]:
        return [item for item in self.items if isinstance(item, DigestItem)]

    @property
    def hour_end(self) -> dt.datetime:
        return (_utc(self.hour) + self.period).astimezone(ZURICH)

    @property
    def message_id(self) -> str:
        """Same address, hour and items → same Message-ID, so a re-send after a crash can be
        recognised; a later follow-up for the same hour (late alerts) gets its own."""
        ids = ",".join(sorted(item.delivery_id for item in self.items))
        name = f"{self.address}|{_utc(self.hour).isoformat()}|{ids}"
        if self.letter is not Letter.ALERTS:
            name = f"{self.letter.value}|{name}"
        return f"<{uuid.uuid5(_MESSAGE_ID_NAMESPACE, name)}@{MESSAGE_ID_DOMAIN}>"


LaneT = TypeVar("LaneT", bound=Hashable)
_Key = tuple[Letter, str, dt.datetime]  # (letter, address, hour start in UTC)
_ItemKey = tuple[Letter, str, str]  # (letter, address, delivery id)


class DigestBook(Generic[LaneT]):
    """Open digests by (address, hour), and which input positions they still hold back.

    A position is ``(lane, offset)`` — for Kafka ``(TopicPartition, offset)``. A record's
    position stays pending until the digest carrying its item was marked sent, so the consumer
    commits a lane only up to its oldest pending offset (``safe_commit_offsets``).
    """

    def __init__(
        self, *, remember_sent: dt.timedelta = dt.timedelta(hours=48), period: dt.timedelta = HOUR
    ) -> None:
        period_of(dt.datetime.now(dt.UTC), period)  # refuses a period that does not divide it
        self._period = period
        self._buckets: dict[_Key, dict[str, Filed]] = {}
        self._positions: dict[_ItemKey, set[tuple[LaneT, int]]] = {}
        self._sent: dict[_ItemKey, dt.datetime] = {}
        self._remember_sent = remember_sent

    def add(self, item: Filed, *, position: tuple[LaneT, int] | None = None) -> bool:
        """File an item; False if its delivery id is already open or was sent (a redelivery)."""
        item_key = (item.letter, item.address, item.delivery_id)
        if item_key in self._sent:
            return False
        is_new = item_key not in self._positions
        positions = self._positions.setdefault(item_key, set())
        if position is not None:
            positions.add(position)
        if is_new:
            bucket = self._buckets.setdefault(
                (item.letter, item.address, _utc(period_of(item.at, self._period))), {}
            )
            bucket[item.delivery_id] = item
        return is_new

    def closed(self, now: dt.datetime, *, grace: dt.timedelta) -> list[Digest]:
        """Digests whose hour ended at or before ``now - grace``, oldest hour first."""
        cutoff = _utc(now) - grace
        self._sent = {
            key: hour for key, hour in self._sent.items() if hour > cutoff - self._remember_sent
        }
        ready = sorted(
            (hour, letter, address)
            for letter, address, hour in self._buckets
            if hour + self._period <= cutoff
        )
        return [self._digest(letter, address, hour) for hour, letter, address in ready]

    def mark_sent(self, digest: Digest) -> None:
        """Drop the digest's items (not ones added meanwhile) and release their positions."""
        key = (digest.letter, digest.address, _utc(digest.hour))
        bucket = self._buckets.get(key, {})
        for item in digest.items:
            item_key = (item.letter, item.address, item.delivery_id)
            bucket.pop(item.delivery_id, None)
            self._positions.pop(item_key, None)
            self._sent[item_key] = key[2]
        if not bucket:
            self._buckets.pop(key, None)

    def abandon(self, digest: Digest) -> None:
        """Drop the digest's items and release their positions without remembering them as
        sent (they were dead-lettered; a replay of them must be filed again)."""
        for item in digest.items:
            self._drop((item.letter, item.address, item.delivery_id))

    def pending(self) -> int:
        """Number of items not yet sent."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def oldest_pending_offset(self, lane: LaneT) -> int | None:
        """The smallest offset in ``lane`` whose item is not sent yet, if any."""
        offsets = [o for ps in self._positions.values() for (ln, o) in ps if ln == lane]
        return min(offsets, default=None)

    def safe_commit_offsets(self, next_offsets: Mapping[LaneT, int]) -> dict[LaneT, int]:
        """Per lane, the offset to commit: the next one to read, held back to the oldest
        record whose digest is not sent yet (Kafka commits "the next offset to read")."""
        safe: dict[LaneT, int] = {}
        for lane, next_offset in next_offsets.items():
            oldest = self.oldest_pending_offset(lane)
            safe[lane] = next_offset if oldest is None else min(oldest, next_offset)
        return safe

    def release_lane(self, lane: LaneT) -> int:
        """Forget what only ``lane`` holds (its partition was revoked; the next owner re-reads
        it from the committed offset). Returns the number of items dropped."""
        dropped = 0
        for item_key, positions in list(self._positions.items()):
            if not any(ln == lane for ln, _ in positions):
                continue
            positions.difference_update({p for p in positions if p[0] == lane})
            if not positions:
                dropped += self._drop(item_key)
        return dropped

    def _drop(self, item_key: _ItemKey) -> int:
        del self._positions[item_key]
        letter, address, delivery_id = item_key
        for key in [k for k in self._buckets if k[:2] == (letter, address)]:
            if self._buckets[key].pop(delivery_id, None) is not None:
                if not self._buckets[key]:
                    del self._buckets[key]
                return 1
        return 0

    def _digest(self, letter: Letter, address: str, hour_utc: dt.datetime) -> Digest:
        items = sorted(
            self._buckets[(letter, address, hour_utc)].values(),
            key=lambda i: (_utc(i.at), i.delivery_id),
        )
        return Digest(
            address=address,
            hour=hour_utc.astimezone(ZURICH),
            items=tuple(items),
            period=self._period,
            letter=letter,
        )


def _scrub(text: str) -> str:
    """Mask AHV- or pseudonym-shaped text a partner might have typed into a free field."""
    return _PSEUDONYM_LIKE.sub("[entfernt]", mask_ahv_like(text))


def _swiss_date(day: dt.date) -> str:
    return f"{day.day:02d}.{day.month:02d}.{day.year}"


def hour_label(hour: dt.datetime) -> str:
    """``dd.mm.yyyy, HH<en dash>HH Uhr``; the repeated October hour also names its zone."""
    local = hour.astimezone(ZURICH)
    label = f"{_swiss_date(local.date())}, {local.hour:02d}{EN_DASH}{local.hour + 1:02d} Uhr"
    other = local.replace(fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        label += f" {_ZONE_NAMES.get(local.tzname() or '', local.tzname())}"
    return label


def _count(n: int) -> str:
    return "1 neuer Hinweis" if n == 1 else f"{n} neue Hinweise"


def _case_section(
    case_number: str | None, items: list[DigestItem], case_page_url: str | None
) -> list[str]:
    refs = sorted({_scrub(i.case_ref) for i in items if i.case_ref})
    heading = f"Fall {_scrub(case_number)}" if case_number else "Ohne IIZ-Fallnummer"
    if refs:
        heading += f" (Ihre Fallreferenz: {', '.join(refs)})"
    lines = [heading, "=" * min(len(heading), 76)]
    if case_number and case_page_url:
        lines.append(f"Fallseite: {case_page_url.rstrip('/')}/{quote(case_number, safe='')}")
    for item in items:
        due = f", Frist {_swiss_date(item.due)}" if item.due else ""
        lines.append("")
        lines.append(f"- {item.at.astimezone(ZURICH):%H:%M} Uhr · {KIND_LABELS[item.kind]}{due}")
        lines.extend(
            textwrap.wrap(
                _scrub(item.message),
                width=76,
                initial_indent="  ",
                subsequent_indent="  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return [*lines, ""]


def render_body(digest: Digest, *, case_page_url: str | None) -> str:
    """The German plain-text body: the alerts per IIZ case number, then a footer."""
    by_case: dict[str | None, list[DigestItem]] = {}
    for item in digest.alerts:
        by_case.setdefault(item.case_number, []).append(item)
    # Cases in the order of their first alert; alerts without case number last.
    ordered = sorted(by_case, key=lambda case: case is None)
    where = (
        "auf der Fallseite (Link beim Fall) oder in der Fallchronik (Timeline-API)"
        if case_page_url
        else "in der Fallchronik (Timeline-API)"
    )
    lines = [
        "Guten Tag",
        "",
        f"Für Sie als IIZ-Koordinatorin oder -Koordinator liegen {_count(len(digest.items))}",
        f"der IIZ-Fallkoordination vor ({hour_label(digest.hour)}).",
        "",
    ]
    for case in ordered:
        lines.extend(_case_section(case, by_case[case], case_page_url))
    footer = (
        "Diese E-Mail wurde automatisch erstellt; bitte antworten Sie nicht darauf. Sie enthält"
        " ausser IIZ-Fallnummern und Ihren eigenen Fallreferenzen keine Personendaten."
        f" Einzelheiten sehen Sie nach Anmeldung {where} der IIZ-Koordination."
    )
    return with_footer(lines, footer)


def render(
    digest: Digest,
    *,
    sender: str,
    case_page_url: str | None = None,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """The digest as an e-mail; ``date`` defaults to the end of the digest's hour."""
    if not digest.items:
        raise ValueError("an empty digest is not sent")
    return email_message(
        digest,
        sender=sender,
        subject=f"IIZ-Hinweise: {_count(len(digest.items))} ({hour_label(digest.hour)})",
        body=render_body(digest, case_page_url=case_page_url),
        date=date,
    )


def with_footer(lines: list[str], footer: str) -> str:
    """A plain-text body: the lines, then the signature separator and the wrapped footer."""
    lines = [*lines, "-- ", *textwrap.wrap(footer, width=76, break_on_hyphens=False)]
    return "\n".join(lines) + "\n"


def email_message(
    digest: Digest, *, sender: str, subject: str, body: str, date: dt.datetime | None
) -> EmailMessage:
    """A letter of the book as an automatic e-mail; ``date`` defaults to the end of its period."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = digest.address
    message["Subject"] = subject
    message["Date"] = format_datetime((date or digest.hour_end).astimezone(ZURICH))
    message["Message-ID"] = digest.message_id
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable: plain ASCII on the wire, for relays without 8BITMIME.
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = "de-CH"  # after set_content, which resets Content-* headers
    return message
