"""The independent expected-delivery model on small hand-written scripts, one rule at a time,
and the comparison that finds every kind of difference."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from typing import Any

import pytest

from schemas.envelope import CloudEvent
from schemas.events import (
    AssessmentCompleted,
    BenefitGranted,
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ParticipantLeft,
    ReferralAccepted,
    ReferralDeclined,
    ReferralRequested,
)
from schemas.registry import load_institutions
from schemas.vocabulary import (
    Barrier,
    BenefitKind,
    CaseOutcome,
    DataCategory,
    DeclineReason,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from services.intake.submission import canonical_id
from simulator.partners import ReceivedDelivery
from simulator.script import ZURICH, Expect, Fault, RefusedInScriptError, ScriptWriter
from tests.e2e.expected import CLEAR_AHV, SEALED_AHV, Expected, expect, without
from tests.e2e.reconciliation import Reconciliation, compare

REGISTRY = load_institutions()
START = dt.datetime(2026, 9, 1, 9, 0, tzinfo=ZURICH)
AHV = "756.9217.0769.85"  # the official specimen number
C = DataCategory
BASIC = [C.CASE_ADMIN, C.EMPLOYMENT, C.BENEFITS]
IDENTITY_PATHS = frozenset({CLEAR_AHV, SEALED_AHV})
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
PARTICIPANT = ParticipantRole.PARTICIPANT


def writer() -> ScriptWriter:
    return ScriptWriter("P00001", "test", AHV, START, REGISTRY, random.Random(1))


def consent(w: ScriptWriter, members: list[str], categories: list[DataCategory], **kw: Any) -> Any:
    fields: dict[str, Any] = {"valid_from": START.date(), "document_ref": "EINW-1", **kw}
    return w.send(
        "rav", ConsentGranted, consent_id=w.uuid(), institutions=members,
        categories=categories, after=HOUR, **fields,
    )  # fmt: skip


def opened_with_iv(categories: list[DataCategory], *, confirmed: bool = False) -> ScriptWriter:
    """RAV opens a case, records the person's consent (RAV, IV) and adds the IV; with
    ``confirmed`` the IV confirms the consent too."""
    w = writer()
    w.send("rav", CaseOpened, project_code="IIZ-FALLKOORD")
    consent(w, ["rav", "iv"], categories)
    w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    if confirmed:
        confirm(w, "iv")
    return w


def confirm(w: ScriptWriter, institution: str, consent_number: int = -1) -> CloudEvent[Any]:
    """``institution`` confirms the script's consent (the last one by default)."""
    granted = w.script().consents[consent_number].consent_id
    return w.send(institution, ConsentConfirmed, consent_id=granted, after=HOUR)


def key(event: CloudEvent[Any], recipient: str) -> tuple[uuid.UUID, str]:
    return canonical_id(event.source, str(event.id)), recipient


def model(w: ScriptWriter) -> Expected:
    return expect([w.script()])


# --- who takes part ------------------------------------------------------------------------


def test_the_origin_gets_no_delivery_of_its_own_event() -> None:
    w = opened_with_iv(BASIC)
    measure = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=HOUR)

    expected = model(w)

    assert key(measure, "iv") in expected.deliveries
    assert key(measure, "rav") not in expected.deliveries


def test_an_institution_in_the_consent_gets_nothing_until_it_takes_part() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    consent(w, ["rav", "iv"], BASIC)
    before = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=HOUR)
    joins = w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    after = w.send("rav", BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=w.today)

    expected = model(w)

    assert key(before, "iv") not in expected.deliveries
    assert key(joins, "iv") in expected.deliveries  # the IV learns that the RAV added it
    assert key(after, "iv") in expected.deliveries


