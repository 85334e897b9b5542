"""``GET /v1/worklist`` and ``GET /v1/deadlines``: the caller's institution's cases and what
falls due for it, judged on today. How they are read (summaries, minimisation, audit):
``reading.worklist``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, Purpose, Responses
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import DEFAULT_PURPOSE
from services.coordination.api.problems import RoleNotAllowedError
from services.coordination.domain.worklist import WorklistFilter, WorklistSort
from services.coordination.reading import worklist
from services.coordination.reading.worklist import DueList, Worklist, WorklistQuery

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)
NOT_FOR_THE_COMMITTEE: Responses = {
    403: problem_response("The committee reads aggregates only (role_not_allowed).")
}
TODAY = (
    "Judged on today in Europe/Zurich (or the day `IIZ_COORDINATION_TODAY` fixes for a demo of "
    "simulated time); a closed case is judged on its closing date and has nothing overdue."
)


@router.get(
    "/worklist",
    tags=["worklist"],
    summary="The cases the caller's institution takes part in (Meine Fälle)",
    response_model=Worklist,
    responses=NOT_FOR_THE_COMMITTEE,
    description=(
        "Every case whose period overlaps a participation of the caller's institution (also as "
        "the invited recipient of a referral, also one it has left), with its lead, the "
        "institutions active now, the next deadline and the overdue items. Each row shows what "
        "the case summary (`GET /v1/cases/{case_number}`) would show the caller, minimised by "
        f"the same rule. {TODAY} The read is audited (`read-worklist`, with the number of rows)."
    ),
)
async def read_worklist(
    caller: CurrentCaller,
    api: Api,
    status: Annotated[
        Literal["open", "closed", "all"], Query(description="Open or closed cases, or both.")
    ] = "open",
    overdue_only: Annotated[bool, Query(description="Only cases with overdue items.")] = False,
    lead_only: Annotated[bool, Query(description="Only cases the caller's institution leads.")] = (
        False
    ),
    project: Annotated[
        str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{1,40}$", description="IIZ project code.")
    ] = None,
    sort: Annotated[
        WorklistSort,
        Query(
            description="deadline: overdue first, then the next deadline; case: case number; "
            "updated: newest event first."
        ),
    ] = WorklistSort.DEADLINE,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    purpose: Purpose = DEFAULT_PURPOSE,
) -> Worklist:
    where = WorklistFilter(
        open={"open": True, "closed": False, "all": None}[status],
        overdue_only=overdue_only,
        lead_only=lead_only,
        project=project,
    )
    found = await worklist.read_worklist(
        api, caller, WorklistQuery(where, sort, limit, offset), purpose
    )
    if found is None:
        raise RoleNotAllowedError("the committee reads aggregates only")
    return found


@router.get(
    "/deadlines",
    tags=["worklist"],
    summary="Everything overdue or due this week for the caller's institution (Fristen)",
    response_model=DueList,
    responses=NOT_FOR_THE_COMMITTEE,
    description=(
        "Referrals to the caller's institution waiting for its answer, its own referrals "
        "waiting for an answer, expected benefit exhaustion it may see, and the coordinator's "
        "scheduled checks whose alert would go to it (escalations of unanswered referrals, "
        "planning windows before an exhaustion): overdue, or due by Sunday of this week "
        f"(Monday to Sunday, Europe/Zurich). Nothing of a closed case. {TODAY} The read is "
        "audited (`read-deadlines`, with the number of items)."
    ),
)
async def read_deadlines(
    caller: CurrentCaller, api: Api, purpose: Purpose = DEFAULT_PURPOSE
) -> DueList:
    found = await worklist.read_due(api, caller, purpose)
    if found is None:
        raise RoleNotAllowedError("the committee reads aggregates only")
    return found
