"""The web form for municipal social services (like the ZIF online form: no e-mail for data).

Staff sign in through the identity provider (``form/sign_in.py``) or, for scripts, with an
access key issued for their municipality (``python -m services.intake.tokens create
--institution sozialhilfe-<BFS> ...``); only institutions of kind ``social-services`` may use the
form. The session cookie is signed (``IIZ_INTAKE_SESSION_SECRET``), HttpOnly and SameSite=Lax
(the browser must bring it back from the provider); a key-based session is checked against the
token store on every request, so a revoked key ends its sessions at once. Every POST, the
sign-out included, carries a per-session CSRF token.

Each form builds a CloudEvent in structured mode and sends it through the same conversion
(``schemas.codec``) and the same pipeline as ``POST /v1/events``: validation is identical, and a
rejected submission gets its receipt and dead letter like any other.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from schemas.codec import record_from_structured
from schemas.registry.institutions import Institution
from schemas.storable import replace_unstorable
from schemas.vocabulary import InstitutionKind
from services.common import document_store
from services.intake.http_door.form.consent import (
    CATEGORY_LABELS,
    consent_values,
    optional_institutions,
    read_consent,
    today,
)
from services.intake.http_door.form.events import (
    FORMS,
    FormKind,
    case_opened_event,
    consent_event,
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
from services.intake.http_door.form.sign_in import (
    install_provider_sign_in,
    refusal_for,
    sign_out,
)
from services.intake.http_door.form.upload_limit import FormBodyLimit
from services.intake.http_door.form.uploads import Upload, document_seal, read_upload
from services.intake.http_door.state import HttpIntake, intake_of
from services.intake.settings import IntakeSettings
from services.intake.submission import Accepted, Rejected, Submission
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
    signed_out = "Sie sind abgemeldet." if request.query_params.get("abgemeldet") else None
    return page(request, "anmelden.html", message=signed_out)


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
            error=refusal_for(institution),
        )
    request.session.clear()
    request.session.update(
        csrf=secrets.token_urlsafe(32), token_hash=token_hash(token), institution=institution.id
    )
    log.info("form login", institution=institution.id)
    return RedirectResponse(PREFIX, status_code=303)


async def logout(request: Request) -> Response:
    """Ends the session (a POST with the session's CSRF token, so that no other site can sign
    anyone out); one begun at the identity provider ends there too."""
    form = await request.form(max_files=0, max_fields=2)
    if not csrf_ok(request, form):
        return csrf_refused(request)
    at_provider = await sign_out(request)
    request.session.clear()
    return at_provider or page(request, "anmelden.html", message="Sie sind abgemeldet.")


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
        first_view=values is None,
        consent_options=optional_institutions(intake_of(request).runtime.registry, institution),
        category_labels=CATEGORY_LABELS,
        today=today().isoformat(),
    )


MAX_FORM_FIELDS = 60  # the registration's fields with the consent section's checkboxes


async def submit_form(request: Request) -> Response:
    institution = await logged_in(request)
    if institution is None:
        return to_login()
    kind = FORMS.get(request.path_params["slug"])
    if kind is None:
        return _unknown_form(request, institution)
    form = await request.form(max_files=1, max_fields=MAX_FORM_FIELDS)
    if not csrf_ok(request, form):
        return csrf_refused(request, institution)
    values = {
        "case_ref": _text(form, "case_ref", 200),
        "answer_due": _text(form, "answer_due", 40),
        "note": _text(form, "note", 2000),
    }
    if not kind.is_document:
        values.update(consent_values(form))
    ahv = _text(form, "ahv_number", 40)
    prepared = await _prepare(request, kind, institution, form, values, ahv)
    if isinstance(prepared, Response):
        return prepared
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
    return await _submit(request, kind, institution, prepared, values, ahv)


@dataclass(frozen=True)
class Prepared:
    """A submission's events, in bus order, and the document they announce."""

    events: list[dict[str, Any]]
    upload: Upload
    main: int  # index of the event the receipt names (the registration, or the document)


