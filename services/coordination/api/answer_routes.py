"""``POST /v1/cases/{case_number}/referrals/{referral_id}/answer``: the addressee answers.

The logic is ``referral_answers.answer_referral``, shared with the case page's answer form.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.common.problems import problem_response
from services.coordination.api.answer_models import AnswerAccepted, ReferralAnswer
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.referral_answers import answer_referral

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)


@router.post(
    "/cases/{case_number}/referrals/{referral_id}/answer",
    tags=["referrals"],
    summary="Answer a referral addressed to your institution: accept, decline or complete",
    status_code=202,
    response_model=AnswerAccepted,
    responses={
        403: problem_response("Only coordinators and case workers answer (role_not_allowed)."),
        404: problem_response(
            "No such case visible to you (case_not_found), or no referral with this id "
            "addressed to your institution in it (referral_not_found)."
        ),
        409: problem_response("The referral was answered otherwise already (referral_not_open)."),
        422: problem_response(
            "The fields do not fit the answer (invalid_request) or the result holds an AHV "
            "number (ahv_in_text)."
        ),
        503: problem_response("Kafka unreachable (unavailable): send the same answer again."),
    },
)
async def answer(
    case_number: str,
    referral_id: uuid.UUID,
    body: ReferralAnswer,
    caller: CurrentCaller,
    api: Api,
) -> AnswerAccepted:
    """Publishes ``referral.accepted`` (with the first appointment), ``referral.declined``
    (with a reason) or ``referral.completed`` (with the result, e.g. ZIF's binding
    recommendation). 202: accepted by the bus; the same answer sent again gives the same event
    id, and once it is on the timeline ``repeated`` is true and nothing is sent again."""
    return await answer_referral(api, caller, case_number, referral_id, body)
