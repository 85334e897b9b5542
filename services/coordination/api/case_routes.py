"""The case routes of the timeline API: find a case, read its summary, its timeline and its
state at a past bus position. How a case is read (access, refold, audit): ``reading``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from schemas.vocabulary import DataCategory
from services.common.person_lookup import subjects_of
from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, NOT_FOUND, Api, Purpose, visible
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE, CaseFound, CaseSearch
from services.coordination.domain.summary import CaseSummary
from services.coordination.reading import case_reading
from services.coordination.reading.queries import TimelineFilter
from services.coordination.reading.timeline import TimelinePage

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)


@router.post(
    "/cases/search",
    tags=["cases"],
    summary="Find a person's case by AHV number",
    response_model=CaseFound,
    responses={
        **NOT_FOUND,
        422: problem_response("Not a valid AHV number (invalid_ahv); no digits are echoed."),
    },
)
async def search_case(body: CaseSearch, caller: CurrentCaller, api: Api) -> CaseFound:
    """The person's open case, else the latest one. The AHV number goes in the body only."""
    subjects = await subjects_of(api.pool, body.ahv_number, api.settings)
    case = visible(await case_reading.find_case(api, caller, subjects, body.purpose))
    return CaseFound(case_number=case.case_number, open=case.open)


@router.get(
    "/cases/{case_number}",
    tags=["cases"],
    summary="The case as the caller's institution sees it now",
    response_model=CaseSummary,
    responses=NOT_FOUND,
)
async def read_case(
    case_number: str, caller: CurrentCaller, api: Api, purpose: Purpose = DEFAULT_PURPOSE
) -> CaseSummary:
    """Participants, current engagements, whether institutions work in parallel, the consents
    naming the caller, open referrals and expected benefit exhaustion: judged on today in
    Europe/Zurich (``judged_on``; ``IIZ_COORDINATION_TODAY`` fixes it for simulated time), a
    closed case on its closing date, with nothing overdue."""
    return visible(await case_reading.read_summary(api, caller, case_number, "read-case", purpose))


@router.get(
    "/cases/{case_number}/state",
    tags=["cases"],
    summary="The case as it was after a past bus position",
    response_model=CaseSummary,
    responses=NOT_FOUND,
)
async def read_state(
    case_number: str,
    caller: CurrentCaller,
    api: Api,
    as_of: Annotated[int, Query(ge=0, description="Bus position (offset) to look back to.")],
    purpose: Purpose = DEFAULT_PURPOSE,
) -> CaseSummary:
    """The person's events up to ``as_of`` are folded afresh and summarised like ``/cases/…``,
    judged on the business date of the newest event up to that position."""
    return visible(
        await case_reading.read_summary(
            api, caller, case_number, "read-state", purpose, as_of=as_of
        )
    )


@router.get(
    "/cases/{case_number}/timeline",
    tags=["timeline"],
    summary="The entries of the person's shared timeline the caller may see",
    response_model=TimelinePage,
    responses=NOT_FOUND,
)
async def read_timeline(
    case_number: str,
    caller: CurrentCaller,
    api: Api,
    after: Annotated[int | None, Query(ge=-1, description="Cursor: entries after it.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    from_day: Annotated[
        dt.date | None, Query(alias="from", description="First business date (inclusive).")
    ] = None,
    to_day: Annotated[
        dt.date | None, Query(alias="to", description="Last business date (inclusive).")
    ] = None,
    category: Annotated[DataCategory | None, Query(description="Data category.")] = None,
    institution: Annotated[
        str | None, Query(pattern=r"^[a-z][a-z0-9-]{1,40}$", description="Origin institution.")
    ] = None,
    purpose: Purpose = DEFAULT_PURPOSE,
) -> TimelinePage:
    """The person's entries (across cases, each with its case number) that the caller's
    institution published or was authorised to receive, each minimised exactly like its
    delivery (the decision's withheld fields removed), in bus order, paged by bus position."""
    page = TimelineFilter(
        after, limit, from_day, to_day, category.value if category else None, institution
    )
    return visible(await case_reading.read_timeline(api, caller, case_number, purpose, page))
