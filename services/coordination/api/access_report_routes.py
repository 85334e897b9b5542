"""``POST /v1/access-reports``: the access report for one person (DSG Art. 25), as JSON or, with
``Accept: application/pdf``, as the German letter. The AHV number goes in the body only; the
answer carries no AHV number (the letter a masked one). Coordinators and data-protection
officers only; everyone else gets 403 ``role_not_allowed`` (audited too)."""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from schemas.ahv import AhvNumber
from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, Api, ApiContext
from services.coordination.api.input_checks import StorableText
from services.coordination.api.problems import RoleNotAllowedError
from services.coordination.letters.access_report_letter import (
    render_for_caller,
)
from services.coordination.reading.access_report_model import AccessReport
from services.coordination.reading.access_report_service import produce_access_report
from services.coordination.reading.caller import Caller

router = APIRouter(prefix="/v1", responses=AUTH)
PDF = "application/pdf"
NO_STORE = {"Cache-Control": "no-store"}


class AccessReportRequest(BaseModel):
    """Whose report (the AHV number: in the body, never in a URL or log line), and why."""

    model_config = ConfigDict(extra="forbid")

    ahv_number: AhvNumber = Field(description="AHV-Nummer, 756.xxxx.xxxx.xc.")
    purpose: StorableText = Field(
        default="Auskunftsbegehren nach Art. 25 DSG",
        min_length=3,
        max_length=200,
        description="Why the report is asked for; recorded in the audit log.",
    )
    ticket: StorableText | None = Field(
        default=None, max_length=64, description="The request's reference (Geschäftsfall)."
    )


@router.post(
    "/access-reports",
    tags=["audit"],
    summary="The access report for one person (coordinators and data-protection officers)",
    response_model=AccessReport,
    responses={
        200: {"content": {PDF: {}}, "description": "JSON, or the German letter as PDF."},
        403: problem_response("Coordinators and auditors only (role_not_allowed)."),
        422: problem_response("Not a valid AHV number (invalid_ahv); no digits are echoed."),
    },
)
async def request_access_report(
    body: AccessReportRequest, caller: CurrentCaller, api: Api, request: Request
) -> Any:
    """Who received which data about the person, when and on which basis; who looked at it;
    which consents are active or revoked. A person the bus never saw gets ``known: false``."""
    report = await access_report(api, caller, body.ahv_number, body.purpose, body.ticket)
    if PDF not in request.headers.get("accept", ""):
        return Response(report.model_dump_json(), media_type="application/json", headers=NO_STORE)
    pdf = await anyio.to_thread.run_sync(
        partial(
            render_for_caller,
            report,
            ahv=body.ahv_number,
            caller=caller,
            registry=api.registry,
            ticket=body.ticket,
        )
    )
    disposition = f'attachment; filename="auskunft-{report.generated_on.isoformat()}.pdf"'
    return Response(pdf, media_type=PDF, headers={**NO_STORE, "Content-Disposition": disposition})


async def access_report(
    api: ApiContext, caller: Caller, ahv: AhvNumber, purpose: str, ticket: str | None
) -> AccessReport:
    """The report for both doors; 403 for a role that may not ask (already audited)."""
    names = {i.id: i.name for i in api.registry.institutions}
    report = await produce_access_report(
        api, api.settings, names, caller, ahv, purpose=purpose, ticket=ticket
    )
    if report is None:
        raise RoleNotAllowedError(
            "only coordinators and data-protection officers request access reports"
        )
    return report
