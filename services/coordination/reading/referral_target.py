"""The referral an institution answers, read the same way for every door (API and page).

The case must be visible to the caller (``access``: a refusal is audited and answered like an
unknown case). Within it, a referral exists for the caller only if the caller is its addressee:
a referral to another institution is answered like an unknown one (nobody answers for another
institution, and the worker would refuse it too). The read also says whether the answer's own
event is already on the timeline, so a retried answer is recognised after it was folded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg

from services.coordination.reading import queries
from services.coordination.reading.access import admit, check_access
from services.coordination.reading.caller import Caller
from services.coordination.reading.queries import CaseRow
from services.coordination.reading.read_store import ReadStore


@dataclass(frozen=True)
class ReferralRow:
    referral_id: uuid.UUID
    from_institution: str
    to_institution: str
    purpose: str
    requested_at: dt.datetime
    answer_due: dt.date
    status: str


@dataclass(frozen=True)
class AnswerTarget:
    """The visible case, the caller's own case reference, and the caller's referral in it."""

    case: CaseRow
    basis: str
    case_ref: str | None
    referral: ReferralRow | None  # None: no referral with this id addressed to the caller
    answered_by: bool  # the answer's event (``event_id``) is on the timeline already


async def referral_to(
    conn: asyncpg.Connection, pseudonym: str, referral_id: uuid.UUID, addressee: str
) -> ReferralRow | None:
    row = await conn.fetchrow(
        "SELECT referral_id, from_institution, to_institution, purpose, requested_at,"
        " answer_due, status FROM referrals"
        " WHERE pseudonym = $1 AND referral_id = $2 AND to_institution = $3",
        pseudonym,
        referral_id,
        addressee,
    )
    return None if row is None else ReferralRow(**dict(row))


async def answer_target(
    store: ReadStore,
    caller: Caller,
    case_number: str,
    referral_id: uuid.UUID,
    event_id: uuid.UUID | None,
    *,
    action: str,
    purpose: str,
) -> AnswerTarget | None:
    """What an answer needs; None when the case is not visible (the refusal is audited)."""
    async with store.snapshot() as conn:
        access = await check_access(conn, caller, case_number)
        referral, case_ref, answered = None, None, False
        if access.granted:
            pseudonym = access.pseudonym
            referral = await referral_to(conn, pseudonym, referral_id, caller.institution)
            case_ref = await queries.case_ref_of(conn, pseudonym, caller.institution)
            if event_id is not None:
                answered = bool(
                    await conn.fetchval(
                        "SELECT EXISTS (SELECT 1 FROM timeline"
                        " WHERE event_id = $1 AND pseudonym = $2)",
                        event_id,
                        pseudonym,
                    )
                )
    granted = await admit(store, caller, action, purpose, access)
    if granted is None:
        return None
    return AnswerTarget(granted.case, granted.involved.basis(), case_ref, referral, answered)