def test_a_referral_invites_and_declining_it_ends_the_invitation_after_the_grace() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    consent(w, ["rav", "assessmentcenter"], BASIC)
    referral = w.send(
        "rav", ReferralRequested, to_institution="assessmentcenter",
        purpose=ReferralPurpose.ASSESSMENTCENTER_INTAKE, after=HOUR,
    )  # fmt: skip
    w.send(
        "assessmentcenter", ReferralDeclined, referral_id=referral.data.referral_id,
        reason=DeclineReason.NO_CAPACITY, after=HOUR,
    )  # fmt: skip
    soon = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=5 * DAY)
    late = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=40 * DAY)

    expected = model(w)

    assert key(referral, "assessmentcenter") in expected.deliveries
    assert key(soon, "assessmentcenter") in expected.deliveries
    assert key(late, "assessmentcenter") not in expected.deliveries


def test_after_leaving_events_within_the_grace_still_count() -> None:
    w = opened_with_iv(BASIC)
    left = w.send("iv", ParticipantLeft, institution="iv", after=HOUR)
    within = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=29 * DAY)
    beyond = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=2 * DAY)

    expected = model(w)

    assert key(left, "rav") in expected.deliveries
    assert key(within, "iv") in expected.deliveries
    assert key(beyond, "iv") not in expected.deliveries


def test_closing_the_case_ends_everyones_participation() -> None:
    w = opened_with_iv(BASIC)
    closed = w.send("rav", CaseClosed, outcome=CaseOutcome.EMPLOYMENT, after=HOUR)
    later = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=31 * DAY)

    expected = model(w)

    assert key(closed, "iv") in expected.deliveries
    assert key(later, "iv") not in expected.deliveries


def test_a_new_case_after_a_closed_one_reaches_only_those_who_take_part_in_it() -> None:
    w = opened_with_iv(BASIC)
    w.send("rav", CaseClosed, outcome=CaseOutcome.EMPLOYMENT, after=HOUR)
    reopened = w.send("rav", CaseOpened, project_code="IIZ-FALLKOORD", after=60 * DAY)
    before_joining = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=HOUR)
    w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    after_joining = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=HOUR)

    expected = model(w)

    assert key(reopened, "iv") not in expected.deliveries
    assert key(before_joining, "iv") not in expected.deliveries
    assert key(after_joining, "iv") in expected.deliveries


# --- consents --------------------------------------------------------------------------------


def test_a_revocation_still_reaches_those_it_covered_and_stops_everything_after_it() -> None:
    w = opened_with_iv(BASIC)
    granted = w.script().consents[0].consent_id
    revoked = w.send("rav", ConsentRevoked, consent_id=granted, after=HOUR)
    after = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=HOUR)

    expected = model(w)

    assert key(revoked, "iv") in expected.deliveries
    assert key(after, "iv") not in expected.deliveries


def test_every_category_the_event_carries_must_be_consented() -> None:
    w = opened_with_iv([C.CASE_ADMIN, C.EMPLOYMENT])
    benefit = w.send("rav", BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=w.today)
    measure = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING)

    expected = model(w)

    assert key(benefit, "iv") not in expected.deliveries
    assert key(measure, "iv") in expected.deliveries


def test_health_is_never_implied_by_other_categories() -> None:
    everything_but_health = [c for c in C if c is not C.HEALTH]
    w = opened_with_iv(everything_but_health, confirmed=True)
    assessment = w.send(
        "iv", AssessmentCompleted, potential=Potential.MEDIUM, health_limitations="Keine Lasten"
    )
    measure = w.send(
        "iv", MeasureStarted, kind=MeasureKind.IV_EARLY_INTERVENTION, datacategory=C.HEALTH
    )

    expected = model(w)

    assert expected.deliveries[key(assessment, "rav")] == {"health_limitations", "barriers[health]"}
    assert key(measure, "rav") not in expected.deliveries


def test_a_consent_naming_health_lets_health_through() -> None:
    w = opened_with_iv([*BASIC, C.HEALTH, C.IDENTITY], confirmed=True)
    assessment = w.send(
        "iv", AssessmentCompleted, potential=Potential.MEDIUM, health_limitations="Keine Lasten"
    )
    measure = w.send(
        "iv", MeasureStarted, kind=MeasureKind.IV_EARLY_INTERVENTION, datacategory=C.HEALTH
    )

    expected = model(w)

    assert expected.deliveries[key(assessment, "rav")] == frozenset()
    assert expected.deliveries[key(measure, "rav")] == frozenset()


