"""Downloading a document: ``GET /v1/documents/{document_id}`` (bearer token) and the page
``/dokumente/{document_id}`` (the signed-in session), both read through
``reading.documents.download`` (the announcement must be visible to the caller; audited).

An unknown document and one the caller may not see get the identical 404 (the API's problem,
the pages' German page). The file goes out as an attachment with its stored media type, a
filename made safe, ``nosniff`` and ``no-store``.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.common.document_seal import DocumentSeal
from services.common.problems import problem, problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, ApiContext, Purpose, api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.pages.rendering import render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.reading.caller import Caller
from services.coordination.reading.documents import Damaged, Download, download

router = APIRouter(dependencies=STORABLE_PARAMETERS)

EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
DOWNLOAD_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}
NOT_FOUND_DETAIL = "no document with this id is visible to you"


def safe_filename(title: str, media_type: str) -> tuple[str, str]:
    """(ASCII filename, UTF-8 filename) for Content-Disposition: no path, no quotes or control
    characters, the extension of the stored media type."""
    extension = EXTENSIONS.get(media_type, "")
    stem = re.split(r"[\\/]", title)[-1]
    stem = re.sub(r"\.(pdf|jpe?g|png)$", "", stem, flags=re.IGNORECASE)
    stem = "".join(c for c in stem if unicodedata.category(c)[0] not in "CZ" or c == " ")
    stem = re.sub(r"\s+", " ", stem).strip(" .")[:120] or "Dokument"
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9._ -]", "_", ascii_stem).strip(" .") or "Dokument"
    return ascii_stem + extension, stem + extension


def _attachment(found: Download) -> Response:
    ascii_name, utf8_name = safe_filename(found.title, found.media_type)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(utf8_name)}"
    return Response(
        found.content,
        media_type=found.media_type,
        headers={**DOWNLOAD_HEADERS, "Content-Disposition": disposition},
    )


async def _download(
    api: ApiContext, caller: Caller, document_id: str, purpose: str
) -> Download | Damaged | None:
    s = api.settings
    seal = DocumentSeal.from_settings(s)
    return await download(api, caller, document_id, purpose, schema=s.document_db_schema, seal=seal)


@router.get(
    "/v1/documents/{document_id}",
    tags=["documents"],
    summary="Download a document announced to your institution",
    response_class=Response,
    responses={
        **AUTH,
        200: {
            "description": "The document's bytes (PDF, JPEG or PNG) as an attachment.",
            "content": {t: {} for t in EXTENSIONS},
        },
        404: problem_response("No such document, or none visible to you (document_not_found)."),
        409: problem_response("The stored document failed its integrity check (damaged)."),
    },
)
async def download_document(
    document_id: str, caller: CurrentCaller, api: Api, purpose: Purpose = DEFAULT_PURPOSE
) -> Response:
    """The document whose ``document.shared`` your institution published or was allowed to
    receive (category ``documents``). Unknown and not visible give the same 404. Audited."""
    found = await _download(api, caller, document_id, purpose)
    if isinstance(found, Download):
        return _attachment(found)
    if isinstance(found, Damaged):
        return problem(
            409,
            "document_damaged",
            "Document damaged",
            "the stored document failed its integrity check; ask the institution that holds it",
            DOWNLOAD_HEADERS,
        )
    return problem(
        404, "document_not_found", "Document not found", NOT_FOUND_DETAIL, DOWNLOAD_HEADERS
    )


@router.get("/dokumente/{document_id}", include_in_schema=False, response_class=HTMLResponse)
async def document_page(
    request: Request, document_id: str, purpose: Purpose = DEFAULT_PURPOSE
) -> Response:
    """The same download for the signed-in session; the German 404 page otherwise."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    found = await _download(api_context(request), caller, document_id, purpose)
    if isinstance(found, Download):
        return _attachment(found)
    if isinstance(found, Damaged):
        return render(request, "dokument_beschaedigt.html", 409)
    return render(request, "dokument_nicht_gefunden.html", 404)
