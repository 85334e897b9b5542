"""The coordinator digest: grouping per address and Zurich hour, offsets held back, German mail.

Pure: time is passed in, nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import uuid
from email.utils import parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schemas.alerts import Alert, AlertKind, Audience
from schemas.envelope import CloudEvent
from services.notifications.digest import (
    KIND_LABELS,
    Digest,
    DigestBook,
    DigestItem,
    hour_of,
    item_from_alert,
    render,
)
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import valid_ahv

ZURICH = ZoneInfo("Europe/Zurich")
RAV = "iiz-koordination.rav@example.org"
IV = "iiz-koordination.iv@example.org"
SENDER = "IIZ-Koordination BL <iiz-bus@example.org>"
PSEUDONYM = "psn:k1:0123456789abcdef0123456789abcdef"
AHV_LIKE = re.compile(r"756[.\s-]?\d{4}[.\s-]?\d{4}[.\s-]?\d{2}")
_ids = iter(range(1, 10**6))


def zurich(*args: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZURICH, fold=fold)  # type: ignore[misc]


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


def item(at: dt.datetime, /, **overrides: Any) -> DigestItem:
    fields: dict[str, Any] = {
        "delivery_id": str(uuid.UUID(int=next(_ids))),
        "address": RAV,
        "institution": "rav",
        "case_number": "IIZ-2026-000123",
        "case_ref": "RAV-4711",
        "kind": AlertKind.PARALLEL_PLANNING,
        "message": "Aussteuerung absehbar: bitte parallel planen.",
        "due": dt.date(2026, 12, 1),
        "at": at,
    }
    return DigestItem(**(fields | overrides))


def book_with(*items: DigestItem) -> DigestBook[str]:
    book: DigestBook[str] = DigestBook()
    for each in items:
        book.add(each)
    return book


def all_closed(book: DigestBook[Any]) -> list[Digest]:
    return book.closed(utc(2100, 1, 1), grace=dt.timedelta(0))


def ids(digest: Digest) -> list[str]:
    return [i.delivery_id for i in digest.items]


# --- hours -------------------------------------------------------------------------------------


def test_hour_of_is_the_start_of_the_zurich_local_hour_in_winter_and_summer() -> None:
    assert hour_of(utc(2026, 11, 22, 13, 45, 10)) == zurich(2026, 11, 22, 14)
    assert hour_of(utc(2026, 7, 1, 12, 0, 0, 1)) == zurich(2026, 7, 1, 14)
    assert hour_of(utc(2026, 7, 1, 12, 0, 0, 1)).utcoffset() == dt.timedelta(hours=2)


def test_hour_of_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        hour_of(dt.datetime(2026, 11, 22, 14, 0))


def test_14_59_59_and_15_00_00_fall_into_different_digests() -> None:
    before, after = item(zurich(2026, 11, 22, 14, 59, 59)), item(zurich(2026, 11, 22, 15))
    digests = all_closed(book_with(before, after))
    assert [(d.hour, ids(d)) for d in digests] == [
        (zurich(2026, 11, 22, 14), [before.delivery_id]),
        (zurich(2026, 11, 22, 15), [after.delivery_id]),
    ]


def test_the_repeated_autumn_hour_is_two_digests() -> None:
    # 25.10.2026: at 03:00 CEST the clocks go back to 02:00 CET; 02:30 happens twice.
    first, second = item(utc(2026, 10, 25, 0, 30)), item(utc(2026, 10, 25, 1, 30))
    assert hour_of(first.at).utcoffset() == dt.timedelta(hours=2)
    assert hour_of(second.at).utcoffset() == dt.timedelta(hours=1)

    digests = all_closed(book_with(first, second))

    assert [ids(d) for d in digests] == [[first.delivery_id], [second.delivery_id]]
    assert [d.hour.astimezone(dt.UTC) for d in digests] == [
        utc(2026, 10, 25, 0),
        utc(2026, 10, 25, 1),
    ]
    assert digests[0].message_id != digests[1].message_id
    subjects = [str(render(d, sender=SENDER)["Subject"]) for d in digests]
    assert subjects == [
        "IIZ-Hinweise: 1 neuer Hinweis (25.10.2026, 02\u201303 Uhr MESZ)",
        "IIZ-Hinweise: 1 neuer Hinweis (25.10.2026, 02\u201303 Uhr MEZ)",
    ]


def test_the_spring_gap_hour_ends_at_three_oclock_summer_time() -> None:
    # 29.03.2026: at 02:00 CET the clocks jump to 03:00 CEST; 01:59:59 and 03:00 are adjacent.
    last_winter, first_summer = item(utc(2026, 3, 29, 0, 59, 59)), item(utc(2026, 3, 29, 1))
    digests = all_closed(book_with(last_winter, first_summer))

    assert [d.hour for d in digests] == [zurich(2026, 3, 29, 1), zurich(2026, 3, 29, 3)]
    assert digests[0].hour_end == zurich(2026, 3, 29, 3)
    assert digests[0].hour_end.utcoffset() == dt.timedelta(hours=2)


# --- grouping ----------------------------------------------------------------------------------


def test_items_of_two_coordinators_in_three_hours_make_one_digest_per_address_and_hour() -> None:
    a14 = item(zurich(2026, 11, 22, 14, 10))
    a14b = item(zurich(2026, 11, 22, 14, 50), case_number="IIZ-2026-000124")
    a15 = item(zurich(2026, 11, 22, 15, 20))
    a16 = item(zurich(2026, 11, 22, 16, 5))
    b14 = item(zurich(2026, 11, 22, 14, 30), address=IV, institution="iv")
    b16 = item(zurich(2026, 11, 22, 16, 40), address=IV, institution="iv")
    book = book_with(a16, b16, a14b, b14, a15, a14)

    digests = book.closed(zurich(2026, 11, 22, 17), grace=dt.timedelta(0))

    assert [(d.hour.hour, d.address, ids(d)) for d in digests] == [
        (14, IV, [b14.delivery_id]),
        (14, RAV, [a14.delivery_id, a14b.delivery_id]),
        (15, RAV, [a15.delivery_id]),
        (16, IV, [b16.delivery_id]),
        (16, RAV, [a16.delivery_id]),
    ]
    assert book.pending() == 6


def test_items_are_sorted_by_time_then_delivery_id_whatever_their_zone() -> None:
    later = item(utc(2026, 10, 25, 0, 50), delivery_id="a")
    earlier = item(utc(2026, 10, 25, 0, 10).astimezone(ZURICH), delivery_id="z")
    tie = item(utc(2026, 10, 25, 0, 10), delivery_id="b")
    (digest,) = all_closed(book_with(later, earlier, tie))
    assert ids(digest) == ["b", "z", "a"]


@pytest.mark.parametrize(
    ("now", "grace", "expected"),
    [
        (zurich(2026, 11, 22, 14, 59, 59), dt.timedelta(0), False),
        (zurich(2026, 11, 22, 15), dt.timedelta(0), True),
        (zurich(2026, 11, 22, 15, 4, 59), dt.timedelta(minutes=5), False),
        (zurich(2026, 11, 22, 15, 5), dt.timedelta(minutes=5), True),
    ],
)
def test_a_digest_closes_only_when_its_hour_and_the_grace_are_over(
    now: dt.datetime, grace: dt.timedelta, expected: bool
) -> None:
    book = book_with(item(zurich(2026, 11, 22, 14, 10)))
    assert bool(book.closed(now, grace=grace)) is expected


def test_the_same_delivery_id_added_twice_is_kept_once() -> None:
    original = item(zurich(2026, 11, 22, 14, 10))
    redelivered = item(zurich(2026, 11, 22, 16), delivery_id=original.delivery_id)
    book: DigestBook[str] = DigestBook()

    assert book.add(original) is True
    assert book.add(redelivered) is False

    assert book.pending() == 1
    assert [ids(d) for d in all_closed(book)] == [[original.delivery_id]]


def test_a_redelivery_of_a_sent_item_is_ignored_until_the_memory_expires() -> None:
    sent = item(zurich(2026, 11, 22, 14, 10))
    book: DigestBook[str] = DigestBook(remember_sent=dt.timedelta(hours=2))
    book.add(sent)
    (digest,) = book.closed(zurich(2026, 11, 22, 15), grace=dt.timedelta(0))
    book.mark_sent(digest)

    assert book.add(sent) is False
    assert book.pending() == 0
    book.closed(zurich(2026, 11, 22, 17, 1), grace=dt.timedelta(0))
    assert book.add(sent) is True


def test_an_abandoned_digest_releases_its_offsets_and_a_replay_of_it_is_filed_again() -> None:
    given_up = item(zurich(2026, 11, 22, 14, 10))
    book: DigestBook[str] = DigestBook()
    book.add(given_up, position=("p0", 7))
    (digest,) = book.closed(zurich(2026, 11, 22, 15), grace=dt.timedelta(0))
    book.abandon(digest)

    assert book.pending() == 0
    assert book.safe_commit_offsets({"p0": 8}) == {"p0": 8}
    assert book.add(given_up, position=("p0", 12)) is True  # the replayed alert is mailed
    assert book.pending() == 1


def test_a_digest_period_must_divide_the_hour() -> None:
    with pytest.raises(ValueError, match="divide the hour"):
        DigestBook(period=dt.timedelta(minutes=7))
    ten_minutes: DigestBook[str] = DigestBook(period=dt.timedelta(minutes=10))
    ten_minutes.add(item(zurich(2026, 11, 22, 14, 10)))
    ten_minutes.add(item(zurich(2026, 11, 22, 14, 19, 59)))
    ten_minutes.add(item(zurich(2026, 11, 22, 14, 20)))
    assert [len(d.items) for d in all_closed(ten_minutes)] == [2, 1]


def test_an_item_added_while_its_digest_was_sending_comes_in_a_follow_up() -> None:
    first = item(zurich(2026, 11, 22, 14, 10))
    book = book_with(first)
    (digest,) = book.closed(zurich(2026, 11, 22, 15, 1), grace=dt.timedelta(0))
    late = item(zurich(2026, 11, 22, 14, 59))
    book.add(late)

    book.mark_sent(digest)

    (follow_up,) = book.closed(zurich(2026, 11, 22, 15, 1), grace=dt.timedelta(0))
    assert ids(follow_up) == [late.delivery_id]
    assert follow_up.hour == digest.hour
    assert follow_up.message_id != digest.message_id


# --- Message-ID --------------------------------------------------------------------------------


def test_the_message_id_depends_only_on_address_hour_and_items() -> None:
    one, two = item(zurich(2026, 11, 22, 14, 10)), item(zurich(2026, 11, 22, 14, 20))
    (digest,) = all_closed(book_with(one, two))
    (again,) = all_closed(book_with(two, one))
    (other_hour,) = all_closed(book_with(item(zurich(2026, 11, 22, 15, 10), delivery_id="x")))
    (same_ids_other_hour,) = all_closed(
        book_with(
            item(zurich(2026, 11, 22, 15, 10), delivery_id=one.delivery_id),
            item(zurich(2026, 11, 22, 15, 20), delivery_id=two.delivery_id),
        )
    )

    assert re.fullmatch(r"<[0-9a-f-]{36}@iiz\.bl\.ch>", digest.message_id)
    assert again.message_id == digest.message_id
    assert other_hour.message_id != digest.message_id
    assert same_ids_other_hour.message_id != digest.message_id
    assert render(again, sender=SENDER)["Message-ID"] == digest.message_id


# --- offsets -----------------------------------------------------------------------------------


def test_a_records_offset_is_held_back_until_its_digest_was_sent() -> None:
    book: DigestBook[str] = DigestBook()
    book.add(item(zurich(2026, 11, 22, 14, 10)), position=("p0", 10))
    book.add(item(zurich(2026, 11, 22, 15, 10)), position=("p0", 11))
    book.add(item(zurich(2026, 11, 22, 14, 40)), position=("p1", 5))

    assert book.oldest_pending_offset("p0") == 10
    assert book.safe_commit_offsets({"p0": 20, "p1": 6, "p2": 3}) == {"p0": 10, "p1": 5, "p2": 3}

    (hour_14,) = book.closed(zurich(2026, 11, 22, 15), grace=dt.timedelta(0))
    book.mark_sent(hour_14)

    assert book.safe_commit_offsets({"p0": 20, "p1": 6}) == {"p0": 11, "p1": 6}
    assert book.oldest_pending_offset("p1") is None


def test_a_duplicate_record_is_held_back_with_its_original_but_a_resent_one_is_not() -> None:
    original = item(zurich(2026, 11, 22, 14, 10))
    book: DigestBook[str] = DigestBook()
    book.add(original, position=("p0", 10))
    book.add(original, position=("p1", 3))
    assert book.safe_commit_offsets({"p0": 11, "p1": 4}) == {"p0": 10, "p1": 3}

    (digest,) = all_closed(book)
    book.mark_sent(digest)
    book.add(original, position=("p0", 12))

    assert book.safe_commit_offsets({"p0": 13, "p1": 4}) == {"p0": 13, "p1": 4}


def test_releasing_a_revoked_lane_drops_only_items_no_other_lane_holds() -> None:
    only_p0 = item(zurich(2026, 11, 22, 14, 10))
    both = item(zurich(2026, 11, 22, 14, 20))
    only_p1 = item(zurich(2026, 11, 22, 14, 30))
    book: DigestBook[str] = DigestBook()
    book.add(only_p0, position=("p0", 1))
    book.add(both, position=("p0", 2))
    book.add(both, position=("p1", 7))
    book.add(only_p1, position=("p1", 8))

    assert book.release_lane("p0") == 1

    assert book.pending() == 2
    assert book.oldest_pending_offset("p0") is None
    assert [ids(d) for d in all_closed(book)] == [[both.delivery_id, only_p1.delivery_id]]


# --- items from events -------------------------------------------------------------------------


def alert_event(audience: Audience = Audience.COORDINATOR, **alert: Any) -> CloudEvent[Alert]:
    alert_id = uuid.uuid4()
    data = Alert(
        alert_id=alert_id,
        kind=alert.get("kind", AlertKind.REFERRAL_ESCALATION),
        audience=audience,
        message=alert.get("message", "Anmeldung an die IV-Stelle seit 10 Tagen unbeantwortet."),
        due=dt.date(2026, 12, 3),
        institutions=["rav", "iv"],
        recipient_institution="rav",
    )
    return CloudEvent[Alert](
        id=alert_id,
        source="/iiz/bl/coordination",
        type=Alert.cloud_event_type(),
        subject=PSEUDONYM,
        time=utc(2026, 11, 22, 13, 15),
        datacategory=Alert.default_category,
        partitionkey=f"rav|{PSEUDONYM}",
        recipient="rav",
        iizcase="IIZ-2026-000123",
        recipientcaseref="RAV-4711",
        data=data,
    )


def test_an_item_carries_the_alert_and_the_case_numbers_but_not_the_subject() -> None:
    event = alert_event()
    made = item_from_alert(event, address=RAV)
    assert made == DigestItem(
        delivery_id=str(event.id),
        address=RAV,
        institution="rav",
        case_number="IIZ-2026-000123",
        case_ref="RAV-4711",
        kind=AlertKind.REFERRAL_ESCALATION,
        message="Anmeldung an die IV-Stelle seit 10 Tagen unbeantwortet.",
        due=dt.date(2026, 12, 3),
        at=utc(2026, 11, 22, 13, 15),
    )
    assert PSEUDONYM not in repr(made)


def test_an_institution_alert_is_no_digest_item() -> None:
    with pytest.raises(ValueError, match="coordinator"):
        item_from_alert(alert_event(Audience.INSTITUTION), address=RAV)


@pytest.mark.parametrize(
    ("field", "value"),
    [("address", "a@b.ch\nBcc: x@y.ch"), ("address", "nobody"), ("at", dt.datetime(2026, 1, 1))],
)
def test_an_item_refuses_header_injection_and_naive_times(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=r"address|aware"):
        item(zurich(2026, 11, 22, 14), **{field: value})


# --- rendering ---------------------------------------------------------------------------------


def test_every_alert_kind_has_a_german_label() -> None:
    assert set(KIND_LABELS) == set(AlertKind)


def three_alert_digest() -> Digest:
    (digest,) = all_closed(
        book_with(
            item(zurich(2026, 11, 22, 14, 5)),
            item(
                zurich(2026, 11, 22, 14, 20),
                case_number=None,
                case_ref=None,
                kind=AlertKind.SEQUENTIAL_HANDOFF,
                message="Übergabe mit Lücke: Sozialhilfe übernimmt erst nach Leistungsende.",
                due=None,
            ),
            item(
                zurich(2026, 11, 22, 14, 40),
                kind=AlertKind.REFERRAL_REMINDER,
                message="Anmeldung an die IV-Stelle unbeantwortet.",
                due=dt.date(2026, 11, 29),
            ),
        )
    )
    return digest


def test_the_digest_mail_has_german_subject_and_the_expected_headers() -> None:
    digest = three_alert_digest()
    mail = render(digest, sender=SENDER, case_page_url="https://iiz.example/fall/")

    assert mail["Subject"] == "IIZ-Hinweise: 3 neue Hinweise (22.11.2026, 14\u201315 Uhr)"
    assert mail["From"] == SENDER
    assert mail["To"] == RAV
    assert mail["Message-ID"] == digest.message_id
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "de-CH"
    assert parsedate_to_datetime(mail["Date"]) == zurich(2026, 11, 22, 15)
    sent_at = zurich(2026, 11, 22, 15, 1, 30)
    assert parsedate_to_datetime(render(digest, sender=SENDER, date=sent_at)["Date"]) == sent_at


def test_the_body_lists_the_alerts_per_case_with_labels_dates_references_and_links() -> None:
    body = render(
        three_alert_digest(), sender=SENDER, case_page_url="https://iiz.example/fall/"
    ).get_content()

    case = body.index("Fall IIZ-2026-000123 (Ihre Fallreferenz: RAV-4711)")
    without_case = body.index("Ohne IIZ-Fallnummer")
    footer = body.index("-- \n")
    assert case < without_case < footer
    assert "keine Personendaten" in " ".join(body[footer:].split())
    case_section = body[case:without_case]
    assert "Fallseite: https://iiz.example/fall/IIZ-2026-000123" in case_section
    assert "14:05 Uhr · Parallele Planung, Frist 01.12.2026" in case_section
    assert "14:40 Uhr · Erinnerung: Anmeldung unbeantwortet, Frist 29.11.2026" in case_section
    assert "Aussteuerung absehbar: bitte parallel planen." in case_section
    assert "14:20 Uhr · Sequenzielle Übergabe\n" in body[without_case:]
    assert "Timeline-API" in body
    assert "Fallseite" not in render(three_alert_digest(), sender=SENDER).get_content()


def test_the_mail_survives_the_wire_with_umlauts_and_the_dash() -> None:
    mail = render(three_alert_digest(), sender=SENDER, case_page_url="https://iiz.example/fall")
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == mail["Subject"]
    assert "Übergabe mit Lücke" in parsed.get_content()  # type: ignore[attr-defined]


def test_the_mail_contains_no_pseudonym_and_no_ahv_number_even_if_a_partner_typed_one() -> None:
    ahv = valid_ahv(42)
    typed = f"Rückfrage zu {ahv} ({ahv.replace('.', '')}), intern {PSEUDONYM}."
    event = alert_event(message=typed)
    (digest,) = all_closed(book_with(item_from_alert(event, address=RAV)))

    mail = render(digest, sender=SENDER, case_page_url="https://iiz.example/fall")
    wire = mail.as_bytes().decode("ascii")
    text = "\n".join([wire, mail.get_content(), str(mail["Subject"])])

    assert event.subject == PSEUDONYM
    assert PSEUDONYM not in text
    assert AHV_LIKE.findall(mail.get_content()) == []
    assert find_valid_ahv_numbers(text) == []
    assert "Rückfrage zu 756.****.****.**" in mail.get_content()
