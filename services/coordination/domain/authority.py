"""Who may change a person's case on its own word: the checks before an event is folded.

- An institution takes part only if it opened the case, the case lead or a participant added it,
  or it accepted a referral to it. ``case.participant.joined`` from an institution that does not
  take part is refused; so are ``case.opened`` while someone else's case is open (it would make
  the sender lead) and ``referral.requested`` from one that does not take part (it would invite
  the addressee on the sender's word; to refer a person without a case, open one first).
- The case lead (see ``CaseFile.leads``) alone gives the role lead to an institution, changes the
  role of one that participates, removes another institution (``case.participant.left``) and
  closes the case. Anyone may leave on its own (``case.participant.left`` naming itself).
- A consent is recorded only by an institution it names and that takes part in the case, and
  only once: a ``consent.granted`` with the id of a consent on the bus is refused (the ids are
  UUIDs the recorder chooses; the code tells the sender only about an id it already knew).
- Only an institution a consent names may revoke or confirm it; a consent the bus does not know
  is treated like one that does not name the sender (a confirmation of it is refused), so the
  reason reveals nothing. A revocation of an unknown consent is kept until the grant arrives and
  counts only if the grant names its sender (``folding``).

A refused event changes nothing. Pure: reads the file as it is before the event.
"""

from __future__ import annotations

from typing import Any

from schemas.events import (
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    ParticipantJoined,
    ParticipantLeft,
    ReferralRequested,
)
from schemas.refusals import RefusalReason
from schemas.vocabulary import ParticipantRole
from services.coordination.domain.case_file import CaseFile

NOT_AUTHORISED = RefusalReason.PARTICIPATION_NOT_AUTHORISED


def refusal_of(file: CaseFile, data: Any, origin: str) -> RefusalReason | None:
    """Why ``origin`` may not make this change to ``file``; None when it may."""
    match data:
        case ParticipantJoined():
            return _unless(_may_join(file, data, origin), NOT_AUTHORISED)
        case ParticipantLeft():
            return _unless(data.institution == origin or file.leads(origin), NOT_AUTHORISED)
        case CaseClosed():
            return _unless(file.leads(origin), NOT_AUTHORISED)
        case CaseOpened():
            may_open = file.open_case is None or file.takes_part(origin)
            return _unless(may_open, NOT_AUTHORISED)
        case ReferralRequested():
            return _unless(file.takes_part(origin), NOT_AUTHORISED)
        case ConsentGranted():
            if origin not in data.institutions:
                return RefusalReason.CONSENT_RECORDER_NOT_NAMED
            if not file.takes_part(origin):
                return RefusalReason.CONSENT_RECORDER_NOT_TAKING_PART
            recorded = file.consent(data.consent_id) is not None
            return RefusalReason.CONSENT_ALREADY_RECORDED if recorded else None
        case ConsentRevoked():
            consent = file.consent(data.consent_id)
            named = consent is None or origin in consent.institutions
            return _unless(named, RefusalReason.CONSENT_NOT_NAMING_SENDER)
        case ConsentConfirmed():
            consent = file.consent(data.consent_id)
            named = consent is not None and origin in consent.institutions
            return _unless(named, RefusalReason.CONSENT_NOT_NAMING_SENDER)
    return None


def _may_join(file: CaseFile, data: ParticipantJoined, origin: str) -> bool:
    """One that takes part adds institutions as participants; the lead role, and a change of the
    role of one that participates, come from the lead alone."""
    if not file.takes_part(origin):
        return False
    current = file.role_of(data.institution)
    as_before = data.role == ParticipantRole.PARTICIPANT and current in (None, data.role.value)
    return as_before or file.leads(origin)


def _unless(allowed: bool, reason: RefusalReason) -> RefusalReason | None:
    return None if allowed else reason
