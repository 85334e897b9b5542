"""The web form for municipal social services (like the ZIF online form: no e-mail for data).

Staff log in with an access token issued for their municipality (``python -m
services.intake.tokens create --institution sozialhilfe-<BFS> ...``); only institutions of kind
``social-services`` may use the form. The session cookie is signed (Starlette's
``SessionMiddleware`` with ``IIZ_INTAKE_SESSION_SECRET``), HttpOnly and SameSite=Strict, and is
checked against the token store on every request, so a revoked token ends its sessions at once.
Every POST carries a per-session CSRF token.

Each form builds a CloudEvent in structured mode and sends it through the same conversion and
the same pipeline as ``POST /v1/events``: validation is identical, and a rejected submission
gets its receipt and dead letter like any other. Uploaded documents are only hashed: their
content is neither stored nor forwarded (``document.shared`` carries metadata and the hash).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import mimetypes
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.errors import ContractError, ReasonCode
from schemas.events import DocumentShared, ReferralRequested
from schemas.registry.institutions import Institution
from schemas.storable import CANNOT_BE_STORED, replace_unstorable
from schemas.vocabulary import InstitutionKind, ReferralPurpose
from services.intake.http_door import HttpIntake, intake_of, record_from_structured
from services.intake.settings import IntakeSettings
from services.intake.submission import Accepted, Submission
from services.intake.tokens import token_hash

log = structlog.get_logger("intake.web_form")

PREFIX = "/formular"
ZIF = "zif"
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
_HASH_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FormKind:
    slug: str
    title: str
    intro: str
    purpose: ReferralPurpose | None  # None: the document form

    @property
    def is_document(self) -> bool:
        return self.purpose is None


FORMS: dict[str, FormKind] = {
    form.slug: form
    for form in (
        FormKind(
            "erstgespraech",
            "Anmeldung Erstgespräch",
            "Melden Sie eine vorläufig aufgenommene Person oder einen Flüchtling beim ZIF für "
            "das Erstgespräch an.",
            ReferralPurpose.ZIF_FIRST_INTERVIEW,
        ),
        FormKind(
            "potenzialabklaerung",
            "Anmeldung Potenzialabklärung",
            "Melden Sie eine Person beim ZIF für die Abklärung ihres Potenzials an.",
            ReferralPurpose.POTENTIAL_ASSESSMENT,
        ),
        FormKind(
            "re-assessment",
            "Anmeldung Re-Assessment",
            "Melden Sie eine Person beim ZIF für ein erneutes Assessment an.",
            ReferralPurpose.RE_ASSESSMENT,
        ),
        FormKind(
            "dokument",
            "Dokument übermitteln",
            "Melden Sie ein Dokument (Kursbescheinigung, Vertrag, Zeugnis usw.) zu einem Fall.",
            None,
        ),
    )
}

STATUS_GERMAN = {"accepted": "angenommen", "duplicate": "bereits erhalten"}


# ---------------------------------------------------------------------------------------------
# Session, CSRF


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _csrf_ok(request: Request, form: FormData) -> bool:
    expected = request.session.get("csrf")
    given = form.get("csrf_token")
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


async def _logged_in(request: Request) -> Institution | None:
    """The municipality of this session, if its token is still valid; clears stale sessions."""
    hashed, institution_id = request.session.get("token_hash"), request.session.get("institution")
    if not isinstance(hashed, str) or not isinstance(institution_id, str):
        return None
    institution = await intake_of(request).tokens.institution_for_hash(hashed)
    if (
        institution is None
        or institution.id != institution_id
        or institution.kind is not InstitutionKind.SOCIAL_SERVICES
    ):
        request.session.clear()
        return None
    return institution


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", _csrf(request))
    context.setdefault("institution", None)
    response: HTMLResponse = TEMPLATES.TemplateResponse(
        request, template, context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    )
    return response


def _error_page(
    request: Request, status_code: int, title: str, message: str, **context: Any
) -> HTMLResponse:
    return _page(request, "fehler.html", status_code, title=title, message=message, **context)


def _csrf_refused(request: Request, institution: Institution | None = None) -> HTMLResponse:
    return _error_page(
        request,
        403,
        "Sicherheitsprüfung fehlgeschlagen",
        "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden Sie "
        "die Seite neu und füllen Sie das Formular erneut aus.",
        institution=institution,
    )


def _to_login() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/anmelden", status_code=303)


# ---------------------------------------------------------------------------------------------
# Turning a contract error into German messages next to the fields

_AHV_MESSAGES = (
    ("13 digits", "Die AHV-Nummer ist ungültig: sie hat 13 Ziffern (756.xxxx.xxxx.xx)."),
    ("country code 756", "Die AHV-Nummer ist ungültig: sie beginnt mit 756."),
    ("check digit", "Die AHV-Nummer ist ungültig: die Prüfziffer stimmt nicht."),
)


def _ahv_message(error: ContractError, submitted: str) -> str:
    if not submitted.strip():
        return "Bitte die AHV-Nummer angeben."
    return next(
        (german for english, german in _AHV_MESSAGES if english in error.message),
        "Die AHV-Nummer ist ungültig.",
    )


def _field_message(location: str, values: dict[str, str]) -> tuple[str, str] | None:
    if location == "data.person.ahv_number":
        return "ahv_number", "Bitte eine gültige AHV-Nummer angeben."
    if location == "data.person.case_ref":
        case_ref = values.get("case_ref", "")
        if not case_ref:
            return "case_ref", "Bitte die Fallnummer der Gemeinde angeben."
        if len(case_ref) > 64:
            return "case_ref", "Die Fallnummer ist zu lang (höchstens 64 Zeichen)."
        return "case_ref", (
            "Die Fallnummer darf nur Buchstaben, Ziffern sowie . _ / - enthalten und muss mit "
            "einem Buchstaben oder einer Ziffer beginnen."
        )
    if location == "data.note":
        return "note", "Die Bemerkung ist zu lang (höchstens 1000 Zeichen)."
    if location == "data.answer_due":
        return "answer_due", "Bitte ein gültiges Datum angeben."
    if location in ("data.title", "data.media_type", "data.size_bytes", "data.sha256"):
        return "document", "Diese Datei kann nicht gemeldet werden (Dateiname zu lang?)."
    return None


# Text PostgreSQL cannot store (e.g. a NUL character pasted from another program).
_UNSTORABLE_MESSAGES = {
    "data.person.ahv_number": ("ahv_number", "Die AHV-Nummer enthält ein unzulässiges Zeichen."),
    "data.person.case_ref": (
        "case_ref",
        "Die Fallnummer enthält ein unzulässiges Zeichen (angezeigt als �).",
    ),
    "data.note": (
        "note",
        "Die Bemerkung enthält ein unzulässiges Zeichen (angezeigt als �). Bitte entfernen Sie es.",
    ),
    "data.answer_due": ("answer_due", "Bitte ein gültiges Datum angeben."),
    "data.title": (
        "document",
        "Der Dateiname enthält ein unzulässiges Zeichen. Bitte benennen Sie die Datei um.",
    ),
}


def _problem_message(problem: str, values: dict[str, str]) -> tuple[str, str] | None:
    location, _, what = problem.partition(":")
    if CANNOT_BE_STORED in what:
        return _UNSTORABLE_MESSAGES.get(location.strip())
    return _field_message(location.strip(), values)


def field_errors(error: ContractError, values: dict[str, str]) -> tuple[dict[str, str], str | None]:
    """German messages per form field, and one for the whole form if no field fits.

    The messages name the problem, never the value (no AHV number is echoed).
    """
    if error.reason is ReasonCode.INVALID_AHV:
        return {"ahv_number": _ahv_message(error, values.get("ahv_number", ""))}, None
    errors: dict[str, str] = {}
    if error.reason is ReasonCode.SCHEMA_VIOLATION:
        for part in error.message.split("; "):
            found = _problem_message(part, values)
            if found is not None:
                errors.setdefault(*found)
    if errors:
        return errors, None
    return {}, (
        f"Die Übermittlung wurde abgelehnt (Grund: {error.reason.value}). Bitte prüfen Sie die "
        "Angaben; besteht das Problem weiter, wenden Sie sich an den Support des Kantonalen "
        "Sozialamts."
    )


# ---------------------------------------------------------------------------------------------
# Building the events

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def media_type_of(head: bytes, filename: str) -> str:
    """The media type from the content's first bytes, else from the file name's extension."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def _title_of(filename: str) -> str:
    name = re.split(r"[\\/]", filename)[-1]
    name = re.sub(r"\s+", " ", name).strip()
    return (name or "Dokument")[:200]


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int
    media_type: str
    title: str


