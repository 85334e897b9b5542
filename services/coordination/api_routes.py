"""The case routes of the timeline API: find a case, read its summary, its timeline and its
state at a past bus position. Access and audit rules: ``api_access``."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from schemas.ahv import pseudonymise
from schemas.vocabulary import DataCategory
from services.coordination import api_reads as reads
from services.coordination import audit
from services.coordination.api_access import (
    AUTH,
    NOT_FOUND,
    Api,
    ApiContext,
    Purpose,
    audit_entry,
    check_access,
    check_person_access,
    granted,
)
from services.coordination.api_input import STORABLE_PARAMETERS
from services.coordination.api_models import (
    DEFAULT_PURPOSE,
    Basis,
    CaseFound,
    CaseSearch,
    TimelineEntry,
    TimelinePage,
)
from services.coordination.api_problems import problem_response
from services.coordination.auth import Caller, CurrentCaller
from services.coordination.domain.fields import without_fields
from services.coordination.domain.summary import CaseSummary, summarise

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
    s = api.settings
    pseudonym = pseudonymise(
        body.ahv_number, s.pseudonym_key.get_secret_value().encode(), s.pseudonym_key_id
    )
    async with api.snapshot() as conn:
        access = await check_person_access(conn, caller, pseudonym)
    case, involved = await granted(
        api, caller, "search-case", body.purpose, access, subject=pseudonym
    )
    await api.record(
        audit_entry(
            caller,
            "search-case",
            body.purpose,
            subject=pseudonym,
            case_number=case.case_number,
            basis=involved.basis(),
            outcome="ok",
            found=1,
        )
    )
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
    naming the caller, and open referrals (overdue relative to the newest event)."""
    return await _summary(api, caller, case_number, "read-case", purpose)


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
    """The person's events up to ``as_of`` are folded afresh and summarised like ``/cases/…``."""
    return await _summary(api, caller, case_number, "read-state", purpose, as_of=as_of)


async def _summary(
    api: ApiContext,
    caller: Caller,
    case_number: str,
    action: str,
    purpose: str,
    *,
    as_of: int | None = None,
) -> CaseSummary:
    """The summary now (``as_of`` None) or refolded up to a past bus position; audited once."""
    async with api.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        found = None
        if access.granted and as_of is None:
            found = await reads.current_file(conn, access.pseudonym)
        elif access.granted and as_of is not None:
            found = await reads.refolded_file(conn, access.pseudonym, as_of, api.world, api.rules)
    case, involved = await granted(api, caller, action, purpose, access)
    assert found is not None
    file, newest = found
    summary = summarise(
        file,
        as_of,
        caller.institution,
        case_key=case.case_key,
        last_event_on=newest,
        world=api.world,
    ).model_copy(update={"case_number": case.case_number})
    extra = {} if as_of is None else {"as_of": as_of}
    await api.record(_summary_entry(caller, action, purpose, case, involved, summary, **extra))
    return summary


def _summary_entry(
    caller: Caller,
    action: str,
    purpose: str,
    case: reads.CaseRow,
    involved: reads.Involvement,
    summary: CaseSummary,
    **extra: Any,
) -> audit.AuditEntry:
    return audit_entry(
        caller,
        action,
        purpose,
        subject=case.pseudonym,
        case_number=case.case_number,
        basis=involved.basis(),
        outcome="ok",
        participants=len(summary.participants),
        engagements=len(summary.current_engagements),
        consents=len(summary.consents),
        open_referrals=len(summary.open_referrals),
        **extra,
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
    page = reads.TimelineFilter(
        after, limit, from_day, to_day, category.value if category else None, institution
    )
    async with api.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        rows = (
            await reads.timeline_page(conn, access.pseudonym, caller.institution, page)
            if access.granted
            else []
        )
    case, involved = await granted(api, caller, "read-timeline", purpose, access)
    entries = [_timeline_entry(row, caller.institution) for row in rows[:limit]]
    await api.record(
        audit_entry(
            caller,
            "read-timeline",
            purpose,
            subject=case.pseudonym,
            case_number=case.case_number,
            basis=_timeline_basis(involved, entries),
            outcome="ok",
            entries=len(entries),
            withheld_fields=sum(len(e.withheld) for e in entries),
        )
    )
    return TimelinePage(
        case_number=case.case_number,
        entries=entries,
        next_after=entries[-1].position if len(rows) > limit else None,
    )


def _timeline_entry(row: Any, reader: str) -> TimelineEntry:
    own = row["origin"] == reader
    data = json.loads(row["event"]).get("data", {})
    # The decision may name fields this event does not carry (the AHV number never is in the
    # timeline): list what was really taken out.
    withheld = [] if own else [p for p in row["withheld"] or [] if _has_path(data, p)]
    return TimelineEntry(
        position=row["bus_offset"],
        event_id=row["event_id"],
        type=row["type"],
        time=row["occurred_at"],
        origin=row["origin"],
        category=row["datacategory"],
        case_number=row["case_number"],
        basis=Basis(
            kind="origin" if own else (row["basis_kind"] or "consent"),
            consent_ids=[] if own else list(row["consent_ids"] or []),
            articles=[] if own else list(row["articles"] or []),
        ),
        withheld=withheld,
        data=without_fields(data, set(withheld)),
    )


def _has_path(data: Any, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _timeline_basis(involved: reads.Involvement, entries: list[TimelineEntry]) -> str:
    consents = sorted({str(c) for e in entries for c in e.basis.consent_ids})
    articles = sorted({a for e in entries for a in e.basis.articles})
    parts = [involved.basis()]
    if consents:
        parts.append("consent " + " ".join(consents))
    if articles:
        parts.append("law " + "; ".join(articles))
    return "; ".join(parts)
