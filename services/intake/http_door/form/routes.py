"""The web form for municipal social services (like the ZIF online form: no e-mail for data).

Staff log in with an access token issued for their municipality (``python -m
services.intake.tokens create --institution sozialhilfe-<BFS> ...``); only institutions of kind
``social-services`` may use the form. The session cookie is signed (Starlette's
``SessionMiddleware`` with ``IIZ_INTAKE_SESSION_SECRET``), HttpOnly and SameSite=Strict, and is
checked against the token store on every request, so a revoked token ends its sessions at once.
Every POST carries a per-session CSRF token.

Each form builds a CloudEvent in structured mode and sends it through the same conversion
(``schemas.codec``) and the same pipeline as ``POST /v1/events``: validation is identical, and a
rejected submission gets its receipt and dead letter like any other.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from schemas.codec import record_from_structured
from schemas.registry.institutions import Institution
from schemas.storable import replace_unstorable
from schemas.vocabulary import InstitutionKind
from services.intake.http_door.form.events import (
    FORMS,
    FormKind,
    digest_of,
    document_event,
    referral_event,
)
from services.intake.http_door.form.messages import field_errors
from services.intake.http_door.form.pages import (
    PREFIX,
    csrf_ok,
    csrf_refused,
    error_page,
    logged_in,
    page,
    to_login,
)
from services.intake.http_door.form.upload_limit import FormBodyLimit
from services.intake.http_door.state import intake_of
from services.intake.settings import IntakeSettings
from services.intake.submission import Accepted, Submission
from services.intake.tokens import token_hash

log = structlog.get_logger("intake.web_form")

STATUS_GERMAN = {"accepted": "angenommen", "duplicate": "bereits erhalten"}


def _text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def overview(request: Request) -> Response:
    institution = await logged_in(request)
    if institution is None:
        return to_login()
    return page(request, "uebersicht.html", institution=institution, forms=list(FORMS.values()))


async def login_page(request: Request) -> Response:
    if await logged_in(request) is not None:
        return RedirectResponse(PREFIX, status_code=303)
    return page(request, "anmelden.html")


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    if not csrf_ok(request, form):
        return csrf_refused(request)
    token = _text(form, "token", 200)
    institution = await intake_of(request).tokens.institution_for(token) if token else None
    if institution is None:
        return page(
            request,
            "anmelden.html",
            401,
            error="Der Zugangsschlüssel ist ungültig oder wurde widerrufen.",
        )
    if institution.kind is not InstitutionKind.SOCIAL_SERVICES:
        return page(
            request,
            "anmelden.html",
            403,
            error=(
                f"Das Onlineformular steht nur den Sozialdiensten der Gemeinden offen. "
                f"{institution.name} übermittelt Ereignisse über die Schnittstelle "
                "(Kafka oder HTTP), nicht über dieses Formular."
            ),
        )
    request.session.clear()
    request.session.update(
        csrf=secrets.token_urlsafe(32), token_hash=token_hash(token), institution=institution.id
    )
    log.info("form login", institution=institution.id)
    return RedirectResponse(PREFIX, status_code=303)


async def logout(request: Request) -> Response:
    request.session.clear()
    return page(request, "anmelden.html", message="Sie sind abgemeldet.")


def _unknown_form(request: Request, institution: Institution) -> Response:
    return error_page(
        request, 404, "Nicht gefunden", "Dieses Formular gibt es nicht.", institution=institution
    )


async def form_page(request: Request) -> Response:
    kind = FORMS.get(request.path_params["slug"])
    institution = await logged_in(request)
    if institution is None:
        return to_login()
    if kind is None:
        return _unknown_form(request, institution)
    return _form(request, kind, institution)


def _form(
    request: Request,
    kind: FormKind,
    institution: Institution,
    status_code: int = 200,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general_error: str | None = None,
) -> HTMLResponse:
    settings: IntakeSettings = intake_of(request).settings
    return page(
        request,
        "formular.html",
        status_code,
        institution=institution,
        form=kind,
        # The AHV number is never written back into the page; a NUL character is shown as �.
        values={k: replace_unstorable(v) for k, v in (values or {}).items() if k != "ahv_number"},
        errors=errors or {},
        general_error=general_error,
        max_document_mb=max(1, settings.intake_max_document_bytes // (1024 * 1024)),
    )


async def submit_form(request: Request) -> Response:
    institution = await logged_in(request)
    if institution is None:
        return to_login()
    kind = FORMS.get(request.path_params["slug"])
    if kind is None:
        return _unknown_form(request, institution)
    form = await request.form(max_files=1, max_fields=10)
    if not csrf_ok(request, form):
        return csrf_refused(request, institution)
    values = {
        "case_ref": _text(form, "case_ref", 200),
        "answer_due": _text(form, "answer_due", 40),
        "note": _text(form, "note", 2000),
    }
    ahv = _text(form, "ahv_number", 40)
    event = await _event_of(request, kind, institution, form, values, ahv)
    if isinstance(event, Response):
        return event
    wait = intake_of(request).limiter.take(institution.id, 1)
    if wait is not None:
        return error_page(
            request,
            429,
            "Zu viele Übermittlungen",
            f"Bitte warten Sie {max(1, math.ceil(wait))} Sekunden und senden Sie das Formular "
            "dann erneut.",
            institution=institution,
        )
    return await _submit(request, kind, institution, event, values, ahv)


async def _event_of(
    request: Request,
    kind: FormKind,
    institution: Institution,
    form: FormData,
    values: dict[str, str],
    ahv: str,
) -> dict[str, Any] | Response:
    """The form's CloudEvent, or the form again when the document is missing or empty."""
    if kind.purpose is not None:
        return referral_event(institution, kind.purpose, values, ahv)
    upload = form.get("document")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _form(
            request, kind, institution, 422, values, {"document": "Bitte eine Datei auswählen."}
        )
    digest = await digest_of(upload)
    if digest.size == 0:
        return _form(request, kind, institution, 422, values, {"document": "Die Datei ist leer."})
    return document_event(institution, digest, values, ahv)


