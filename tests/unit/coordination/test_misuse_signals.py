"""The misuse signals' rules on audit rows made up here (pure: no database)."""

from __future__ import annotations

import datetime as dt

from services.coordination.domain.misuse_signals import (
    AuditRead,
    SignalKind,
    SignalRules,
    find_signals,
)
from services.coordination.domain.working_days import SWISS_TIME

RULES = SignalRules()
TUESDAY = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SWISS_TIME)
ANNA = "rav/caseworker/anna"


class Rows:
    """Audit rows in seq order, as a test writes them."""

    def __init__(self) -> None:
        self.rows: list[AuditRead] = []

    def add(
        self,
        at: dt.datetime,
        action: str = "read-case",
        subject: str | None = "prs:1",
        outcome: str = "ok",
        actor: str = ANNA,
    ) -> int:
        seq = len(self.rows) + 1
        self.rows.append(AuditRead(seq, at, actor, action, subject, outcome))
        return seq


def kinds(rows: Rows, events: dict[str, list[int]] | None = None) -> list[SignalKind]:
    return [s.kind for s in find_signals(rows.rows, events or {}, RULES)]


def test_a_read_at_night_or_on_sunday_is_an_off_hours_signal_per_user_and_day() -> None:
    rows = Rows()
    night = rows.add(TUESDAY.replace(hour=22))
    late = rows.add(TUESDAY.replace(hour=23))
    sunday = rows.add(TUESDAY + dt.timedelta(days=5))
    rows.add(TUESDAY.replace(hour=18, minute=59))  # still office hours

    found = find_signals(rows.rows, {}, RULES)

    assert [(s.kind, s.seqs) for s in found] == [
        (SignalKind.OFF_HOURS, (night, late)),
        (SignalKind.OFF_HOURS, (sunday,)),
    ]


def test_a_holiday_has_no_office_hours() -> None:
    rows = Rows()
    rows.add(TUESDAY)
    rules = SignalRules(holidays=frozenset({TUESDAY.date()}))

    assert [s.kind for s in find_signals(rows.rows, {}, rules)] == [SignalKind.OFF_HOURS]


def test_more_persons_in_a_day_than_allowed_is_a_signal_exactly_the_limit_is_not() -> None:
    rows = Rows()
    for n in range(RULES.max_persons_per_day):
        rows.add(TUESDAY + dt.timedelta(minutes=n), subject=f"prs:{n}")
    assert kinds(rows) == []

    extra = rows.add(TUESDAY + dt.timedelta(hours=2), subject="prs:one-more")
    (signal,) = find_signals(rows.rows, {}, RULES)

    assert signal.kind is SignalKind.MANY_PERSONS
    assert signal.count == RULES.max_persons_per_day + 1
    assert signal.seqs[-1] == extra
    assert len(signal.seqs) == RULES.max_persons_per_day + 1


def test_reads_within_the_window_are_one_look_and_a_new_event_starts_the_count_again() -> None:
    rows = Rows()
    looks = []
    for hour in (8, 10, 12):
        looks.append(rows.add(TUESDAY.replace(hour=hour)))
        looks.append(rows.add(TUESDAY.replace(hour=hour, minute=5), action="read-timeline"))
    assert kinds(rows) == []  # three looks: the limit

    fourth = rows.add(TUESDAY.replace(hour=14))
    (signal,) = find_signals(rows.rows, {}, RULES)
    assert (signal.kind, signal.count, signal.seqs) == (
        SignalKind.REPEATED_LOOKS,
        4,
        (*looks, fourth),
    )


def test_a_new_event_between_the_looks_starts_the_count_again() -> None:
    rows = Rows()
    for hour in (8, 10, 12):
        rows.add(TUESDAY.replace(hour=hour))
    event = rows.add(TUESDAY.replace(hour=13), "decided", actor="coordination")
    for hour in (14, 16, 18):
        rows.add(TUESDAY.replace(hour=hour))

    assert kinds(rows, {"prs:1": [event]}) == []
    assert kinds(rows, {}) == [SignalKind.REPEATED_LOOKS]


