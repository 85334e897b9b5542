"""The coordinator digest over real SMTP: a local aiosmtpd server receives what the mailer sends."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest

from schemas.alerts import AlertKind
from services.common.mailer import Mailer, MailFailure, MailNotSentError, SmtpSettings
from services.notifications.digest import Digest, DigestBook, DigestItem, render
from simulator.mailbox import LocalSmtpServer

ZURICH = ZoneInfo("Europe/Zurich")
SENDER = "iiz-bus@example.org"
RAV = "iiz-koordination.rav@example.org"
IV = "iiz-koordination.iv@example.org"


@pytest.fixture
async def smtp() -> AsyncIterator[LocalSmtpServer]:
    async with LocalSmtpServer() as server:
        yield server


def mailer_for(server: LocalSmtpServer) -> Mailer:
    return Mailer(SmtpSettings(host=server.host, port=server.port, sender=SENDER, timeout=5.0))


def two_digests() -> list[Digest]:
    book: DigestBook[int] = DigestBook()
    for n, (address, minute, kind) in enumerate(
        [
            (RAV, 5, AlertKind.PARALLEL_PLANNING),
            (RAV, 35, AlertKind.REFERRAL_REMINDER),
            (IV, 20, AlertKind.REFERRAL_ESCALATION),
        ]
    ):
        book.add(
            DigestItem(
                delivery_id=str(uuid.uuid4()),
                address=address,
                institution="rav" if address == RAV else "iv",
                case_number=f"IIZ-2026-00012{n}",
                case_ref=f"REF-{n}",
                kind=kind,
                message=f"Hinweis Nummer {n}: bitte prüfen.",
                due=dt.date(2026, 12, 1),
                at=dt.datetime(2026, 11, 22, 14, minute, tzinfo=ZURICH),
            ),
            position=n,
        )
    return book.closed(dt.datetime(2026, 11, 22, 15, 1, tzinfo=ZURICH), grace=dt.timedelta(0))


async def test_two_digests_arrive_as_two_mails_with_their_headers_and_alerts(
    smtp: LocalSmtpServer,
) -> None:
    digests = two_digests()
    mailer = mailer_for(smtp)

    for digest in digests:
        await mailer.send(render(digest, sender=SENDER, case_page_url="https://iiz.example/fall"))

    received = await smtp.wait_for_messages(2)
    assert len(received) == 2
    by_to = {mail.message["To"]: mail for mail in received}
    assert set(by_to) == {RAV, IV}
    rav, iv = by_to[RAV], by_to[IV]
    assert rav.rcpt_tos == (RAV,)
    assert rav.mail_from == SENDER
    assert rav.message["Subject"] == "IIZ-Hinweise: 2 neue Hinweise (22.11.2026, 14\u201315 Uhr)"
    assert iv.message["Subject"] == "IIZ-Hinweise: 1 neuer Hinweis (22.11.2026, 14\u201315 Uhr)"
    assert {rav.message["Message-ID"], iv.message["Message-ID"]} == {d.message_id for d in digests}
    rav_body = rav.message.get_content()
    assert "Parallele Planung, Frist 01.12.2026" in rav_body
    assert "Erinnerung: Anmeldung unbeantwortet" in rav_body
    assert "Hinweis Nummer 1: bitte prüfen." in rav_body
    assert "https://iiz.example/fall/IIZ-2026-000121" in rav_body
    assert "Eskalation" not in rav_body
    assert "Eskalation: Anmeldung unbeantwortet" in iv.message.get_content()


async def test_a_refused_recipient_raises_mail_not_sent_with_the_smtp_code() -> None:
    (digest, *_) = two_digests()
    async with LocalSmtpServer(rcpt_reply="550 5.1.1 Mailbox unavailable") as refusing:
        with pytest.raises(MailNotSentError) as raised:
            await mailer_for(refusing).send(render(digest, sender=SENDER))
        assert refusing.received == []

    assert raised.value.reason is MailFailure.RECIPIENT_REFUSED
    assert raised.value.smtp_code == 550
    assert raised.value.permanent
    assert digest.address not in str(raised.value)


async def test_a_temporarily_refused_message_is_not_permanent() -> None:
    (digest, *_) = two_digests()
    async with LocalSmtpServer(data_reply="451 4.3.0 Try again later") as busy:
        with pytest.raises(MailNotSentError) as raised:
            await mailer_for(busy).send(render(digest, sender=SENDER))

    assert raised.value.reason is MailFailure.DATA_REFUSED
    assert raised.value.smtp_code == 451
    assert not raised.value.permanent


async def test_a_closed_port_raises_mail_not_sent() -> None:
    # A port that was just free and is not listened on: the connection is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = Mailer(SmtpSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=5.0))

    with pytest.raises(MailNotSentError) as raised:
        await mailer.send(render(two_digests()[0], sender=SENDER))

    assert raised.value.reason is MailFailure.CONNECT_FAILED
    assert raised.value.smtp_code is None