async def _prepare(
    request: Request,
    kind: FormKind,
    institution: Institution,
    form: FormData,
    values: dict[str, str],
    ahv: str,
) -> Prepared | Response:
    """The form's events, or the form again with German messages next to the fields."""
    max_bytes = intake_of(request).settings.intake_max_document_bytes
    if kind.purpose is None:
        upload = await read_upload(form, "document", max_bytes)
        if isinstance(upload, str):
            return _form(request, kind, institution, 422, values, {"document": upload})
        return Prepared([document_event(institution, upload, values, ahv)], upload, 0)
    registry = intake_of(request).runtime.registry
    consent = read_consent(form, institution, registry, today())
    signed_form = await read_upload(form, "consent_document", max_bytes)
    errors = dict(consent) if isinstance(consent, dict) else {}
    if isinstance(signed_form, str):
        errors["consent_document"] = signed_form
    if errors or isinstance(consent, dict) or isinstance(signed_form, str):
        return _form(request, kind, institution, 422, values, errors)
    events = (
        [case_opened_event(institution, kind.title, values, ahv)] if values["open_case"] else []
    )
    events += [
        consent_event(institution, consent, values, ahv, signed_form),
        referral_event(institution, kind.purpose, values, ahv),
        document_event(institution, signed_form, values, ahv),
    ]
    return Prepared(events, signed_form, len(events) - 2)


async def _submit(
    request: Request,
    kind: FormKind,
    institution: Institution,
    prepared: Prepared,
    values: dict[str, str],
    ahv: str,
) -> Response:
    """Check every event, store the document sealed, then publish the events in one call."""
    request_id = str(uuid.uuid4())
    intake = intake_of(request)
    submissions = [
        Submission(
            sender=institution,
            record=record_from_structured(event),
            channel=f"http:formular/{request_id}/{index}",
        )
        for index, event in enumerate(prepared.events)
    ]
    try:
        # The person is resolved (registered if new) once, here: the document is stored under
        # the subject the events are then sealed for, so erasing that person finds both.
        checked = await intake.pipeline.assess(submissions)
        refused = [o for o in checked if isinstance(o, Rejected)]
        announcement = checked[-1]
        if refused:  # answered (receipt, dead letter); the rest is neither stored nor published
            answered = await intake.process([o.submission for o in refused], refused)
        else:
            assert isinstance(announcement, Accepted)
            await _store(intake, institution, prepared.upload, announcement)
            answered = await intake.process(submissions, checked)
    except Exception:
        log.exception("storing or publishing a form submission failed", request_id=request_id)
        return error_page(
            request,
            503,
            "Übermittlung im Moment nicht möglich",
            "Die Angaben konnten nicht übermittelt werden. Bitte versuchen Sie es in einigen "
            "Minuten erneut.",
            institution=institution,
        )
    rejected = next((a.outcome for a in answered if isinstance(a.outcome, Rejected)), None)
    if rejected is not None:
        errors, general = field_errors(rejected.error, {**values, "ahv_number": ahv})
        return _form(request, kind, institution, 422, values, errors, general)
    main = answered[prepared.main]
    assert isinstance(main.outcome, Accepted)
    status = "duplicate" if main.duplicate else "accepted"
    request.session["quittung"] = {
        "form": kind.title,
        "canonical_id": str(main.outcome.event.id),
        "original_id": str(prepared.events[prepared.main]["id"]),
        "status": STATUS_GERMAN[status],
        "case_ref": values["case_ref"],
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "document": prepared.upload.title,
        "sha256": prepared.upload.sha256,
        "consent": not kind.is_document,
        # What staff quote to ZIF, and need to withdraw the consent later on.
        "registration_id": _data_id(prepared, "referral_id"),
        "consent_id": _data_id(prepared, "consent_id"),
        "document_id": str(prepared.upload.document_id),
    }
    log.info(
        "form submission",
        institution=institution.id,
        form=kind.slug,
        status=status,
        events=len(answered),
    )
    return RedirectResponse(f"{PREFIX}/quittung", status_code=303)


def _data_id(prepared: Prepared, field: str) -> str | None:
    """The id ``field`` of the submission's event that has one (None if none has)."""
    return next((str(e["data"][field]) for e in prepared.events if field in e["data"]), None)


async def _store(
    intake: HttpIntake, institution: Institution, upload: Upload, announcement: Accepted
) -> None:
    """Store the document sealed under its id (with the person's pseudonym, from the checked
    announcement), before any event names it."""
    pseudonym = announcement.event.subject
    assert pseudonym is not None
    assert intake.runtime.pool is not None
    settings = intake.settings
    await document_store.store(
        intake.runtime.pool,
        settings.document_db_schema,
        upload.stored(document_seal(settings), pseudonym, institution.id),
    )


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
        ("/abmelden", logout, ["POST"]),
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
    install_provider_sign_in(app, settings)
    # A little headroom for the other form fields around the file.
    app.add_middleware(FormBodyLimit, limit=settings.intake_max_document_bytes + 64 * 1024)