def test_identity_and_costs_are_withheld_unless_consented() -> None:
    w = opened_with_iv([C.CASE_ADMIN, C.EMPLOYMENT])
    ended = w.send(
        "iv", MeasureEnded, kind=MeasureKind.IV_EARLY_INTERVENTION,
        result=MeasureResult.COMPLETED, cost_chf=1200,
    )  # fmt: skip
    consent(w, ["rav", "iv"], [C.IDENTITY, C.BENEFITS])
    confirm(w, "iv")
    again = w.send(
        "iv", MeasureEnded, kind=MeasureKind.IV_VOCATIONAL_MEASURE,
        result=MeasureResult.COMPLETED, cost_chf=800,
    )  # fmt: skip

    expected = model(w)

    assert expected.deliveries[key(ended, "rav")] == IDENTITY_PATHS | {"cost_chf"}
    assert expected.deliveries[key(again, "rav")] == frozenset()


def test_a_consent_covers_nothing_before_it_is_granted_or_outside_its_validity() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    before = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=HOUR)
    consent(w, ["rav", "iv"], BASIC, valid_until=START.date() + 10 * DAY)
    inside = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=9 * DAY)
    expired = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=2 * DAY)

    expected = model(w)

    assert key(before, "iv") not in expected.deliveries
    assert key(inside, "iv") in expected.deliveries
    assert key(expired, "iv") not in expected.deliveries


def test_the_business_date_is_the_date_in_zurich() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    tomorrow = START.date() + DAY
    consent(w, ["rav", "iv"], BASIC, valid_from=tomorrow)
    late_evening = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, after=12 * HOUR)
    w.at_night()  # 00:20 in Zurich, still the day before in UTC
    after_midnight = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING)

    expected = model(w)

    assert after_midnight.time.astimezone(dt.UTC).date() == START.date()
    assert key(late_evening, "iv") not in expected.deliveries
    assert key(after_midnight, "iv") in expected.deliveries


# --- who vouches for health and identity (issue 15) -------------------------------------------


def test_health_and_identity_leave_the_origin_only_once_it_confirmed_the_consent() -> None:
    w = opened_with_iv([*BASIC, C.HEALTH, C.IDENTITY])
    unconfirmed = w.send(
        "iv", AssessmentCompleted, potential=Potential.MEDIUM, health_limitations="Keine Lasten"
    )
    health_measure = w.send(
        "iv", MeasureStarted, kind=MeasureKind.IV_EARLY_INTERVENTION, datacategory=C.HEALTH
    )
    confirmation = confirm(w, "iv")
    confirmed = w.send(
        "iv", AssessmentCompleted, potential=Potential.MEDIUM, health_limitations="Keine Lasten"
    )
    from_the_recorder = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING)

    expected = model(w)

    health_paths = {"health_limitations", "barriers[health]"}
    assert expected.deliveries[key(unconfirmed, "rav")] == health_paths | IDENTITY_PATHS
    assert key(health_measure, "rav") not in expected.deliveries
    assert expected.deliveries[key(confirmation, "rav")] == frozenset()  # counts at its step
    assert expected.deliveries[key(confirmed, "rav")] == frozenset()
    assert expected.deliveries[key(from_the_recorder, "iv")] == frozenset()


