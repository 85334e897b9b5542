"""The German worklist pages: "Meine Fälle" (``/faelle``) and "Fristen" (``/fristen``).

They read exactly what ``GET /v1/worklist`` and ``GET /v1/deadlines`` read
(``reading.worklist``: the same summaries, minimisation, judgement on today and audit row) and
link each case to its page. The committee gets the "verboten" page (the refusal is audited).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.coordination.api.context import Purpose, api_context
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.domain.worklist import WorklistFilter, WorklistSort
from services.coordination.pages import worklist_page
from services.coordination.pages.rendering import render, to_sign_in
from services.coordination.pages.sign_in import page_caller
from services.coordination.pages.wording import InstitutionNames
from services.coordination.reading import worklist
from services.coordination.reading.worklist import WorklistQuery

router = APIRouter(include_in_schema=False, dependencies=STORABLE_PARAMETERS)
PAGE_ROWS = 200  # rows on one page; the rest: "weitere" link
NOT_FOR_THE_COMMITTEE = (
    "Fall- und Fristenlisten sind nur für die Fallarbeit der Institutionen; der IIZ-Ausschuss "
    "sieht Kennzahlen (Ausschuss-Dashboard), keine Fälle."
)


@router.get("/faelle", response_class=HTMLResponse)
async def worklist_view(
    request: Request,
    sortierung: str = "frist",
    status: str = "offen",
    ueberfaellig: str = "",
    fuehrung: str = "",
    projekt: str = "",
    ab: int = 0,
    purpose: Purpose = DEFAULT_PURPOSE,
) -> Response:
    """Meine Fälle: the cases the caller's institution takes part in."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    choice = worklist_page.Choice.of(sortierung, status, ueberfaellig, fuehrung, projekt, ab)
    where = WorklistFilter(
        open=choice.open,
        overdue_only=choice.overdue_only,
        lead_only=choice.lead_only,
        project=choice.project,
    )
    query = WorklistQuery(where, WorklistSort(choice.sort_code), PAGE_ROWS, choice.offset)
    found = await worklist.read_worklist(api, caller, query, purpose)
    if found is None:
        return render(request, "verboten.html", 403, message=NOT_FOR_THE_COMMITTEE)
    names = InstitutionNames.of(api.registry.institutions)
    return render(
        request,
        "faelle.html",
        worklist=found,
        choice=choice,
        projects=worklist_page.project_names(),
        names=names,
        next_offset=choice.offset + PAGE_ROWS if found.total > choice.offset + PAGE_ROWS else None,
        wp=worklist_page,
    )


@router.get("/fristen", response_class=HTMLResponse)
async def deadlines_view(request: Request, purpose: Purpose = DEFAULT_PURPOSE) -> Response:
    """Fristen: everything overdue or due this week for the caller's institution."""
    caller = await page_caller(request)
    if caller is None:
        return to_sign_in()
    api = api_context(request)
    found = await worklist.read_due(api, caller, purpose)
    if found is None:
        return render(request, "verboten.html", 403, message=NOT_FOR_THE_COMMITTEE)
    names = InstitutionNames.of(api.registry.institutions)
    return render(request, "fristen.html", due=found, names=names, wp=worklist_page)
