"""``GET /v1/inbox`` and ``POST /v1/inbox/read``: the institution's Posteingang as JSON.

What the bus delivered to the caller's institution, newest first, minimised like its
deliveries (``reading.inbox``). Case workers and coordinators only: the committee never sees
a case, the auditor reads the audit log.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, Purpose, Responses
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.api.problems import RoleNotAllowedError
from services.coordination.reading.caller import CASE_WORK_ROLES, Caller
from services.coordination.reading.inbox import MAX_LIMIT, InboxItem, mark_read, read_inbox

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)


class InboxPage(BaseModel):
    items: list[InboxItem]
    unread: int = Field(description="Unread items of your institution in all (not this page).")
    next_before: uuid.UUID | None = Field(
        description="Pass as `before` for older items; None on the last page."
    )


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_LIMIT)


def may_use_inbox(caller: Caller) -> bool:
    return caller.role in CASE_WORK_ROLES


def _allowed(caller: Caller) -> None:
    if not may_use_inbox(caller):
        raise RoleNotAllowedError("only coordinators and case workers have a Posteingang")


ROLE_REFUSED: Responses = {
    403: problem_response("Only coordinators and case workers (role_not_allowed).")
}


@router.get(
    "/inbox",
    tags=["inbox"],
    summary="What the bus delivered to your institution, newest first",
    response_model=InboxPage,
    responses=ROLE_REFUSED,
)
async def inbox(
    caller: CurrentCaller,
    api: Api,
    purpose: Purpose = DEFAULT_PURPOSE,
    before: Annotated[uuid.UUID | None, Query(description="Event id of the last item.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    unread_only: bool = False,
) -> InboxPage:
    """Answers to your referrals, recommendations, documents, notes ...: every event another
    institution published that the policy allowed to you, as delivered. Audited per person."""
    _allowed(caller)
    found = await read_inbox(
        api, caller, purpose, before=before, limit=limit, unread_only=unread_only
    )
    return InboxPage(items=found.items, unread=found.unread, next_before=found.next_before)


@router.post(
    "/inbox/read",
    tags=["inbox"],
    summary="Mark items of your Posteingang read (for your whole institution)",
    status_code=204,
    responses=ROLE_REFUSED,
)
async def inbox_read(body: MarkRead, caller: CurrentCaller, api: Api) -> Response:
    """Ids that were not delivered to your institution are ignored."""
    _allowed(caller)
    await mark_read(api, caller, body.event_ids)
    return Response(status_code=204)