def test_a_confirmation_vouches_only_for_its_sender_and_its_consent() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    consent(w, ["rav", "iv", "assessmentcenter"], [*BASIC, C.IDENTITY])
    w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    w.send("rav", ParticipantJoined, institution="assessmentcenter", role=PARTICIPANT)
    confirm(w, "assessmentcenter")
    confirmed_at = w.steps[-1].index
    from_iv = w.send("iv", MeasureStarted, kind=MeasureKind.COACHING)
    from_ac = w.send("assessmentcenter", MeasureStarted, kind=MeasureKind.COACHING)
    consent(w, ["rav", "iv"], [*BASIC, C.IDENTITY])  # a second consent, unconfirmed
    from_ac_again = w.send("assessmentcenter", MeasureStarted, kind=MeasureKind.COACHING)

    expected = model(w)
    confirmations = {c.consent_id: dict(c.confirmed) for c in w.script().consents}

    assert expected.deliveries[key(from_iv, "rav")] == IDENTITY_PATHS
    assert expected.deliveries[key(from_ac, "iv")] == frozenset()
    assert expected.deliveries[key(from_ac_again, "rav")] == frozenset()
    assert list(confirmations.values()) == [{"assessmentcenter": confirmed_at}, {}]


def test_every_institution_a_consent_names_is_told_of_it_taking_part_or_not() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    with_identity = consent(w, ["rav", "iv", "assessmentcenter"], [*BASIC, C.IDENTITY])
    tomorrow = consent(w, ["rav", "zif"], [*BASIC, C.IDENTITY], valid_from=START.date() + DAY)
    without_identity = consent(w, ["rav", "berufsbildung"], BASIC)
    unrelated = w.send("rav", MeasureStarted, kind=MeasureKind.COACHING)

    expected = model(w)

    for told in ("iv", "assessmentcenter"):
        assert expected.deliveries[key(with_identity, told)] == frozenset()
        assert with_identity.data.consent_id in expected.bases[key(with_identity, told)]
    assert expected.deliveries[key(tomorrow, "zif")] == IDENTITY_PATHS  # not yet valid
    assert expected.bases[key(tomorrow, "zif")] == {tomorrow.data.consent_id}
    assert expected.deliveries[key(without_identity, "berufsbildung")] == IDENTITY_PATHS
    assert key(with_identity, "zif") not in expected.deliveries  # not named in it
    assert key(with_identity, "rav") not in expected.deliveries  # its own event
    assert not [k for k in expected.deliveries if k[0] == key(unrelated, "")[0]]


def test_the_health_barrier_is_removed_from_the_list_without_a_health_basis() -> None:
    w = opened_with_iv([*BASIC, C.IDENTITY], confirmed=True)
    assessment = w.send(
        "iv", AssessmentCompleted, potential=Potential.LOW,
        barriers=[Barrier.DEBTS, Barrier.HEALTH, Barrier.LANGUAGE],
    )  # fmt: skip
    expected = model(w)
    minimised = delivered(expected, assessment, "rav")
    leaking = delivered(expected, assessment, "rav", keep=frozenset({"barriers[health]"}))

    assert expected.deliveries[key(assessment, "rav")] == {"health_limitations", "barriers[health]"}
    assert json.loads(minimised.value)["barriers"] == ["debts", "language"]
    assert content_findings(compare(expected, [minimised])) == []
    assert compare(expected, [leaking]).not_withheld == [
        (*key(assessment, "rav"), "barriers[health]")
    ]


def test_the_health_barrier_must_arrive_where_health_is_covered() -> None:
    w = opened_with_iv([*BASIC, C.HEALTH, C.IDENTITY], confirmed=True)
    assessment = w.send(
        "iv", AssessmentCompleted, potential=Potential.LOW, barriers=[Barrier.HEALTH]
    )
    expected = model(w)
    complete = delivered(expected, assessment, "rav")

    result = compare(expected, [changed(complete, barriers=[])])

    assert result.over_minimised == [(*key(assessment, "rav"), "barriers[health]")]
    assert content_findings(compare(expected, [complete])) == []


def content_findings(result: Reconciliation) -> list[Any]:
    """What the comparison found about a delivery's content (not about missing ones)."""
    return [*result.not_withheld, *result.identity_leaks, *result.over_minimised, *result.altered]


# --- what coordination would refuse is not in a script -------------------------------------


