"""The page "Mitteilungen an betroffene Personen" (``/mitteilungen``): the notices the signed-in
institution must send after an exchange without consent (AVG Art. 35a Abs. 1ter), open or sent,
each with its PDF letter (``/mitteilungen/{id}/brief``) and an "als versendet markieren" form
(with the session's CSRF token). Reads like ``/v1/notices`` (``reading.notices``, audited).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.coordination.api.context import Purpose, api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.api.notice_api import notice_pdf
from services.coordination.pages.form_guard import csrf_matches
from services.coordination.pages.rendering import SECURITY_HEADERS, render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.pages.wording import CATEGORIES, InstitutionNames, event_label
from services.coordination.reading.caller import Caller
from services.coordination.reading.notices import (
    MARK_ACTION,
    MARK_PURPOSE,
    READ_ACTION,
    NoticeStatus,
    list_notices,
    mark_sent,
    may_handle_notices,
    read_notice,
    refuse,
)

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
PATH = "/mitteilungen"
PAGE_SIZE = 200
FILTERS = {"offen": NoticeStatus.OPEN, "versendet": NoticeStatus.SENT, "alle": NoticeStatus.ALL}
FORBIDDEN = "Mitteilungen an betroffene Personen versenden nur Fallbearbeitende und Koordinierende."


@router.get(PATH, response_class=HTMLResponse)
async def notices_page(
    request: Request, purpose: Purpose = DEFAULT_PURPOSE, zeigen: str = "offen"
) -> Response:
    caller = await _sender(request, READ_ACTION, purpose)
    if isinstance(caller, Response):
        return caller
    api = api_context(request)
    shown = zeigen if zeigen in FILTERS else "offen"
    found = await list_notices(api, caller, purpose, status=FILTERS[shown], limit=PAGE_SIZE)
    names = InstitutionNames.of(api.registry.institutions)
    rows = [
        {
            "notice": n,
            "what": event_label(n.event_type),
            "categories": ", ".join(CATEGORIES.get(c, c) for c in n.categories),
            "recipient": names.get(n.recipient),
            "reference": n.case_ref or n.case_number or "\u2013",
        }
        for n in found.notices
    ]
    return render(
        request,
        "mitteilungen.html",
        rows=rows,
        open=found.open,
        sent=found.sent,
        shown=shown,
        institution=names.get(caller.institution),
    )


@router.get(PATH + "/{notice_id}/brief")
async def notice_letter(
    request: Request, notice_id: uuid.UUID, purpose: Purpose = DEFAULT_PURPOSE
) -> Response:
    """The notice as a PDF letter; the German 404 page if it is not the institution's."""
    caller = await _sender(request, READ_ACTION, purpose, notice_id)
    if isinstance(caller, Response):
        return caller
    api = api_context(request)
    found = await read_notice(api, caller, notice_id, purpose, form="pdf")
    if found is None:
        return render(request, "nicht_gefunden.html", 404)
    return await notice_pdf(api, found)


@router.post(PATH + "/{notice_id}/versendet")
async def notice_sent(
    request: Request,
    notice_id: uuid.UUID,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Mark the notice sent (the first mark stays); without the session's token nothing."""
    caller = await _sender(request, MARK_ACTION, MARK_PURPOSE, notice_id)
    if isinstance(caller, Response):
        return caller
    if csrf_matches(request, csrf_token):
        await mark_sent(api_context(request), caller, notice_id)
    return RedirectResponse(PATH, status_code=303, headers=SECURITY_HEADERS)


async def _sender(
    request: Request, action: str, purpose: str, notice_id: uuid.UUID | None = None
) -> Caller | Response:
    """The signed-in case worker or coordinator; else the sign-in redirect or the 403 page
    (the refusal audited like the API's)."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    if not may_handle_notices(caller):
        await refuse(api_context(request), caller, action, purpose, notice_id)
        return render(request, "verboten.html", 403, message=FORBIDDEN)
    return caller
