"""``POST /v1/cases/{case_number}/notes``: a coordinator's note becomes a canonical event.

The note is published to ``iiz.case-events.v1`` like intake publishes (subject and key the
person's pseudonym, source the caller's institution) and then travels through the bus like any
event: coordination folds it, decides who may see it and delivers it. The event id derives
from institution and note id, so a retried request with the same ``note_id`` is processed once.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from schemas.ahv import contains_ahv_number
from schemas.events import NoteAdded
from services.common.problems import problem_response
from services.coordination.api.auth import CurrentCaller
from services.coordination.api.context import AUTH, NOT_FOUND, Api, visible
from services.coordination.api.input_checks import STORABLE_PARAMETERS
from services.coordination.api.models import NoteAccepted, NoteRequest
from services.coordination.api.problems import AhvInTextError
from services.coordination.api.publishing import check_author, person_ref, publish_case_event
from services.coordination.reading.access import audit_entry
from services.coordination.reading.case_reading import note_target

NOTE_NAMESPACE = uuid.UUID("0f6b5c1e-3a7d-4e2b-9c8f-1d2e3f4a5b6c")

router = APIRouter(prefix="/v1", responses=AUTH, dependencies=STORABLE_PARAMETERS)


@router.post(
    "/cases/{case_number}/notes",
    tags=["notes"],
    summary="Add a coordination note to the shared case",
    status_code=202,
    response_model=NoteAccepted,
    responses={
        **NOT_FOUND,
        403: problem_response("Only coordinators and case workers add notes (role_not_allowed)."),
        422: problem_response(
            "The text holds an AHV number (ahv_in_text) or is invalid (invalid_request, e.g. a "
            "NUL character)."
        ),
        503: problem_response("Kafka unreachable (unavailable): send again, same note_id."),
    },
)
async def add_note(
    case_number: str, body: NoteRequest, caller: CurrentCaller, api: Api
) -> NoteAccepted:
    """Publishes a canonical ``coordination.note.added`` event (202: accepted by the bus, in
    the timeline once coordination has processed it)."""
    check_author(caller, "only coordinators and case workers add notes")
    if contains_ahv_number(body.text):
        raise AhvInTextError("a note must not contain an AHV number")
    target = visible(await note_target(api, caller, case_number, body.purpose))
    case = target.case
    note_id = body.note_id or uuid.uuid4()
    event_id = uuid.uuid5(NOTE_NAMESPACE, f"{caller.institution}|{note_id}")
    await publish_case_event(
        api,
        caller,
        case,
        NoteAdded(person=person_ref(case, target.case_ref), note_id=note_id, text=body.text),
        event_id,
        unavailable="the note could not be published; send it again with the same note_id",
    )
    await api.record(
        audit_entry(
            caller,
            "add-note",
            body.purpose,
            subject=case.pseudonym,
            case_number=case.case_number,
            outcome="ok",
            event_id=str(event_id),
        )
    )
    return NoteAccepted(event_id=event_id, note_id=note_id)
