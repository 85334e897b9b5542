"""The "something new waits in your Posteingang" e-mail on the real broker and a local SMTP
server: one German e-mail per address and period, with the link and nothing else: no AHV
number, no name, no case number, no pseudonym, nothing of what was delivered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Any

from faststream import TestApp

from schemas.ahv import contains_ahv_number
from schemas.codec import KafkaRecord
from schemas.events import CaseOpened, ReferralCompleted
from schemas.registry import load_institutions
from services.common.kafka_clients import end_offsets
from services.notifications.app import create_app
from services.notifications.settings import NotificationsSettings
from simulator.mailbox import LocalSmtpServer
from tests.case_story import CaseStory
from tests.integration.notifications.conftest import SECRETS, Clock, authorised
from tests.kafka_tools import read_until

Publish = Callable[[list[KafkaRecord]], Coroutine[Any, Any, None]]
MUTTENZ = "sozialhilfe-2770"
NOTICE_ADDRESS = load_institutions().by_id[MUTTENZ].inbox_notice_email
PERSON_NAME = "Amina Beispiel-Haddad"
CASE_NUMBER = "IIZ-2026-000042"  # what ``authorised`` puts into the deliveries


async def test_three_deliveries_give_one_notice_without_personal_data(
    notifications_settings: NotificationsSettings,
    deliveries_producer: Publish,
    smtp: LocalSmtpServer,
) -> None:
    assert NOTICE_ADDRESS is not None
    story = CaseStory(person_seed=4301)
    opened = story.rav(CaseOpened, project_code="IAS-VAFL", reason=f"Für {PERSON_NAME}")
    done = story.zif(
        ReferralCompleted,
        referral_id=opened.id,
        result=f"Empfehlung für {PERSON_NAME}: Deutschkurs B1",
    )
    to_muttenz = [authorised(opened, MUTTENZ), authorised(done, MUTTENZ)]
    repeated = authorised(done, MUTTENZ)  # a redelivery (same id) is no second item
    to_rav = authorised(done, "rav")  # rav asked for no notice
    muttenz_topic = load_institutions().by_id[MUTTENZ].delivery_topic
    start = await end_offsets(notifications_settings, [muttenz_topic])
    clock = Clock()
    settings = notifications_settings.model_copy(update={"notifications_digest_grace_seconds": 600})

    async with TestApp(create_app(settings, secrets=SECRETS, clock=clock)):
        await deliveries_producer([*to_muttenz, repeated, to_rav])
        await read_until(  # the deliveries themselves went their usual way
            notifications_settings, start, lambda rs: len(rs) >= 3
        )
        assert smtp.received == []  # the period (and its grace) is not over yet
        clock.ahead = dt.timedelta(hours=2)
        [mail] = await smtp.wait_for_messages(1, within=30)

    assert list(mail.rcpt_tos) == [NOTICE_ADDRESS]
    message = mail.message
    assert message["Subject"] == "IIZ: Neues in Ihrem Posteingang"
    assert message["Content-Language"] == "de-CH"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "liegt Neues für Sie bereit" in text
    assert "http://127.0.0.1:8082/posteingang" in text
    whole = message.as_string() + text
    assert not contains_ahv_number(whole)
    assert story.ahv.digits not in whole.replace(".", "")
    assert PERSON_NAME not in whole
    assert "Amina" not in whole
    assert CASE_NUMBER not in whole
    assert "IIZ-2026" not in whole
    assert story.pseudonym not in whole
    assert "Deutschkurs" not in whole
    assert "RAV-" not in whole
    assert len(smtp.received) == 1  # rav's delivery asked for none
