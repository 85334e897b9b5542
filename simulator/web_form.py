"""A municipality's staff at intake's web form, as a browser would do it over HTTP: log in with
the municipality's access key (Zugangsschlüssel), open the registration form, send it
(multipart, with the signed consent form as a PDF), read the receipt page (Quittung).

What a municipality can see is all the simulator learns: the receipt page names the
registration's id (``referral_id``), the consent's, the document's, and the registration's
own event id and canonical id; the receipts on the municipality's delivery topic (one per event
of the submission, ``channel`` ``http:formular/<submission>/<n>``) give the other events' ids.

The session is Starlette's signed cookie, so each submission carries its own copy of the
cookie (persons of one municipality run concurrently; the shared client's cookie jar is not
used).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from simulator.partners import PartnerInboxes
from simulator.script import Step

PREFIX = "/formular"
COOKIE = "iiz_formular"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ENTRY = re.compile(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", re.S)
_WAIT = re.compile(r"Bitte warten Sie (\d+) Sekunden")
ATTEMPTS = 20


@dataclass(frozen=True)
class FormReceipt:
    """What the municipality saw: the receipt page's ids and every event's receipt."""

    registration_id: str | None
    consent_id: str | None
    document_id: str | None
    time: dt.datetime  # when the form took it (the receipt page's time, UTC)
    receipts: list[dict[str, Any]]  # per event of the submission, in the form's order


class WebForm:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: Mapping[str, str],
        inbox: PartnerInboxes,
        receipt_timeout: float,
        *,
        concurrency: int = 8,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._inbox = inbox
        self._receipt_timeout = receipt_timeout
        self._gate = asyncio.Semaphore(concurrency)
        self._sessions: dict[str, str] = {}  # institution → its logged-in session cookie
        self._logins: dict[str, asyncio.Lock] = {}

    async def submit(self, step: Step, parts: int) -> FormReceipt | dict[str, Any]:
        """Send the form of ``step`` (the first of its ``parts`` events); the receipt, or the
        answer to record for each part when it failed (``status`` ``http-<code>`` or
        ``no-receipt``)."""
        async with self._gate:
            cookie = await self._session(step.origin)
            for _ in range(ATTEMPTS):
                answer = await self._post(step, cookie)
                if answer.status_code != 429:
                    break
                found = _WAIT.search(answer.text)  # over the rate: the page says how long
                await asyncio.sleep(min(float(found.group(1)) if found else 1.0, 10.0))
            if answer.status_code != 303 or not answer.headers["location"].endswith("/quittung"):
                return {"status": f"http-{answer.status_code}", "reason": _error(answer.text)}
            page = await self._http.get(
                f"{PREFIX}/quittung", headers=_cookie(answer.cookies.get(COOKIE) or cookie)
            )
        entries = {html.unescape(k): html.unescape(v) for k, v in _ENTRY.findall(page.text)}
        original_id = entries.get("Ihre Übermittlung")
        if page.status_code != 200 or original_id is None:
            return {"status": f"http-{page.status_code}", "reason": "no-receipt-page"}
        receipts = await self._inbox.form_receipts(original_id, parts, within=self._receipt_timeout)
        if receipts is None:
            return {}
        return FormReceipt(
            registration_id=entries.get("Nummer der Anmeldung"),
            consent_id=entries.get("Nummer der Einwilligung"),
            document_id=entries.get("Nummer des Dokuments"),
            time=dt.datetime.fromisoformat(entries["Zeitpunkt (UTC)"]),
            receipts=receipts,
        )

    async def _session(self, institution: str) -> str:
        """Log in once per municipality with its access key; the session cookie."""
        async with self._logins.setdefault(institution, asyncio.Lock()):
            if institution not in self._sessions:
                page = await self._http.get(f"{PREFIX}/anmelden", headers=_cookie(""))
                cookie = page.cookies.get(COOKIE) or ""
                answer = await self._http.post(
                    f"{PREFIX}/anmelden",
                    data={"csrf_token": _csrf(page.text), "token": self._tokens[institution]},
                    headers=_cookie(cookie),
                )
                if answer.status_code != 303 or COOKIE not in answer.cookies:
                    raise RuntimeError(
                        f"{institution}: the web form refused the access key "
                        f"(HTTP {answer.status_code})"
                    )
                self._sessions[institution] = answer.cookies[COOKIE]
            return self._sessions[institution]

    async def _post(self, step: Step, cookie: str) -> httpx.Response:
        form = step.form
        assert form is not None
        page = await self._http.get(f"{PREFIX}/{form.slug}", headers=_cookie(cookie))
        fields: dict[str, Any] = {
            "csrf_token": _csrf(page.text),
            "ahv_number": step.event.data.person.ahv_number.formatted(),
            "case_ref": step.event.data.person.case_ref,
            "consent_institutions": list(form.institutions),
            "consent_categories": list(form.categories),
            "consent_signed_on": form.signed_on.isoformat(),
            "consent_valid_until": form.valid_until.isoformat(),
        }
        if form.open_case:
            fields["open_case"] = "1"
        if form.answer_due is not None:
            fields["answer_due"] = form.answer_due.isoformat()
        if form.note:
            fields["note"] = form.note
        files = {"consent_document": (form.document_name, form.document, "application/pdf")}
        return await self._http.post(
            f"{PREFIX}/{form.slug}", data=fields, files=files, headers=_cookie(cookie)
        )


def _cookie(value: str) -> dict[str, str]:
    """An explicit Cookie header: the client's shared jar stays out of it."""
    return {"Cookie": f"{COOKIE}={value}"}


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    if found is None:
        raise RuntimeError("the web form's page has no CSRF token")
    return html.unescape(found.group(1))


def _error(page: str) -> str | None:
    """The first German message of a refused form (for the record)."""
    found = re.findall(r'class="(?:field-error|error)"[^>]*>(.*?)<', page, re.S)
    return " | ".join(html.unescape(f).strip() for f in found)[:300] or None
