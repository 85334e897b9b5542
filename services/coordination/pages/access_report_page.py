"""The access report page (``/auskunft``): a coordinator or data-protection officer enters the
person's AHV number and the request's reason and reference, and downloads the German letter.

The form posts (the AHV number never goes into a URL); the answer is the PDF itself. It is
produced by the same function as ``POST /v1/access-reports`` (``access_report_routes``), so the
request is audited the same way. Errors are answered in German on the form, without echoing the
AHV number. Every refusal is audited like the API's (``record_refusal``, no subject): a role that
may not ask (``denied``, opening the form too), and a form that was not accepted (``invalid``,
with the reason: expired form/CSRF, AHV number, reason missing).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from schemas.ahv import AhvNumber
from schemas.errors import InvalidAhvError
from services.coordination.api.access_report_routes import access_report
from services.coordination.api.context import api_context
from services.coordination.api.problems import RoleNotAllowedError
from services.coordination.letters.access_report_letter import render_for_caller
from services.coordination.pages.form_guard import csrf_matches
from services.coordination.pages.rendering import SECURITY_HEADERS, render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.reading.access_report_service import may_request, record_refusal
from services.coordination.reading.caller import Caller

router = APIRouter(include_in_schema=False)
PATH = "/auskunft"
FORBIDDEN = (
    "Auskünfte nach Art. 25 DSG erstellen nur die IIZ-Koordination und die Datenschutzberatung."
)
FORM_PURPOSE = "Auskunftsformular"  # the purpose of a refusal before a reason was given
ERRORS = {
    "formular": "Das Formular ist abgelaufen. Bitte erneut versuchen.",
    "ahv": "Bitte eine gültige AHV-Nummer eingeben (756.xxxx.xxxx.xx).",
    "grund": "Bitte den Grund der Anfrage angeben (mindestens 3 Zeichen).",
}


@router.get(PATH, response_class=HTMLResponse)
async def access_report_form(request: Request) -> Response:
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    if not may_request(caller):
        return await _forbidden(request, caller, FORM_PURPOSE, None)
    return _form(request)


@router.post(PATH)
async def access_report_download(
    request: Request,
    ahv: Annotated[str, Form(max_length=40)] = "",
    grund: Annotated[str, Form(max_length=200)] = "",
    geschaeftsfall: Annotated[str, Form(max_length=64)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The letter as a PDF download; the form again with the error otherwise."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    reason, ticket = grund.strip(), geschaeftsfall.strip() or None
    if "\x00" in grund + geschaeftsfall:  # never stored, not even in a refusal's row
        reason, ticket = "", None
    purpose = reason if len(reason) >= 3 else FORM_PURPOSE
    if not may_request(caller):
        return await _forbidden(request, caller, purpose, ticket)
    if not csrf_matches(request, csrf_token):
        # a forged post: its text is nobody's word, so it is not recorded
        return await _refused(request, caller, FORM_PURPOSE, None, "formular", 400)
    try:
        number = AhvNumber(ahv)
    except InvalidAhvError:
        return await _refused(request, caller, purpose, ticket, "ahv", 422)
    if len(reason) < 3:
        return await _refused(request, caller, purpose, ticket, "grund", 422)
    return await _letter(request, caller, number, reason, ticket)


async def _forbidden(
    request: Request, caller: Caller, purpose: str, ticket: str | None
) -> Response:
    await record_refusal(api_context(request), caller, purpose, ticket)
    return render(request, "verboten.html", 403, message=FORBIDDEN)


async def _refused(
    request: Request, caller: Caller, purpose: str, ticket: str | None, error: str, status: int
) -> Response:
    """The form again with the error; audited as ``invalid`` with the reason (no input)."""
    await record_refusal(
        api_context(request), caller, purpose, ticket, outcome="invalid", reason=error
    )
    return _form(request, error, status)


async def _letter(
    request: Request, caller: Caller, ahv: AhvNumber, reason: str, ticket: str | None
) -> Response:
    api = api_context(request)
    try:
        report = await access_report(api, caller, ahv, reason, ticket)
    except RoleNotAllowedError:
        return render(request, "verboten.html", 403, message=FORBIDDEN)
    pdf = await anyio.to_thread.run_sync(
        partial(
            render_for_caller,
            report,
            ahv=ahv,
            caller=caller,
            registry=api.registry,
            ticket=ticket,
        )
    )
    name = f"auskunft-{report.generated_on.isoformat()}.pdf"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(pdf, media_type="application/pdf", headers=headers)


def _form(request: Request, error: str | None = None, status: int = 200) -> Response:
    return render(request, "auskunft.html", status, error=ERRORS.get(error or ""), action=PATH)
