"""``/v1/notices``: the notices the caller's institution must send to persons after an exchange
without consent (AVG Art. 35a Abs. 1ter), one as JSON or as the German PDF letter, and marking
one sent.

Only case workers and coordinators, and only of the sending institution (the one that disclosed
the data): another institution's notice is answered like an unknown one (``notice_not_found``).
Reads and marks are audited (``read-notices``, ``notice-sent``; ``reading.notices``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, ApiContext, Purpose, Responses
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.api.problems import NoticeNotFoundError, RoleNotAllowedError
from services.coordination.letters.pdf import render_pdf
from services.coordination.pages.notice_letter import TEMPLATE, filename, letter_context
from services.coordination.reading.caller import Caller
from services.coordination.reading.notices import (
    MARK_ACTION,
    MARK_PURPOSE,
    MAX_LIMIT,
    READ_ACTION,
    NoticeStatus,
    NoticeView,
    list_notices,
    mark_sent,
    may_handle_notices,
    read_notice,
    refuse,
)

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)
PDF = "application/pdf"
PDF_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}
REFUSED: Responses = {
    403: problem_response("Only coordinators and case workers (role_not_allowed)."),
}
NOT_FOUND: Responses = {
    404: problem_response("No such notice for your institution to send (notice_not_found)."),
}


class NoticePage(BaseModel):
    notices: list[NoticeView]
    open: int = Field(description="Your institution's notices not yet marked sent, in all.")
    sent: int = Field(description="Your institution's notices marked sent, in all.")


async def _allowed(
    api: ApiContext,
    caller: Caller,
    action: str,
    purpose: str,
    notice_id: uuid.UUID | None = None,
) -> None:
    """Refuse (audited, like every refused look-up) a role that does not send notices."""
    if not may_handle_notices(caller):
        await refuse(api, caller, action, purpose, notice_id)
        raise RoleNotAllowedError("only coordinators and case workers send notices")


async def notice_pdf(api: ApiContext, notice: NoticeView) -> Response:
    """The letter as a PDF attachment (rendered in a thread: it takes about a second)."""
    context = letter_context(notice, api.registry, api.world.matrix, api.today())
    pdf = await anyio.to_thread.run_sync(render_pdf, TEMPLATE, context)
    disposition = f'attachment; filename="{filename(notice)}"'
    return Response(
        pdf, media_type=PDF, headers={**PDF_HEADERS, "Content-Disposition": disposition}
    )


def wants_pdf(request: Request) -> bool:
    """Whether the Accept header asks for the PDF (JSON otherwise)."""
    accept = request.headers.get("accept", "")
    return any(part.split(";")[0].strip() == PDF for part in accept.split(","))


@router.get(
    "/notices",
    tags=["notices"],
    summary="Notices your institution must send to persons (AVG Art. 35a Abs. 1ter)",
    response_model=NoticePage,
    responses=REFUSED,
)
async def notices(
    caller: CurrentCaller,
    api: Api,
    purpose: Purpose = DEFAULT_PURPOSE,
    status: NoticeStatus = NoticeStatus.ALL,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> NoticePage:
    """Every exchange your institution made by law with a duty to inform the person, newest
    first; ``status`` open (not yet marked sent), sent or all. Audited per person."""
    await _allowed(api, caller, READ_ACTION, purpose)
    found = await list_notices(api, caller, purpose, status=status, limit=limit)
    return NoticePage(notices=found.notices, open=found.open, sent=found.sent)


@router.get(
    "/notices/{notice_id}",
    tags=["notices"],
    summary="One notice, as JSON or (Accept: application/pdf) as the German letter",
    response_model=NoticeView,
    responses={
        **REFUSED,
        **NOT_FOUND,
        200: {"description": "The notice.", "content": {"application/json": {}, PDF: {}}},
    },
)
async def notice(
    notice_id: uuid.UUID,
    request: Request,
    caller: CurrentCaller,
    api: Api,
    purpose: Purpose = DEFAULT_PURPOSE,
) -> NoticeView | Response:
    """The letter names sender, recipient institution, date, kinds of data, the article with
    its wording, the right of access and a contact; no AHV number. Audited."""
    await _allowed(api, caller, READ_ACTION, purpose, notice_id)
    pdf = wants_pdf(request)
    found = await read_notice(api, caller, notice_id, purpose, form="pdf" if pdf else "json")
    if found is None:
        raise NoticeNotFoundError()
    return await notice_pdf(api, found) if pdf else found


@router.post(
    "/notices/{notice_id}/sent",
    tags=["notices"],
    summary="Mark a notice sent to the person (once; marking again keeps the first mark)",
    response_model=NoticeView,
    responses={**REFUSED, **NOT_FOUND},
)
async def notice_sent(notice_id: uuid.UUID, caller: CurrentCaller, api: Api) -> NoticeView:
    """The mark is a record: it outlives a rebuild (the notice is derived with the same id).
    Audited."""
    await _allowed(api, caller, MARK_ACTION, MARK_PURPOSE, notice_id)
    found = await mark_sent(api, caller, notice_id)
    if found is None:
        raise NoticeNotFoundError()
    return found