async def digest_of(upload: UploadFile) -> Digest:
    """Hash the upload in chunks; the content itself is dropped."""
    hasher, size, head = hashlib.sha256(), 0, b""
    while chunk := await upload.read(_HASH_CHUNK):
        if not head:
            head = chunk[:16]
        hasher.update(chunk)
        size += len(chunk)
    await upload.close()
    filename = upload.filename or ""
    return Digest(hasher.hexdigest(), size, media_type_of(head, filename), _title_of(filename))


def _envelope(
    institution: Institution, type_: str, dataschema: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": institution.source,
        "type": type_,
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "datacontenttype": "application/json",
        "dataschema": dataschema,
        "data": data,
    }


def referral_event(
    institution: Institution, purpose: ReferralPurpose, values: dict[str, str], ahv: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person": {"ahv_number": ahv, "case_ref": values["case_ref"]},
        "referral_id": str(uuid.uuid4()),
        "to_institution": ZIF,
        "purpose": purpose.value,
    }
    if values.get("answer_due"):
        data["answer_due"] = values["answer_due"]
    if values.get("note"):
        data["note"] = values["note"]
    return _envelope(
        institution, ReferralRequested.cloud_event_type(), ReferralRequested.dataschema(), data
    )


def document_event(
    institution: Institution, digest: Digest, values: dict[str, str], ahv: str
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "person": {"ahv_number": ahv, "case_ref": values["case_ref"]},
        "document_id": str(uuid.uuid4()),
        "title": digest.title,
        "media_type": digest.media_type,
        "size_bytes": digest.size,
        "sha256": digest.sha256,
        "held_by": institution.id,
    }
    return _envelope(
        institution, DocumentShared.cloud_event_type(), DocumentShared.dataschema(), data
    )


