"""The Posteingang page (``/posteingang``): what the bus delivered to the signed-in institution.

Reads exactly like ``GET /v1/inbox`` (``reading.inbox``: minimised like the deliveries, audited
per person). ``/posteingang/{event_id}`` marks an item read for the institution and opens its
case; "Alle gezeigten als gelesen markieren" is a form with the pages' nonce.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.coordination.api.context import Purpose, api_context
from services.coordination.api.inbox_api import may_use_inbox
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.pages import answer_form
from services.coordination.pages.answer_form import form_path
from services.coordination.pages.case_page import event_rows
from services.coordination.pages.form_guard import csrf_matches
from services.coordination.pages.rendering import SECURITY_HEADERS, render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.pages.wording import (
    DASH,
    DECLINE_REASONS,
    InstitutionNames,
    event_name,
    moment,
    purpose_label,
)
from services.coordination.reading.caller import Caller
from services.coordination.reading.inbox import InboxItem, delivered_case, mark_read, read_inbox

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
router.include_router(answer_form.router)  # the case page's answer form comes with it
PAGE_SIZE = 50
PATH = "/posteingang"


@router.get(PATH, response_class=HTMLResponse)
async def inbox_page(
    request: Request,
    purpose: Purpose = DEFAULT_PURPOSE,
    vor: uuid.UUID | None = None,
    ungelesen: bool = False,
) -> Response:
    caller = await _inbox_user(request)
    if isinstance(caller, Response):
        return caller
    api = api_context(request)
    found = await read_inbox(
        api, caller, purpose, before=vor, limit=PAGE_SIZE, unread_only=ungelesen
    )
    names = InstitutionNames.of(api.registry.institutions)
    return render(
        request,
        "posteingang.html",
        items=[_row(item, caller.institution, names) for item in found.items],
        unread=found.unread,
        older=found.next_before,
        unread_only=ungelesen,
        names=names,
    )


@router.get(PATH + "/{event_id}")
async def open_item(request: Request, event_id: uuid.UUID) -> Response:
    """Mark the item read for the institution and open its case (the Posteingang if none)."""
    caller = await _inbox_user(request)
    if isinstance(caller, Response):
        return caller
    api = api_context(request)
    delivered, case_number = await delivered_case(api, caller, event_id)
    if not delivered:
        return render(request, "nicht_gefunden.html", 404)
    await mark_read(api, caller, [event_id])
    target = f"/fall/{quote(case_number, safe='')}" if case_number else PATH
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


@router.post(PATH + "/gelesen")
async def mark_shown_read(
    request: Request,
    gezeigt: Annotated[list[uuid.UUID], Form(max_length=PAGE_SIZE)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    caller = await _inbox_user(request)
    if isinstance(caller, Response):
        return caller
    if csrf_matches(request, csrf_token):
        await mark_read(api_context(request), caller, gezeigt)
    return RedirectResponse(PATH, status_code=303, headers=SECURITY_HEADERS)


async def _inbox_user(request: Request) -> Caller | Response:
    """The signed-in case worker or coordinator; else the sign-in redirect or the 403 page."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    if not may_use_inbox(caller):
        return render(request, "verboten.html", 403)
    return caller


def _row(item: InboxItem, institution: str, names: InstitutionNames) -> dict[str, object]:
    """What a row shows: the entry's (minimised) details, German words for the answers, and
    where to go from it (its case; the answer form for a referral to the institution)."""
    [shown] = event_rows([item], names)
    name, data = event_name(item.type), item.data
    details = list(shown.details)
    if name == "referral.declined":
        details = [("Grund", DECLINE_REASONS.get(str(data.get("reason")), DASH))]
    elif name == "referral.completed":
        details = [("Ergebnis", str(data.get("result") or DASH))]
    elif name == "referral.accepted":
        first = data.get("first_appointment")
        details = [("Erster Termin", moment(first) if first else DASH)]
    elif name == "referral.requested":
        details = [("Zweck", purpose_label(data.get("purpose")))]
    answer = None
    to_me = name == "referral.requested" and data.get("to_institution") == institution
    if to_me and item.case_number:
        answer = form_path(item.case_number, str(data.get("referral_id")))
    document = None
    if name == "document.shared" and data.get("document_id"):
        document = f"/dokumente/{data['document_id']}"
    return {
        "item": item,
        "label": shown.label,
        "on": shown.on,
        "details": details,
        "withheld": shown.withheld,
        "answer": answer,
        "document": document,
    }
