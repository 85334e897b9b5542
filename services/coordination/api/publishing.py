"""Publishing what a signed-in caller authors (a note, a referral answer) as a canonical event.

Like intake publishes: to ``iiz.case-events.v1``, source the caller's institution, subject and
key the person's pseudonym, the data naming the person by the caller's own case reference. The
event id is the caller's to derive, so a retried request is the same event. Coordination then
folds, decides and delivers it like any other event.

The record is sealed under the person's own key (``record_seal``), as intake seals; a person from
before the person registry (a legacy ``psn:`` subject) has no key, and their events stay in
clear like their earlier ones; a registry (``prs:``) subject is never published in clear.
"""

from __future__ import annotations

import uuid

import structlog
from aiokafka.errors import KafkaError

from schemas.codec import KafkaRecord, to_kafka
from schemas.envelope import new_event
from schemas.events import PersonRef
from schemas.events.base import EventData
from schemas.topics import CASE_EVENTS
from services.common.person_registry import is_registry_subject, keys_of
from services.common.record_seal import seal_record
from services.coordination.api.context import ApiContext
from services.coordination.api.problems import (
    CaseNotFoundError,
    RoleNotAllowedError,
    UnavailableError,
)
from services.coordination.reading.caller import CASE_WORK_ROLES, Caller, Role
from services.coordination.reading.queries import CaseRow

log = structlog.get_logger("coordination.api")


def check_author(caller: Caller, refusal: str) -> None:
    """Only case workers and coordinators author case events (``RoleNotAllowedError`` with
    ``refusal``); the committee is answered like an outsider (404) by the access check after."""
    if caller.role is not Role.COMMITTEE and caller.role not in CASE_WORK_ROLES:
        raise RoleNotAllowedError(refusal)


def person_ref(case: CaseRow, case_ref: str | None) -> PersonRef:
    """The person as the caller's institution knows them (the case number if it has no ref)."""
    return PersonRef(case_ref=case_ref or case.case_number)


async def publish_case_event(
    api: ApiContext,
    caller: Caller,
    case: CaseRow,
    data: EventData,
    event_id: uuid.UUID,
    *,
    unavailable: str,
) -> None:
    """Send the caller's event and wait for Kafka; a Kafka failure is ``UnavailableError``
    with the ``unavailable`` detail (what the caller should do: send it again)."""
    event = new_event(
        data,
        source=api.registry.by_id[caller.institution].source,
        time=api.clock(),
        event_id=event_id,
        subject=case.pseudonym,
        partitionkey=case.pseudonym,
    )
    record = await sealed_for_person(api, to_kafka(event), case.pseudonym)
    try:
        await api.producer.send_and_wait(
            CASE_EVENTS, value=record.value, key=record.key, headers=list(record.headers)
        )
    except KafkaError as error:
        log.warning(
            "publishing a case event failed",
            event_type=event.type,
            error_type=type(error).__name__,
        )
        raise UnavailableError(unavailable) from None


async def sealed_for_person(api: ApiContext, record: KafkaRecord, subject: str) -> KafkaRecord:
    """The record sealed under the person's key; as it is only for a legacy ``psn:`` subject
    (from before the registry). A person erased since the case was read is not found (the
    erasure deletes the case too). A registry subject without a registry row (another registry
    configured, a restore gone wrong) fails closed: ``UnavailableError``, nothing published —
    in clear, the text would stay on the log for good."""
    s = api.settings
    keys = await keys_of(api.pool, s.person_db_schema, s.person_keyring, [subject])
    if subject not in keys:
        if not is_registry_subject(subject):
            return record
        log.error("a case's person has no row in the person registry; nothing published")
        raise UnavailableError(
            "the person's key is not available; nothing was published, tell the operators"
        )
    key = keys[subject]
    if key is None:
        raise CaseNotFoundError()
    return seal_record(record, key)