# ---------------------------------------------------------------------------------------------
# Routes


def _text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


async def overview(request: Request) -> Response:
    institution = await _logged_in(request)
    if institution is None:
        return _to_login()
    return _page(request, "uebersicht.html", institution=institution, forms=list(FORMS.values()))


async def login_page(request: Request) -> Response:
    if await _logged_in(request) is not None:
        return RedirectResponse(PREFIX, status_code=303)
    return _page(request, "anmelden.html")


async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    if not _csrf_ok(request, form):
        return _csrf_refused(request)
    token = _text(form, "token", 200)
    institution = await intake_of(request).tokens.institution_for(token) if token else None
    if institution is None:
        return _page(
            request,
            "anmelden.html",
            401,
            error="Der Zugangsschlüssel ist ungültig oder wurde widerrufen.",
        )
    if institution.kind is not InstitutionKind.SOCIAL_SERVICES:
        return _page(
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
    return _page(request, "anmelden.html", message="Sie sind abgemeldet.")


def _unknown_form(request: Request, institution: Institution) -> Response:
    return _error_page(
        request, 404, "Nicht gefunden", "Dieses Formular gibt es nicht.", institution=institution
    )


async def form_page(request: Request) -> Response:
    kind = FORMS.get(request.path_params["slug"])
    institution = await _logged_in(request)
    if institution is None:
        return _to_login()
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
    return _page(
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
    institution = await _logged_in(request)
    if institution is None:
        return _to_login()
    kind = FORMS.get(request.path_params["slug"])
    if kind is None:
        return _unknown_form(request, institution)
    form = await request.form(max_files=1, max_fields=10)
    if not _csrf_ok(request, form):
        return _csrf_refused(request, institution)
    intake = intake_of(request)
    values = {
        "case_ref": _text(form, "case_ref", 200),
        "answer_due": _text(form, "answer_due", 40),
        "note": _text(form, "note", 2000),
    }
    ahv = _text(form, "ahv_number", 40)
    if kind.purpose is not None:
        event = referral_event(institution, kind.purpose, values, ahv)
    else:
        upload = form.get("document")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return _form(
                request, kind, institution, 422, values, {"document": "Bitte eine Datei auswählen."}
            )
        digest = await digest_of(upload)
        if digest.size == 0:
            return _form(
                request, kind, institution, 422, values, {"document": "Die Datei ist leer."}
            )
        event = document_event(institution, digest, values, ahv)

    wait = intake.limiter.take(institution.id, 1)
    if wait is not None:
        return _error_page(
            request,
            429,
            "Zu viele Übermittlungen",
            f"Bitte warten Sie {max(1, math.ceil(wait))} Sekunden und senden Sie das Formular "
            "dann erneut.",
            institution=institution,
        )
    request_id = str(uuid.uuid4())
    submission = Submission(
        sender=institution,
        record=record_from_structured(event),
        channel=f"http:formular/{request_id}",
    )
    try:
        [answered] = await intake.process([submission])
    except Exception:
        log.exception("publishing a form submission failed", request_id=request_id)
        return _error_page(
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
    institution = await _logged_in(request)
    if institution is None:
        return _to_login()
    quittung = request.session.get("quittung")
    if not isinstance(quittung, dict):
        return RedirectResponse(PREFIX, status_code=303)
    return _page(request, "quittung.html", institution=institution, quittung=quittung)


# ---------------------------------------------------------------------------------------------
# Upload size limit (checked on Content-Length and while the body streams in)


class FormBodyLimit:
    """Refuses form POSTs over ``limit`` bytes with a German 413 page, without reading them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except _TooLargeError:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        limit_mb = math.ceil(self.limit / (1024 * 1024))
        response = HTMLResponse(
            '<!doctype html><html lang="de"><meta charset="utf-8"><title>Zu gross</title>'
            f"<p>Die Datei ist zu gross (höchstens {limit_mb} MB). "
            f'<a href="{PREFIX}">Zurück zum Formular</a></p></html>',
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLargeError(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


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


__all__ = ["FORMS", "HttpIntake", "field_errors", "install_web_form"]