def test_a_script_cannot_let_an_institution_authorise_itself() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    with pytest.raises(RefusedInScriptError, match="participation_not_authorised"):
        w.send("zif", ParticipantJoined, institution="zif", role=PARTICIPANT)
    with pytest.raises(RefusedInScriptError, match="consent_recorder_not_named"):
        consent(w, ["iv", "zif"], BASIC)  # recorded by the RAV, which it does not name
    referral = w.send(
        "rav", ReferralRequested, to_institution="zif",
        purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW, after=HOUR,
    )  # fmt: skip
    with pytest.raises(RefusedInScriptError, match="consent_recorder_not_taking_part"):
        w.send(
            "zif", ConsentGranted, consent_id=w.uuid(), institutions=["rav", "zif"],
            categories=BASIC, valid_from=START.date(), document_ref="EINW-2",
        )  # fmt: skip
    w.send("zif", ReferralAccepted, referral_id=referral.data.referral_id)
    w.send("zif", ParticipantJoined, institution="zif", role=PARTICIPANT)  # it takes part now
    granted = consent(w, ["rav", "iv"], BASIC).data.consent_id
    with pytest.raises(RefusedInScriptError, match="consent_not_naming_sender"):
        w.send("zif", ConsentConfirmed, consent_id=granted)
    with pytest.raises(RefusedInScriptError, match="consent_not_naming_sender"):
        w.send("zif", ConsentRevoked, consent_id=granted)
    with pytest.raises(RefusedInScriptError, match="consent_not_naming_sender"):
        w.send("iv", ConsentConfirmed, consent_id=w.uuid())  # a consent nobody recorded


def test_a_script_cannot_let_anyone_but_the_lead_close_the_case_or_remove_another() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    w.send("rav", ParticipantJoined, institution="iv", role=PARTICIPANT, after=HOUR)
    for sender, cls, fields in (
        ("zif", CaseClosed, {"outcome": CaseOutcome.OTHER}),  # not taking part
        ("iv", CaseClosed, {"outcome": CaseOutcome.OTHER}),  # taking part, not leading
        ("zif", ParticipantLeft, {"institution": "rav"}),
        ("iv", ParticipantLeft, {"institution": "rav"}),
        ("iv", ParticipantJoined, {"institution": "iv", "role": ParticipantRole.LEAD}),
        ("iv", ParticipantJoined, {"institution": "rav", "role": PARTICIPANT}),
        ("zif", ReferralRequested, {"to_institution": "iv", "purpose": ReferralPurpose.OTHER}),
    ):
        with pytest.raises(RefusedInScriptError, match="participation_not_authorised"):
            w.send(sender, cls, after=HOUR, **fields)
    w.send("rav", ParticipantJoined, institution="iv", role=ParticipantRole.LEAD, after=HOUR)
    with pytest.raises(RefusedInScriptError, match="participation_not_authorised"):
        w.send("rav", CaseClosed, outcome=CaseOutcome.OTHER, after=HOUR)  # iv leads now
    w.send("iv", CaseClosed, outcome=CaseOutcome.OTHER, after=HOUR)


def test_a_script_cannot_record_a_consent_id_twice() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    granted = consent(w, ["rav", "iv"], BASIC).data.consent_id
    with pytest.raises(RefusedInScriptError, match="consent_already_recorded"):
        w.send(
            "rav", ConsentGranted, consent_id=granted, institutions=["rav", "zif"],
            categories=BASIC, valid_from=START.date(), document_ref="EINW-2", after=HOUR,
        )  # fmt: skip


def test_of_early_revocations_the_ground_truth_keeps_the_earliest_by_a_named_institution() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    early = w.uuid()
    w.send("zif", ConsentRevoked, consent_id=early, after=HOUR)
    by_iv = w.send("iv", ConsentRevoked, consent_id=early, after=HOUR)
    w.send(
        "rav", ConsentGranted, consent_id=early, institutions=["rav", "iv"],
        categories=BASIC, valid_from=START.date(), document_ref="EINW-1", after=HOUR,
    )  # fmt: skip

    [fact] = w.script().consents
    assert fact.revoked_step == next(s.index for s in w.steps if s.event is by_iv)


