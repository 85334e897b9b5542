"""The optional "something new waits in your Posteingang" e-mail (pure).

An institution that sets ``inbox_notice_email`` in the registry is told, at most once per
digest period (hourly by default), that something new waits in its Posteingang, with the link.
The router queues one small record per case-event delivery to such an institution on the digest
queue (``notice_record``); the digest worker files it in the same ``DigestBook`` as the
coordinator alerts (its own letter, so the two never share an e-mail) and sends
``render_notice`` once the period is over.

The queued record carries no CloudEvent attribute and nothing of the delivery: only its id (to
recognise a redelivery), the institution and the address. The e-mail says nothing but that
something is new: no personal data, no case number, no count, no institution that sent it.
"""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage

from schemas.alerts import Alert
from schemas.codec import KafkaRecord
from schemas.refusals import Refusal
from schemas.registry.institutions import Institution
from services.notifications.digest import (
    Digest,
    InboxNotice,
    Letter,
    email_message,
    with_footer,
)
from services.notifications.shaping import Delivery

LETTER_HEADER = "iiz_digest_letter"
ADDRESS_HEADER = "iiz_digest_address"
SUBJECT = "IIZ: Neues in Ihrem Posteingang"
# Deliveries the Posteingang does not list: alerts (the coordinator digest) and refusals.
NOT_IN_THE_INBOX = frozenset({Alert.cloud_event_type(), Refusal.cloud_event_type()})


def wants_notice(delivery: Delivery, institution: Institution) -> bool:
    """A case-event delivery (what the Posteingang lists) to an institution that asked to be
    told; not a coordinator alert nor a refusal."""
    return institution.inbox_notice_email is not None and delivery.type not in NOT_IN_THE_INBOX


def notice_record(delivery: Delivery, institution: Institution) -> KafkaRecord:
    """The digest-queue record of a notice, keyed by the address (one address, one partition)."""
    address = institution.inbox_notice_email
    assert address is not None
    value = json.dumps(
        {"delivery_id": str(delivery.delivery_id), "institution": institution.id},
        separators=(",", ":"),
    )
    headers = (
        (LETTER_HEADER, Letter.INBOX_NOTICE.value.encode()),
        (ADDRESS_HEADER, address.encode()),
    )
    return KafkaRecord(key=address.encode(), value=value.encode(), headers=headers)


def is_notice(record: KafkaRecord) -> bool:
    return record.header(LETTER_HEADER) == Letter.INBOX_NOTICE.value.encode()


def notice_from_record(record: KafkaRecord, queued_at: dt.datetime) -> InboxNotice:
    """The item of a queued notice; ``ValueError`` for a malformed one."""
    address = record.header(ADDRESS_HEADER)
    body = json.loads(record.value)
    if address is None or not isinstance(body, dict):
        raise ValueError("a notice needs an address and a JSON object")
    return InboxNotice(
        delivery_id=str(body.get("delivery_id") or ""),
        address=address.decode(),
        institution=str(body.get("institution") or ""),
        at=queued_at,
    )


def _period_words(period: dt.timedelta) -> str:
    minutes = int(period.total_seconds() // 60)
    return "Stunde" if minutes == 60 else f"{minutes} Minuten"


def render_notice_body(digest: Digest, *, inbox_url: str | None) -> str:
    where = (
        f"Posteingang: {inbox_url}"
        if inbox_url
        else "Sie finden es im Posteingang der IIZ-Koordination."
    )
    lines = [
        "Guten Tag",
        "",
        "In Ihrem Posteingang der IIZ-Koordination Basel-Landschaft liegt Neues für Sie bereit.",
        "",
        where,
        "",
        "Bitte melden Sie sich an, um es zu lesen.",
        "",
    ]
    footer = (
        "Diese E-Mail wurde automatisch erstellt; bitte antworten Sie nicht darauf. Sie enthält"
        " keine Personendaten und keine Fallnummern. Sie erhalten höchstens eine solche"
        f" Nachricht pro {_period_words(digest.period)}."
    )
    return with_footer(lines, footer)


def render_notice(
    digest: Digest, *, sender: str, inbox_url: str | None, date: dt.datetime | None = None
) -> EmailMessage:
    """The notice as an e-mail; ``date`` defaults to the end of the period."""
    if digest.letter is not Letter.INBOX_NOTICE or not digest.items:
        raise ValueError("a notice is sent for new Posteingang items only")
    return email_message(
        digest,
        sender=sender,
        subject=SUBJECT,
        body=render_notice_body(digest, inbox_url=inbox_url),
        date=date,
    )