async def _submit(
    request: Request,
    kind: FormKind,
    institution: Institution,
    event: dict[str, Any],
    values: dict[str, str],
    ahv: str,
) -> Response:
    request_id = str(uuid.uuid4())
    submission = Submission(
        sender=institution,
        record=record_from_structured(event),
        channel=f"http:formular/{request_id}",
    )
    try:
        [answered] = await intake_of(request).process([submission])
    except Exception:
        log.exception("publishing a form submission failed", request_id=request_id)
        return error_page(
            request,
            503,
            "Übermittlung im Moment nicht möglich",
            "Die Angaben konnten nicht übermittelt werden; es wurde nichts gespeichert. Bitte "
            "versuchen Sie es in einigen Minuten erneut.",
            institution=institution,
        )
    outcome = answered.outcome
    if not isinstance(outcome, Accepted):
        errors, general = field_errors(outcome.error, {**values, "ahv_number": ahv})
        return _form(request, kind, institution, 422, values, errors, general)
    status = "duplicate" if answered.duplicate else "accepted"
    request.session["quittung"] = {
        "form": kind.title,
        "canonical_id": str(outcome.event.id),
        "original_id": str(event["id"]),
        "status": STATUS_GERMAN[status],
        "case_ref": values["case_ref"],
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "document": event["data"].get("title"),
        "sha256": event["data"].get("sha256"),
    }
    log.info("form submission", institution=institution.id, form=kind.slug, status=status)
    return RedirectResponse(f"{PREFIX}/quittung", status_code=303)


async def receipt_page(request: Request) -> Response:
    institution = await logged_in(request)
    if institution is None:
        return to_login()
    quittung = request.session.get("quittung")
    if not isinstance(quittung, dict):
        return RedirectResponse(PREFIX, status_code=303)
    return page(request, "quittung.html", institution=institution, quittung=quittung)


def install_web_form(app: FastAPI, settings: IntakeSettings) -> None:
    """Mount the form's routes under /formular (not part of the OpenAPI description)."""
    routes: list[tuple[str, Any, list[str]]] = [
        ("", overview, ["GET"]),
        ("/anmelden", login_page, ["GET"]),
        ("/anmelden", login, ["POST"]),
        ("/abmelden", logout, ["GET"]),
        ("/quittung", receipt_page, ["GET"]),
        ("/{slug}", form_page, ["GET"]),
        ("/{slug}", submit_form, ["POST"]),
    ]
    for path, endpoint, methods in routes:
        app.add_api_route(
            PREFIX + path,
            endpoint,
            methods=methods,
            include_in_schema=False,
            response_class=HTMLResponse,
        )
    # A little headroom for the other form fields around the file.
    app.add_middleware(FormBodyLimit, limit=settings.intake_max_document_bytes + 64 * 1024)