def test_a_second_case_cannot_be_opened_by_an_outsider_while_one_is_open() -> None:
    w = writer()
    w.send("rav", CaseOpened)
    with pytest.raises(RefusedInScriptError, match="participation_not_authorised"):
        w.send("iv", CaseOpened, after=HOUR)
    with pytest.raises(RefusedInScriptError, match="participation_not_authorised"):
        w.send(
            "iv", ReferralRequested, to_institution="iv",
            purpose=ReferralPurpose.IV_EARLY_DETECTION,
        )  # fmt: skip
    w.send("rav", CaseClosed, outcome=CaseOutcome.EMPLOYMENT)
    w.send("iv", CaseOpened, after=HOUR)  # no case is open: anyone may open one


# --- receipts ------------------------------------------------------------------------------


def test_bad_submissions_must_be_rejected_and_resends_answered_as_duplicates() -> None:
    w = writer()
    w.send("rav", CaseOpened, fault=Fault.MISTYPED_CHECK_DIGIT)
    w.send("rav", MeasureStarted, kind=MeasureKind.COACHING, resend=True)

    expected = model(w)
    statuses = [expected.steps[("P00001", i)] for i in range(4)]

    assert [s.status for s in statuses] == [
        Expect.REJECTED, Expect.ACCEPTED, Expect.ACCEPTED, Expect.DUPLICATE,
    ]  # fmt: skip
    assert statuses[0].reason == "invalid_ahv"
    assert statuses[3].canonical_id == statuses[2].canonical_id
    assert len(expected.accepted_ids) == 2


# --- the comparison -------------------------------------------------------------------------


def delivered(
    expected: Expected,
    event: CloudEvent[Any],
    recipient: str,
    *,
    topic: str = "iiz.deliveries.v1",
    delivery_id: str | None = None,
    keep: frozenset[str] = frozenset(),
) -> ReceivedDelivery:
    """A delivery as coordination would write it: minimised, the AHV number sealed."""
    event_id, _ = key(event, recipient)
    withheld = expected.deliveries.get((event_id, recipient), frozenset()) - keep
    data = event.data.model_dump(mode="json", exclude_none=True)
    ahv = data["person"].pop("ahv_number")
    if SEALED_AHV not in withheld:
        data["person"]["sealed_ahv"] = "i1:gAAAA-sealed"
    if CLEAR_AHV in keep:
        data["person"]["ahv_number"] = ahv
    data = without(data, withheld - IDENTITY_PATHS)
    bases = expected.bases.get((event_id, recipient), frozenset())
    headers = {
        "ce_consentref": ",".join(sorted(str(b) for b in bases)),
        "ce_id": delivery_id or str(uuid.uuid5(event_id, recipient)),
        "ce_type": event.type,
        "ce_causationid": str(event_id),
        "ce_recipient": recipient,
        "ce_subject": "psn:k1:" + "0" * 32,
    }
    return ReceivedDelivery(
        topic, 0, 0, None, json.dumps(data).encode(),
        tuple((k, v.encode()) for k, v in headers.items()), dt.datetime.now(dt.UTC),
    )  # fmt: skip


def story() -> tuple[Expected, dict[str, CloudEvent[Any]], list[ReceivedDelivery]]:
    """A small case, its expected deliveries, and exactly those deliveries as received."""
    w = opened_with_iv(BASIC)
    named = {
        "assessment": w.send(
            "iv", AssessmentCompleted, potential=Potential.LOW, health_limitations="Keine Lasten"
        ),
        "measure": w.send("rav", MeasureStarted, kind=MeasureKind.COACHING),
    }
    expected = model(w)
    events = {key(s.event, "")[0]: s.event for s in w.steps}
    received = [delivered(expected, events[e], r) for e, r in expected.deliveries]
    return expected, named, received


def test_the_comparison_of_exactly_the_expected_deliveries_finds_no_difference() -> None:
    expected, _, received = story()

    result = compare(expected, received)

    assert result.differences == 0, result.describe()
    assert result.matched == len(received) == len(expected.deliveries) > 0


