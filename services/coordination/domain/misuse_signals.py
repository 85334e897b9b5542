"""Misuse signals over the human rows of the audit log (pure: the rows and the events come in).

Four patterns a data-protection officer should look at (the lesson of the Dutch Suwinet):

- ``off-hours``: reads outside the office hours and days (Europe/Zurich), one signal per user
  and day;
- ``many-persons``: one user reading more than N distinct persons in a day;
- ``repeated-looks``: one user looking at one person more than k times without a new event
  about the person in between (reads within a window of the look's first read are one look:
  one page view writes several rows);
- ``refused-run``: a run of consecutive refused look-ups of one user (denied or not found),
  at least m of them within a window: probing for persons or cases. Any of the user's rows with
  a refused outcome counts (a notice or referral not found too); only a granted look-up ends
  the run, the user's other rows (writes, marks) leave it as it is.

Access reports (``access-report``: everything about one person, from an AHV number) are person
reads like a case read.

A signal is a pointer, not a verdict: it names the audit rows (``seqs``) behind it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.coordination.domain.working_days import SWISS_TIME

# Reads of one person's data (a case, its timeline, a document, a search by AHV number).
PERSON_READS = frozenset(
    {
        "search-case",
        "read-case",
        "read-state",
        "read-timeline",
        "read-case-page",
        "read-answer-form",
        "download-document",
        "access-report",
    }
)
# The audit log's words for a refused look-up (``not_found``: unknown or not the caller's alike).
REFUSED = frozenset({"denied", "not_found", "referral_not_found"})


def is_read(action: str) -> bool:
    """Any look-up: a person read, a list read (worklist, Posteingang, ...) or an audit read."""
    return action in PERSON_READS or action.startswith("read-")


def is_refused(row: AuditRead) -> bool:
    """A refused look-up or action (denied, or not found), whatever was asked for."""
    return row.outcome in REFUSED


def is_granted_read(row: AuditRead) -> bool:
    """A look-up that found what it asked for: it ends a run of refusals."""
    return is_read(row.action) and row.outcome == "ok"


class SignalKind(StrEnum):
    OFF_HOURS = "off-hours"
    MANY_PERSONS = "many-persons"
    REPEATED_LOOKS = "repeated-looks"
    REFUSED_RUN = "refused-run"


@dataclass(frozen=True)
class AuditRead:
    """One human audit row, as the signals need it."""

    seq: int
    at: dt.datetime  # aware
    actor: str  # <institution>/<role>/<sub>
    action: str
    subject: str | None
    outcome: str | None

    @property
    def day(self) -> dt.date:
        return self.at.astimezone(SWISS_TIME).date()

    @property
    def ok_person_read(self) -> bool:
        return self.action in PERSON_READS and self.subject is not None and self.outcome == "ok"


@dataclass(frozen=True)
class SignalRules:
    """The thresholds (``IIZ_COORDINATION_SIGNALS_*``), set above what normal work does."""

    office_start: dt.time = dt.time(7, 0)
    office_end: dt.time = dt.time(19, 0)
    office_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekdays
    holidays: frozenset[dt.date] = frozenset()
    max_persons_per_day: int = 40
    max_looks: int = 3
    look_window: dt.timedelta = dt.timedelta(minutes=15)
    refused_run: int = 5
    refused_window: dt.timedelta = dt.timedelta(minutes=30)

    def in_office_hours(self, at: dt.datetime) -> bool:
        local = at.astimezone(SWISS_TIME)
        return (
            local.isoweekday() in self.office_days
            and local.date() not in self.holidays
            and self.office_start <= local.time() < self.office_end
        )


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    actor: str
    first: dt.datetime
    last: dt.datetime
    count: int  # reads, persons, looks or refusals (by kind)
    seqs: tuple[int, ...]
    subject: str | None = None  # repeated-looks: the person (pseudonym)

    @property
    def institution(self) -> str:
        return self.actor.split("/", 2)[0]

    @property
    def role(self) -> str:
        return self.actor.split("/", 2)[1]

    @property
    def user(self) -> str:
        return self.actor.split("/", 2)[2]

    @property
    def day(self) -> dt.date:
        return self.first.astimezone(SWISS_TIME).date()


def find_signals(
    rows: Sequence[AuditRead], events: Mapping[str, Sequence[int]], rules: SignalRules
) -> list[Signal]:
    """Every signal in ``rows`` (one institution's human rows of a period, any order);
    ``events`` holds, per subject, the seqs of its ``decided`` rows (sorted)."""
    ordered = sorted(rows, key=lambda r: r.seq)
    found = [
        *off_hours(ordered, rules),
        *many_persons(ordered, rules),
        *repeated_looks(ordered, events, rules),
        *refused_runs(ordered, rules),
    ]
    return sorted(found, key=lambda s: (s.first, s.kind.value, s.actor))


def _signal(kind: SignalKind, rows: Sequence[AuditRead], count: int, **more: str) -> Signal:
    return Signal(kind, rows[0].actor, rows[0].at, rows[-1].at, count, _seqs(rows), **more)


def _seqs(rows: Iterable[AuditRead]) -> tuple[int, ...]:
    return tuple(r.seq for r in rows)


def off_hours(rows: Sequence[AuditRead], rules: SignalRules) -> list[Signal]:
    by_user_day: dict[tuple[str, dt.date], list[AuditRead]] = defaultdict(list)
    for row in rows:
        if is_read(row.action) and not rules.in_office_hours(row.at):
            by_user_day[(row.actor, row.day)].append(row)
    return [_signal(SignalKind.OFF_HOURS, found, len(found)) for found in by_user_day.values()]


def many_persons(rows: Sequence[AuditRead], rules: SignalRules) -> list[Signal]:
    by_user_day: dict[tuple[str, dt.date], list[AuditRead]] = defaultdict(list)
    for row in rows:
        if row.ok_person_read:
            by_user_day[(row.actor, row.day)].append(row)
    found = []
    for reads in by_user_day.values():
        persons = len({r.subject for r in reads})
        if persons > rules.max_persons_per_day:
            found.append(_signal(SignalKind.MANY_PERSONS, reads, persons))
    return found


def repeated_looks(
    rows: Sequence[AuditRead], events: Mapping[str, Sequence[int]], rules: SignalRules
) -> list[Signal]:
    by_user_person: dict[tuple[str, str], list[AuditRead]] = defaultdict(list)
    for row in rows:
        if row.ok_person_read and row.subject is not None:
            by_user_person[(row.actor, row.subject)].append(row)
    found = []
    for (_, subject), reads in by_user_person.items():
        for stretch in _between_events(reads, events.get(subject, ())):
            looks = _looks(stretch, rules.look_window)
            if looks > rules.max_looks:
                found.append(_signal(SignalKind.REPEATED_LOOKS, stretch, looks, subject=subject))
    return found


def _between_events(reads: Sequence[AuditRead], events: Sequence[int]) -> list[list[AuditRead]]:
    """The reads split where a new event about the person was decided between two of them."""
    stretches: list[list[AuditRead]] = []
    previous_events = -1
    for read in reads:
        events_before = bisect.bisect_left(events, read.seq)
        if not stretches or events_before != previous_events:
            stretches.append([])
        stretches[-1].append(read)
        previous_events = events_before
    return stretches


def _looks(reads: Sequence[AuditRead], window: dt.timedelta) -> int:
    looks, started = 0, None
    for read in reads:
        if started is None or read.at - started > window:
            looks, started = looks + 1, read.at
    return looks


def refused_runs(rows: Sequence[AuditRead], rules: SignalRules) -> list[Signal]:
    runs: dict[str, list[list[AuditRead]]] = defaultdict(lambda: [[]])
    for row in rows:
        runs_of_user = runs[row.actor]
        if is_refused(row):
            runs_of_user[-1].append(row)
        elif is_granted_read(row) and runs_of_user[-1]:
            runs_of_user.append([])
    found = []
    m = rules.refused_run
    for user_runs in runs.values():
        for run in user_runs:
            dense = any(
                run[i + m - 1].at - run[i].at <= rules.refused_window
                for i in range(len(run) - m + 1)
            )
            if dense:
                found.append(_signal(SignalKind.REFUSED_RUN, run, len(run)))
    return found
