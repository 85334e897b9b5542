"""The rows of coordination's read models for the files a batch changed. Pure.

Cases, participants, engagements and referrals mirror each changed file (the store replaces a
person's rows as a whole); consents and revocations are appended from the batch's own events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from schemas.envelope import CloudEvent
from schemas.events import ConsentGranted, ConsentRevoked
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case, Engagement, Participation, Referral
from services.coordination.worker.effects import ReadModels, Row, TimelineRow


def read_model_rows(
    files: Mapping[str, CaseFile],
    numbers: Mapping[uuid.UUID, str],
    events: Iterable[tuple[TimelineRow, CloudEvent[Any]]],
) -> ReadModels:
    """Rows for the changed ``files`` (with their cases' issued ``numbers``) and the consents
    granted or revoked by ``events`` (each with its timeline row)."""
    grants, revocations = _consent_rows(events)
    return ReadModels(
        persons=list(files),
        cases=[_case(f, c, numbers[c.case_key]) for f in files.values() for c in f.cases],
        participants=[_participant(f, p) for f in files.values() for p in f.participations],
        engagements=[_engagement(f, e) for f in files.values() for e in f.engagements],
        referrals=[_referral(f, r) for f in files.values() for r in f.referrals],
        consents=grants,
        revocations=revocations,
    )


def _case(file: CaseFile, c: Case, number: str) -> Row:
    return (
        c.case_key,
        number,
        file.pseudonym,
        c.opened_by,
        c.opened_at,
        c.closed_at,
        c.outcome,
        c.projects,
    )


def _participant(file: CaseFile, p: Participation) -> Row:
    return (
        file.pseudonym,
        p.case_key,
        p.institution,
        p.role,
        file.case_refs.get(p.institution),
        p.joined_on,
        p.joined_at,
        p.via_referral,
        p.left_on,
    )


def _engagement(file: CaseFile, e: Engagement) -> Row:
    return (
        e.institution,
        e.kind.value,
        e.ref_id,
        file.pseudonym,
        e.case_key,
        e.started_on,
        e.ended_on,
    )


def _referral(file: CaseFile, r: Referral) -> Row:
    return (
        r.referral_id,
        file.pseudonym,
        r.case_key,
        r.from_institution,
        r.to_institution,
        r.purpose,
        r.requested_at,
        r.answer_due,
        r.status.value,
        r.answered_at,
    )


def _consent_rows(
    events: Iterable[tuple[TimelineRow, CloudEvent[Any]]],
) -> tuple[list[Row], list[Row]]:
    grants: list[Row] = []
    revocations: list[Row] = []
    for row, event in events:
        data = event.data
        if isinstance(data, ConsentGranted):
            grants.append(
                (
                    data.consent_id,
                    row.pseudonym,
                    row.origin,
                    list(data.institutions),
                    [c.value for c in data.categories],
                    data.valid_from,
                    data.valid_until,
                    data.document_ref,
                    row.event_id,
                    row.bus_offset,
                )
            )
        elif isinstance(data, ConsentRevoked):
            revocations.append(
                (
                    row.event_id,
                    data.consent_id,
                    row.pseudonym,
                    row.origin,
                    row.bus_offset,
                    row.occurred_at,
                )
            )
    return grants, revocations