def test_refused_look_ups_in_a_row_are_probing_an_ok_read_breaks_the_run() -> None:
    rows = Rows()
    for n in range(RULES.refused_run - 1):
        rows.add(TUESDAY + dt.timedelta(minutes=n), "search-case", None, "not_found")
    rows.add(TUESDAY + dt.timedelta(minutes=10))
    rows.add(TUESDAY + dt.timedelta(minutes=11), "search-case", None, "not_found")
    assert kinds(rows) == []

    run = [
        rows.add(TUESDAY + dt.timedelta(minutes=20 + n), "read-case", "prs:2", "denied")
        for n in range(RULES.refused_run)
    ]
    (signal,) = find_signals(rows.rows, {}, RULES)
    assert (signal.kind, signal.seqs) == (SignalKind.REFUSED_RUN, (rows.rows[-6].seq, *run))


def test_refusals_spread_over_a_day_are_no_run() -> None:
    rows = Rows()
    for n in range(RULES.refused_run):
        rows.add(TUESDAY + dt.timedelta(hours=n), "search-case", None, "not_found")

    assert kinds(rows) == []


def test_list_reads_count_for_no_person_signal() -> None:
    rows = Rows()
    for n in range(100):
        rows.add(TUESDAY + dt.timedelta(seconds=n), "read-worklist", f"prs:{n}")

    assert kinds(rows) == []


def test_access_reports_for_many_persons_in_a_day_are_the_many_persons_signal() -> None:
    rows = Rows()
    reports = [
        rows.add(TUESDAY + dt.timedelta(minutes=5 * n), "access-report", f"prs:{n}")
        for n in range(50)
    ]

    (signal,) = find_signals(rows.rows, {}, RULES)

    assert (signal.kind, signal.count, signal.seqs) == (
        SignalKind.MANY_PERSONS,
        50,
        tuple(reports),
    )


def test_access_reports_about_one_person_again_and_again_are_repeated_looks() -> None:
    rows = Rows()
    looks = [rows.add(TUESDAY.replace(hour=hour), "access-report") for hour in (8, 10, 12, 14)]

    (signal,) = find_signals(rows.rows, {}, RULES)

    assert (signal.kind, signal.count, signal.seqs) == (SignalKind.REPEATED_LOOKS, 4, tuple(looks))


def test_access_reports_at_night_and_refused_ones_in_a_row_are_signals_too() -> None:
    rows = Rows()
    night = rows.add(TUESDAY.replace(hour=23), "access-report")
    refused = [
        rows.add(TUESDAY.replace(hour=10, minute=n), "access-report", None, "denied")
        for n in range(RULES.refused_run)
    ]

    assert sorted((s.kind, s.seqs) for s in find_signals(rows.rows, {}, RULES)) == sorted(
        [(SignalKind.OFF_HOURS, (night,)), (SignalKind.REFUSED_RUN, tuple(refused))]
    )


def test_notice_look_ups_not_found_are_probing_and_writes_between_them_do_not_end_the_run() -> None:
    rows = Rows()
    probes = []
    for n in range(6):
        action = "notice-sent" if n % 2 else "read-notices"
        probes.append(rows.add(TUESDAY + dt.timedelta(minutes=n), action, None, "not_found"))
        # the user's own writes and marks are no look-up: they neither end nor extend the run
        rows.add(TUESDAY + dt.timedelta(minutes=n, seconds=30), "notice-sent", "prs:9", "marked")
        rows.add(TUESDAY + dt.timedelta(minutes=n, seconds=40), "answer-referral", "prs:9", "ok")

    (signal,) = find_signals(rows.rows, {}, RULES)

    assert (signal.kind, signal.count, signal.seqs) == (SignalKind.REFUSED_RUN, 6, tuple(probes))


def test_referral_ids_not_found_are_refusals_a_granted_list_read_ends_the_run() -> None:
    rows = Rows()
    for n in range(RULES.refused_run - 1):
        rows.add(TUESDAY + dt.timedelta(minutes=n), "answer-referral", None, "referral_not_found")
    rows.add(TUESDAY + dt.timedelta(minutes=5), "read-worklist", "prs:3")
    rows.add(TUESDAY + dt.timedelta(minutes=6), "read-answer-form", None, "referral_not_found")
    assert kinds(rows) == []

    rows.rows.pop(-2)  # without the granted read in between: one run of five
    assert kinds(rows) == [SignalKind.REFUSED_RUN]