def test_the_comparison_finds_missing_unexpected_and_duplicate_deliveries() -> None:
    expected, named, received = story()
    dropped = received.pop()
    extra = delivered(expected, named["measure"], "rav")  # the origin's own event
    twice_on_partner_topic = [
        delivered(expected, named["assessment"], "rav", topic="iiz.deliver.rav.v1")
    ] * 2
    other_id = delivered(expected, named["assessment"], "rav", delivery_id=str(uuid.uuid4()))

    result = compare(expected, [*received, extra, *twice_on_partner_topic, other_id])

    assert len(result.missing) == 1
    assert result.missing[0][1] == dropped.header("ce_recipient")
    assert result.unexpected == [key(named["measure"], "rav")]
    assert key(named["assessment"], "rav") in result.duplicates


def test_the_comparison_finds_fields_and_ahv_numbers_that_must_be_withheld() -> None:
    expected, named, _ = story()
    leaking = delivered(
        expected, named["assessment"], "rav", keep=frozenset({"health_limitations", CLEAR_AHV})
    )

    result = compare(expected, [leaking])

    assert (*key(named["assessment"], "rav"), "health_limitations") in result.not_withheld
    assert key(named["assessment"], "rav") in result.identity_leaks


def test_the_comparison_counts_alerts_and_ignores_other_runs() -> None:
    expected, named, received = story()
    alert = delivered(expected, named["measure"], "iv")
    alert_headers = tuple(
        (k, b"ch.bl.iiz.alert.v1" if k == "ce_type" else v) for k, v in alert.headers
    )
    foreign = delivered(expected, named["measure"], "iv")
    foreign_headers = tuple(
        (k, str(uuid.uuid4()).encode() if k == "ce_causationid" else v) for k, v in foreign.headers
    )

    result = compare(
        expected,
        [
            *received,
            ReceivedDelivery(**{**alert.__dict__, "headers": alert_headers}),
            ReceivedDelivery(**{**foreign.__dict__, "headers": foreign_headers}),
        ],
    )

    assert result.differences == 0, result.describe()
    assert (result.alerts, result.foreign) == (1, 1)


def changed(
    record: ReceivedDelivery, *, drop: tuple[str, ...] = (), **data: Any
) -> ReceivedDelivery:
    """The record with top-level or ``person`` data fields replaced or dropped."""
    value = json.loads(record.value)
    value.update(data)
    for name in drop:
        value.pop(name, None)
        value["person"].pop(name, None)
    return ReceivedDelivery(**{**record.__dict__, "value": json.dumps(value).encode()})


def test_the_comparison_finds_altered_content_and_a_missing_basis() -> None:
    expected, named, _ = story()
    measure = delivered(expected, named["measure"], "iv")
    no_basis = delivered(expected, named["assessment"], "rav")
    no_basis = ReceivedDelivery(
        **{
            **no_basis.__dict__,
            "headers": tuple(h for h in no_basis.headers if h[0] != "ce_consentref"),
        }
    )

    result = compare(expected, [changed(measure, kind="work-integration"), no_basis])

    assert result.altered == [(*key(named["measure"], "iv"), "data")]
    assert result.wrong_basis == [(*key(named["assessment"], "rav"), "no consent named")]


def test_the_comparison_finds_authorised_fields_that_did_not_arrive() -> None:
    w = opened_with_iv([*BASIC, C.HEALTH, C.IDENTITY], confirmed=True)
    assessment = w.send(
        "iv", AssessmentCompleted, potential=Potential.LOW, health_limitations="Keine Lasten"
    )
    expected = model(w)
    complete = delivered(expected, assessment, "rav")

    result = compare(expected, [changed(complete, drop=("health_limitations", "sealed_ahv"))])

    assert {f[2] for f in result.over_minimised} == {"health_limitations", CLEAR_AHV}
    assert compare(expected, [complete]).over_minimised == []
