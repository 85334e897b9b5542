"""The addressee's answer to a referral, for both doors (the API route and the case page form).

Published like a note (``publishing.publish_case_event``): a canonical ``referral.accepted``,
``.declined`` or ``.completed`` on ``iiz.case-events.v1``, source the caller's institution,
subject and key the person's pseudonym; coordination folds, decides and delivers it like any
event. The checks up front (the worker refuses the same answers, ``domain/folding.py``): the
case is visible to the caller, the referral is addressed to the caller's institution, and it is
open (``complete`` also after an acceptance). The event id derives from institution, referral
and answer kind, so a retried answer is the same event: once it is on the timeline the retry is
answered as done (``repeated``) and nothing is published again. Every answer, done or refused,
is audited.
"""

from __future__ import annotations

import uuid
from typing import Any

from schemas.ahv import contains_ahv_number
from schemas.events import PersonRef, ReferralAccepted, ReferralCompleted, ReferralDeclined
from services.coordination.api.answer_models import AnswerAccepted, AnswerKind, ReferralAnswer
from services.coordination.api.context import ApiContext, visible
from services.coordination.api.problems import (
    AhvInTextError,
    ReferralNotFoundError,
    ReferralNotOpenError,
)
from services.coordination.api.publishing import check_author, person_ref, publish_case_event
from services.coordination.domain.case_parts import ReferralStatus
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller
from services.coordination.reading.referral_target import AnswerTarget, answer_target

ANSWER_NAMESPACE = uuid.UUID("5d3c2b1a-9e8f-4a7b-8c6d-2e1f0a9b8c7d")
ACTION = "answer-referral"
# Which status each answer may follow.
ANSWERABLE: dict[AnswerKind, frozenset[str]] = {
    AnswerKind.ACCEPT: frozenset({ReferralStatus.OPEN}),
    AnswerKind.DECLINE: frozenset({ReferralStatus.OPEN}),
    AnswerKind.COMPLETE: frozenset({ReferralStatus.OPEN, ReferralStatus.ACCEPTED}),
}


def answer_event_id(institution: str, referral_id: uuid.UUID, kind: AnswerKind) -> uuid.UUID:
    return uuid.uuid5(ANSWER_NAMESPACE, f"{institution}|{referral_id}|{kind.value}")


async def answer_referral(
    api: ApiContext,
    caller: Caller,
    case_number: str,
    referral_id: uuid.UUID,
    answer: ReferralAnswer,
) -> AnswerAccepted:
    """Publish the caller's answer (or recognise it as done); raises the API's errors."""
    check_author(caller, "only coordinators and case workers answer referrals")
    if answer.result is not None and contains_ahv_number(answer.result):
        raise AhvInTextError("a result must not contain an AHV number")
    event_id = answer_event_id(caller.institution, referral_id, answer.answer)
    target = visible(
        await answer_target(
            api,
            caller,
            case_number,
            referral_id,
            event_id,
            action=ACTION,
            purpose=answer.purpose,
        )
    )
    referral = target.referral
    if referral is None:
        await _audit(api, caller, target, answer, "referral_not_found", referral_id)
        raise ReferralNotFoundError()
    if target.answered_by:
        await _audit(api, caller, target, answer, "ok", referral_id, event_id, repeated=True)
        return AnswerAccepted(
            event_id=event_id, referral_id=referral_id, answer=answer.answer, repeated=True
        )
    if referral.status not in ANSWERABLE[answer.answer]:
        await _audit(api, caller, target, answer, "referral_not_open", referral_id)
        raise ReferralNotOpenError(f"the referral is {referral.status} already")
    await publish_case_event(
        api,
        caller,
        target.case,
        _data(person_ref(target.case, target.case_ref), referral_id, answer),
        event_id,
        unavailable="the answer could not be published; send it again",
    )
    await _audit(api, caller, target, answer, "ok", referral_id, event_id)
    return AnswerAccepted(
        event_id=event_id, referral_id=referral_id, answer=answer.answer, repeated=False
    )


def _data(person: PersonRef, referral_id: uuid.UUID, answer: ReferralAnswer) -> Any:
    match answer.answer:
        case AnswerKind.ACCEPT:
            return ReferralAccepted(
                person=person, referral_id=referral_id, first_appointment=answer.first_appointment
            )
        case AnswerKind.DECLINE:
            assert answer.reason is not None
            return ReferralDeclined(person=person, referral_id=referral_id, reason=answer.reason)
        case AnswerKind.COMPLETE:
            return ReferralCompleted(person=person, referral_id=referral_id, result=answer.result)


async def _audit(
    api: ApiContext,
    caller: Caller,
    target: AnswerTarget,
    answer: ReferralAnswer,
    outcome: str,
    referral_id: uuid.UUID,
    event_id: uuid.UUID | None = None,
    **detail: Any,
) -> None:
    extra = {} if event_id is None else {"event_id": str(event_id)}
    await api.record(
        audit_entry(
            caller,
            ACTION,
            answer.purpose,
            subject=target.case.pseudonym,
            case_number=target.case.case_number,
            basis=target.basis,
            outcome=outcome,
            answer=answer.answer.value,
            referral_id=str(referral_id),
            **extra,
            **detail,
        )
    )
