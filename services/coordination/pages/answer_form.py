"""The answer form of the case page: ``/fall/{nummer}/anmeldungen/{referral_id}/antwort``.

GET shows the referral (only to its addressee; otherwise the 404 page) and the three answers;
POST checks the form's nonce and hands the answer to ``referral_answers.answer_referral``, the
same function the API route uses, then shows the confirmation (303 to the GET with
``gesendet``). Errors are answered in German on the form, never with the submitted values
echoed beyond the form's own fields.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from schemas.vocabulary import DeclineReason
from services.coordination.api.answer_models import AnswerKind, ReferralAnswer
from services.coordination.api.context import api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.api.problems import (
    AhvInTextError,
    ApiError,
    CaseNotFoundError,
    ReferralNotFoundError,
    ReferralNotOpenError,
    RoleNotAllowedError,
)
from services.coordination.api.referral_answers import ANSWERABLE, answer_referral
from services.coordination.audit import AuditEntry
from services.coordination.pages.form_guard import csrf_matches
from services.coordination.pages.rendering import SECURITY_HEADERS, render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.pages.wording import DECLINE_REASONS, InstitutionNames
from services.coordination.reading.access import audit_entry
from services.coordination.reading.caller import Caller
from services.coordination.reading.referral_target import (
    AnswerTarget,
    ReferralRow,
    answer_target,
)

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
PATH = "/fall/{case_number}/anmeldungen/{referral_id}/antwort"

SENT = {
    "accept": "Ihre Zusage wurde übermittelt.",
    "decline": "Ihre Absage wurde übermittelt.",
    "complete": "Ihr Abschluss mit Ergebnis wurde übermittelt.",
}
ERRORS = {
    "formular": "Das Formular ist abgelaufen. Bitte erneut versuchen.",
    "angaben": "Bitte füllen Sie die Angaben zur gewählten Antwort aus.",
    "ahv": "Das Ergebnis darf keine AHV-Nummer enthalten.",
    "nicht-offen": "Diese Anmeldung ist bereits anders beantwortet.",
    "nicht-verfuegbar": "Die Antwort konnte nicht übermittelt werden. Bitte erneut senden.",
}


def form_path(case_number: str, referral_id: uuid.UUID | str) -> str:
    return f"/fall/{quote(case_number, safe='')}/anmeldungen/{referral_id}/antwort"


@router.get(PATH, response_class=HTMLResponse)
async def answer_page(
    request: Request, case_number: str, referral_id: uuid.UUID, gesendet: str = ""
) -> Response:
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    return await _form(request, caller, case_number, referral_id, sent=gesendet)


@router.post(PATH, response_class=HTMLResponse)
async def answer_submitted(
    request: Request,
    case_number: str,
    referral_id: uuid.UUID,
    antwort: Annotated[str, Form(max_length=20)] = "",
    termin: Annotated[str, Form(max_length=20)] = "",
    grund: Annotated[str, Form(max_length=40)] = "",
    ergebnis: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    if not csrf_matches(request, csrf_token):
        return await _form(request, caller, case_number, referral_id, error="formular", status=400)
    try:
        answer = ReferralAnswer(
            answer=AnswerKind(antwort),
            first_appointment=dt.date.fromisoformat(termin) if termin else None,
            reason=DeclineReason(grund) if grund else None,
            result=ergebnis.strip() or None,
            purpose=DEFAULT_PURPOSE,
        )
    except (ValueError, ValidationError):
        return await _form(request, caller, case_number, referral_id, error="angaben", status=422)
    api = api_context(request)
    try:
        await answer_referral(api, caller, case_number, referral_id, answer)
    except (CaseNotFoundError, ReferralNotFoundError):
        return render(request, "nicht_gefunden.html", 404)
    except RoleNotAllowedError:
        return render(request, "verboten.html", 403)
    except ApiError as error:
        code = {
            AhvInTextError: ("ahv", 422),
            ReferralNotOpenError: ("nicht-offen", 409),
        }.get(type(error), ("nicht-verfuegbar", 503))
        return await _form(request, caller, case_number, referral_id, error=code[0], status=code[1])
    target = f"{form_path(case_number, referral_id)}?gesendet={answer.answer.value}"
    return RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)


async def _form(
    request: Request,
    caller: Caller,
    case_number: str,
    referral_id: uuid.UUID,
    *,
    sent: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The form for the caller's referral (audited as a read); the 404 page otherwise."""
    api = api_context(request)
    target = await answer_target(
        api,
        caller,
        case_number,
        referral_id,
        None,
        action="read-answer-form",
        purpose=DEFAULT_PURPOSE,
    )
    if target is None:
        return render(request, "nicht_gefunden.html", 404)
    referral = target.referral
    await api.record(_audit_read(caller, target, "ok" if referral else "referral_not_found"))
    if referral is None:
        return render(request, "nicht_gefunden.html", 404)
    names = InstitutionNames.of(api.registry.institutions)
    return render(
        request,
        "antwort.html",
        status,
        case_number=target.case.case_number,
        referral=referral,
        names=names,
        reasons=DECLINE_REASONS,
        kinds=_kinds(referral),
        sent=SENT.get(sent),
        error=ERRORS.get(error or ""),
        action=form_path(target.case.case_number, referral_id),
    )


def _kinds(referral: ReferralRow) -> list[str]:
    """The answers the referral still takes (none once declined or completed)."""
    return [k.value for k in AnswerKind if referral.status in ANSWERABLE[k]]


def _audit_read(caller: Caller, target: AnswerTarget, outcome: str) -> AuditEntry:
    return audit_entry(
        caller,
        "read-answer-form",
        DEFAULT_PURPOSE,
        subject=target.case.pseudonym,
        case_number=target.case.case_number,
        basis=target.basis,
        outcome=outcome,
    )
