"""Nobody becomes involved, or obtains data, on its own word: the authority checks before a fold,
consent confirmation, telling named institutions, and the health barrier. Pure, on case files
built from readable stories."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from schemas.envelope import CloudEvent
from schemas.events import (
    AssessmentCompleted,
    CaseClosed,
    CaseOpened,
    ConsentConfirmed,
    ConsentGranted,
    ConsentRevoked,
    ParticipantJoined,
    ParticipantLeft,
    ReferralAccepted,
    ReferralCompleted,
    ReferralRequested,
)
from schemas.refusals import RefusalReason
from schemas.registry import load_institutions
from schemas.vocabulary import (
    Barrier,
    CaseOutcome,
    DataCategory,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.event_step import Applied, Refused, apply_event
from services.coordination.domain.fields import without_fields
from services.coordination.domain.policy import Decision, LegalBasisMatrix, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.reading.timeline import TimelineEntry, timeline_entry
from tests.case_story import CaseStory

RULES = RuleSettings()
WORLD = World(
    kinds={i.id: i.kind for i in load_institutions().institutions},
    consents=(),
    matrix=LegalBasisMatrix(),
    grace=RULES.grace,
)
HEALTH, IDENTITY, EMPLOYMENT = DataCategory.HEALTH, DataCategory.IDENTITY, DataCategory.EMPLOYMENT


class Bus:
    """A person's events applied one after another, as coordination applies them."""

    def __init__(self) -> None:
        self.story = CaseStory(person_seed=31)
        self.file = CaseFile(pseudonym=self.story.pseudonym)
        self.position = 0

    def send(self, origin: str, cls: type[Any], /, **fields: Any) -> Applied | Refused:
        event: CloudEvent[Any] = self.story.by(origin, cls, **fields)
        self.position += 1
        return apply_event(self.file, event, self.position, WORLD, RULES)

    def refer(self, sender: str, to: str) -> uuid.UUID:
        referral = uuid.uuid4()
        self.send(
            sender,
            ReferralRequested,
            referral_id=referral,
            to_institution=to,
            purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
        )
        return referral

    def consent(
        self, recorder: str, institutions: list[str], categories: list[DataCategory]
    ) -> tuple[uuid.UUID, Applied | Refused]:
        consent_id = uuid.uuid4()
        outcome = self.send(
            recorder,
            ConsentGranted,
            consent_id=consent_id,
            institutions=institutions,
            categories=categories,
            valid_from=dt.date(2026, 1, 1),
            document_ref=f"{recorder.upper()}-VOLLMACHT",
        )
        return consent_id, outcome

    def assessment(self, origin: str = "rav") -> Applied:
        outcome = self.send(
            origin,
            AssessmentCompleted,
            potential=Potential.MEDIUM,
            barriers=[Barrier.HEALTH, Barrier.LANGUAGE],
            health_limitations="Keine Lasten über 10 kg",
        )
        assert isinstance(outcome, Applied)
        return outcome


def join(
    bus: Bus, sender: str, institution: str, role: ParticipantRole = ParticipantRole.PARTICIPANT
) -> Applied | Refused:
    return bus.send(sender, ParticipantJoined, institution=institution, role=role)


def leave(bus: Bus, sender: str, institution: str) -> Applied | Refused:
    return bus.send(sender, ParticipantLeft, institution=institution)


def close(bus: Bus, sender: str) -> Applied | Refused:
    return bus.send(sender, CaseClosed, outcome=CaseOutcome.OTHER)


def refused_for(outcome: Applied | Refused) -> RefusalReason | None:
    return outcome.reason if isinstance(outcome, Refused) else None


def decision_for(applied: Applied, recipient: str) -> Decision:
    return next(d for d in applied.decisions if d.recipient == recipient)


def a_case_of_rav() -> Bus:
    bus = Bus()
    bus.send("rav", CaseOpened)
    return bus


# --- Taking part --------------------------------------------------------------------------------


def test_an_institution_that_opened_the_case_takes_part() -> None:
    bus = a_case_of_rav()

    assert bus.file.takes_part("rav")


def test_an_institution_that_joins_itself_without_a_referral_is_refused() -> None:
    bus = a_case_of_rav()

    outcome = join(bus, "zif", "zif")

    assert refused_for(outcome) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert not bus.file.takes_part("zif")


def test_a_refused_event_leaves_the_case_file_exactly_as_it_was() -> None:
    bus = a_case_of_rav()
    before = bus.file.model_dump_json()

    join(bus, "zif", "zif")
    bus.consent("zif", ["rav", "zif"], [HEALTH, IDENTITY])

    assert bus.file.model_dump_json() == before


def test_the_case_lead_may_add_another_institution() -> None:
    bus = a_case_of_rav()

    outcome = join(bus, "rav", "zif")

    assert isinstance(outcome, Applied)
    assert bus.file.takes_part("zif")


def test_a_participant_added_by_the_lead_may_add_another_institution() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "zif")

    assert isinstance(join(bus, "zif", "iv"), Applied)


def test_an_institution_that_never_took_part_may_not_add_another() -> None:
    bus = a_case_of_rav()

    assert refused_for(join(bus, "zif", "iv")) is RefusalReason.PARTICIPATION_NOT_AUTHORISED


def test_an_invited_institution_takes_part_only_once_it_accepted_the_referral() -> None:
    bus = a_case_of_rav()
    referral = bus.refer("rav", "zif")

    invited_only = refused_for(join(bus, "zif", "zif"))
    bus.send("zif", ReferralAccepted, referral_id=referral)

    assert invited_only is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.takes_part("zif")
    assert isinstance(join(bus, "zif", "zif"), Applied)


def test_only_the_institution_a_referral_is_addressed_to_can_accept_it() -> None:
    bus = a_case_of_rav()
    referral = bus.refer("rav", "iv")

    bus.send("zif", ReferralAccepted, referral_id=referral)

    assert not bus.file.takes_part("iv")
    assert not bus.file.takes_part("zif")


def test_only_the_institution_a_referral_is_addressed_to_can_complete_it() -> None:
    bus = a_case_of_rav()
    referral = bus.refer("rav", "iv")

    bus.send("zif", ReferralCompleted, referral_id=referral)
    bus.send("rav", ReferralCompleted, referral_id=referral)

    assert not bus.file.takes_part("iv")


def test_the_addressee_completing_a_referral_answers_it_like_an_acceptance() -> None:
    bus = a_case_of_rav()
    referral = bus.refer("rav", "iv")

    bus.send("iv", ReferralCompleted, referral_id=referral)

    assert bus.file.takes_part("iv")


def test_opening_a_case_while_another_institution_has_one_open_is_refused() -> None:
    bus = a_case_of_rav()

    outcome = bus.send("zif", CaseOpened)

    assert refused_for(outcome) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.open_case is not None
    assert bus.file.open_case.lead == "rav"


def test_anyone_may_open_a_case_for_a_person_without_an_open_case() -> None:
    bus = Bus()

    assert isinstance(bus.send("zif", CaseOpened), Applied)
    assert bus.file.takes_part("zif")


def test_an_institution_that_refers_the_person_to_itself_is_refused() -> None:
    bus = a_case_of_rav()

    outcome = bus.send(
        "zif",
        ReferralRequested,
        referral_id=uuid.uuid4(),
        to_institution="zif",
        purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
    )

    assert refused_for(outcome) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.referrals == []


def test_an_institution_not_taking_part_cannot_close_the_case_and_reopen_it_as_lead() -> None:
    bus = a_case_of_rav()

    closing = close(bus, "zif")
    reopening = bus.send("zif", CaseOpened)

    assert refused_for(closing) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert refused_for(reopening) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.open_case is not None
    assert bus.file.open_case.lead == "rav"
    assert bus.file.takes_part("rav")


def test_a_participant_that_does_not_lead_the_case_cannot_close_it() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")

    assert refused_for(close(bus, "iv")) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.open_case is not None


def test_the_lead_closes_the_case() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")

    assert isinstance(close(bus, "rav"), Applied)
    assert bus.file.open_case is None
    assert bus.file.current_participants() == []


def test_once_the_lead_left_the_case_any_institution_taking_part_may_close_it() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")
    leave(bus, "rav", "rav")

    assert isinstance(close(bus, "iv"), Applied)


def test_nobody_closes_a_case_that_is_not_open() -> None:
    bus = a_case_of_rav()
    close(bus, "rav")

    assert refused_for(close(bus, "rav")) is RefusalReason.PARTICIPATION_NOT_AUTHORISED


def test_an_institution_not_taking_part_cannot_remove_the_lead_from_the_case() -> None:
    bus = a_case_of_rav()

    outcome = leave(bus, "zif", "rav")

    assert refused_for(outcome) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.takes_part("rav")


def test_a_participant_that_does_not_lead_the_case_cannot_remove_another() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")
    join(bus, "rav", "zif")

    assert refused_for(leave(bus, "iv", "zif")) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert refused_for(leave(bus, "iv", "rav")) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.takes_part("zif")
    assert bus.file.takes_part("rav")


def test_the_lead_may_remove_another_institution() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")

    assert isinstance(leave(bus, "rav", "iv"), Applied)
    assert not bus.file.takes_part("iv")


def test_any_institution_may_leave_the_case_on_its_own() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")

    assert isinstance(leave(bus, "iv", "iv"), Applied)
    assert not bus.file.takes_part("iv")


def test_a_participant_cannot_make_itself_lead() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "zif")

    outcome = join(bus, "zif", "zif", ParticipantRole.LEAD)

    assert refused_for(outcome) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.open_case is not None
    assert bus.file.open_case.lead == "rav"
    assert bus.file.role_of("zif") == ParticipantRole.PARTICIPANT


def test_a_participant_cannot_make_another_institution_lead_or_change_the_leads_role() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "zif")

    to_lead = join(bus, "zif", "iv", ParticipantRole.LEAD)
    demoted = join(bus, "zif", "rav", ParticipantRole.PARTICIPANT)

    assert refused_for(to_lead) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert refused_for(demoted) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.role_of("rav") == ParticipantRole.LEAD


def test_the_lead_may_hand_the_lead_to_another_institution() -> None:
    bus = a_case_of_rav()

    outcome = join(bus, "rav", "ksa", ParticipantRole.LEAD)

    assert isinstance(outcome, Applied)
    assert bus.file.open_case is not None
    assert bus.file.open_case.lead == "ksa"
    assert bus.file.leads("ksa")
    assert not bus.file.leads("rav")


def test_a_participant_opening_the_open_case_again_does_not_become_lead() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "zif")

    bus.send("zif", CaseOpened)

    assert bus.file.role_of("zif") == ParticipantRole.PARTICIPANT
    assert not bus.file.leads("zif")


def test_a_participant_cannot_rewrite_another_institutions_case_reference() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "zif")
    join(bus, "rav", "iv")
    bus.send("iv", ConsentRevoked, consent_id=uuid.uuid4())  # an event of its own, its ref
    own_ref = bus.file.case_refs["iv"]

    outcome = bus.send(
        "zif",
        ParticipantJoined,
        institution="iv",
        role=ParticipantRole.PARTICIPANT,
        institution_case_ref="ZIF-CHOSEN",
    )

    assert isinstance(outcome, Applied)  # adding a participant again is allowed, the ref not
    assert bus.file.case_refs["iv"] == own_ref
    assert bus.file.case_refs["rav"] == f"RAV-{bus.story.pseudonym[-6:]}"


def test_the_case_reference_an_institution_gives_for_itself_wins_over_one_given_by_another() -> (
    None
):
    bus = a_case_of_rav()
    bus.send(
        "rav",
        ParticipantJoined,
        institution="iv",
        role=ParticipantRole.PARTICIPANT,
        institution_case_ref="AS-RAV-KNEW-IT",
    )
    given_by_rav = bus.file.case_refs["iv"]

    bus.send("iv", ConsentRevoked, consent_id=uuid.uuid4())  # any event of its own

    assert given_by_rav == "AS-RAV-KNEW-IT"
    assert bus.file.case_refs["iv"] == f"IV-{bus.story.pseudonym[-6:]}"


def test_an_institution_not_taking_part_cannot_refer_the_person_to_another() -> None:
    bus = a_case_of_rav()

    outcome = bus.send(
        "zif",
        ReferralRequested,
        referral_id=uuid.uuid4(),
        to_institution="iv",
        purpose=ReferralPurpose.IV_EARLY_DETECTION,
    )

    assert refused_for(outcome) is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert not bus.file.participates("iv")
    assert bus.file.referrals == []


def test_a_person_without_a_case_is_referred_once_the_sender_opened_one() -> None:
    bus = Bus()

    without_case = refused_for(bus.send(
        "sozialhilfe-2829",
        ReferralRequested,
        referral_id=uuid.uuid4(),
        to_institution="zif",
        purpose=ReferralPurpose.ZIF_FIRST_INTERVIEW,
    ))  # fmt: skip
    bus.send("sozialhilfe-2829", CaseOpened)
    bus.refer("sozialhilfe-2829", "zif")

    assert without_case is RefusalReason.PARTICIPATION_NOT_AUTHORISED
    assert bus.file.participates("zif")


# --- Recording, revoking and confirming consents ------------------------------------------------


def test_a_consent_recorded_by_an_institution_it_does_not_name_is_refused() -> None:
    bus = a_case_of_rav()

    _, outcome = bus.consent("rav", ["iv", "zif"], [EMPLOYMENT])

    assert refused_for(outcome) is RefusalReason.CONSENT_RECORDER_NOT_NAMED
    assert bus.file.consents == []


def test_a_consent_recorded_by_a_named_institution_that_does_not_take_part_is_refused() -> None:
    bus = a_case_of_rav()

    _, outcome = bus.consent("zif", ["rav", "zif"], [HEALTH, IDENTITY])

    assert refused_for(outcome) is RefusalReason.CONSENT_RECORDER_NOT_TAKING_PART
    assert bus.file.consents == []


def test_an_institution_not_named_in_a_consent_cannot_revoke_it() -> None:
    bus = a_case_of_rav()
    consent_id, _ = bus.consent("rav", ["rav", "iv"], [EMPLOYMENT])

    outcome = bus.send("zif", ConsentRevoked, consent_id=consent_id)

    assert refused_for(outcome) is RefusalReason.CONSENT_NOT_NAMING_SENDER
    assert bus.file.consents[0].revoked_at is None


def test_a_named_institution_that_did_not_record_the_consent_may_revoke_it() -> None:
    bus = a_case_of_rav()
    consent_id, _ = bus.consent("rav", ["rav", "iv"], [EMPLOYMENT])

    outcome = bus.send("iv", ConsentRevoked, consent_id=consent_id)

    assert isinstance(outcome, Applied)
    assert bus.file.consents[0].revoked_at == bus.position


def test_a_revocation_before_the_grant_counts_only_if_the_grant_names_its_sender() -> None:
    bus = a_case_of_rav()
    early = uuid.uuid4()
    bus.send("zif", ConsentRevoked, consent_id=early)

    bus.send(
        "rav",
        ConsentGranted,
        consent_id=early,
        institutions=["rav", "iv"],
        categories=[EMPLOYMENT],
        valid_from=dt.date(2026, 1, 1),
        document_ref="RAV-VOLLMACHT",
    )

    assert bus.file.consents[0].revoked_at is None


def test_an_early_revocation_by_an_unnamed_sender_does_not_mask_one_by_a_named_sender() -> None:
    bus = a_case_of_rav()
    early = uuid.uuid4()
    bus.send("zif", ConsentRevoked, consent_id=early)
    bus.send("iv", ConsentRevoked, consent_id=early)
    by_iv = bus.position

    bus.send(
        "rav",
        ConsentGranted,
        consent_id=early,
        institutions=["rav", "iv"],
        categories=[EMPLOYMENT],
        valid_from=dt.date(2026, 1, 1),
        document_ref="RAV-VOLLMACHT",
    )

    assert bus.file.consents[0].revoked_at == by_iv


def test_a_consent_id_already_on_the_bus_cannot_be_recorded_again() -> None:
    bus = a_case_of_rav()
    join(bus, "rav", "iv")
    consent_id, _ = bus.consent("rav", ["rav", "iv"], [EMPLOYMENT])

    outcome = bus.send(
        "iv",
        ConsentGranted,
        consent_id=consent_id,
        institutions=["iv", "zif"],
        categories=[HEALTH, IDENTITY],
        valid_from=dt.date(2026, 1, 1),
        document_ref="IV-VOLLMACHT",
    )
    bus.send("iv", ConsentRevoked, consent_id=consent_id)

    assert refused_for(outcome) is RefusalReason.CONSENT_ALREADY_RECORDED
    assert [c.institutions for c in bus.file.consents] == [["iv", "rav"]]
    assert bus.file.consents[0].revoked_at == bus.position


def test_a_confirmation_by_an_institution_the_consent_does_not_name_is_refused() -> None:
    bus = a_case_of_rav()
    consent_id, _ = bus.consent("rav", ["rav", "iv"], [HEALTH])

    outcome = bus.send("zif", ConsentConfirmed, consent_id=consent_id)

    assert refused_for(outcome) is RefusalReason.CONSENT_NOT_NAMING_SENDER
    assert bus.file.consents[0].confirmed_at == {}


def test_a_confirmation_of_a_consent_the_bus_does_not_know_is_refused_like_one_not_naming_it() -> (
    None
):
    bus = a_case_of_rav()

    outcome = bus.send("rav", ConsentConfirmed, consent_id=uuid.uuid4())

    assert refused_for(outcome) is RefusalReason.CONSENT_NOT_NAMING_SENDER


# --- What flows under whose word ----------------------------------------------------------------


def zif_took_part_and_recorded_a_consent(categories: list[DataCategory]) -> tuple[Bus, Applied]:
    bus = a_case_of_rav()
    bus.send("zif", ReferralAccepted, referral_id=bus.refer("rav", "zif"))
    _, recorded = bus.consent("zif", ["rav", "zif"], categories)
    assert isinstance(recorded, Applied)
    return bus, recorded


def test_every_named_institution_is_told_of_a_consent_another_recorded() -> None:
    bus, recorded = zif_took_part_and_recorded_a_consent([HEALTH, IDENTITY])

    told = decision_for(recorded, "rav")

    assert told.allowed  # although the consent does not list case-admin
    assert told.basis is not None
    assert told.basis.consent_ids == (bus.file.consents[0].consent_id,)
    assert DataCategory.CASE_ADMIN in told.categories


def test_health_and_identity_do_not_leave_their_origin_on_another_institutions_consent() -> None:
    bus, _ = zif_took_part_and_recorded_a_consent([EMPLOYMENT, HEALTH, IDENTITY])

    to_zif = decision_for(bus.assessment("rav"), "zif")

    assert to_zif.allowed  # employment: any consent naming both covers it
    assert to_zif.withheld == {
        "health_limitations",
        "barriers[health]",
        "person.ahv_number",
        "person.sealed_ahv",
    }
    assert to_zif.categories == {EMPLOYMENT}


def test_health_and_identity_flow_once_the_origin_confirmed_the_consent() -> None:
    bus, _ = zif_took_part_and_recorded_a_consent([EMPLOYMENT, HEALTH, IDENTITY])
    consent_id = bus.file.consents[0].consent_id
    before = decision_for(bus.assessment("rav"), "zif")

    bus.send("rav", ConsentConfirmed, consent_id=consent_id)
    after = decision_for(bus.assessment("rav"), "zif")

    assert HEALTH not in before.categories
    assert after.withheld == frozenset()
    assert after.categories == {EMPLOYMENT, HEALTH, IDENTITY}


def test_the_recorder_of_a_consent_vouches_for_its_own_health_data_without_confirming() -> None:
    bus, _ = zif_took_part_and_recorded_a_consent([EMPLOYMENT, HEALTH])

    to_rav = decision_for(bus.assessment("zif"), "rav")

    assert HEALTH in to_rav.categories
    assert "health_limitations" not in to_rav.withheld


def test_the_health_barrier_is_removed_and_the_other_barriers_kept_without_a_health_basis() -> None:
    data = {"potential": "medium", "barriers": ["health", "language"], "person": {"case_ref": "A"}}

    minimised = without_fields(data, {"barriers[health]"})

    assert minimised["barriers"] == ["language"]
    assert data["barriers"] == ["health", "language"]  # the original is untouched


def timeline_row(data: dict[str, Any], withheld: list[str]) -> dict[str, Any]:
    return {
        "origin": "rav",
        "event": json.dumps({"data": data}),
        "withheld": withheld,
        "bus_offset": 7,
        "event_id": uuid.uuid4(),
        "type": AssessmentCompleted.cloud_event_type(),
        "occurred_at": dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC),
        "datacategory": EMPLOYMENT.value,
        "case_number": "IIZ-2026-000001",
        "basis_kind": "consent",
        "consent_ids": [uuid.uuid4()],
        "articles": [],
    }


def zif_reads_an_assessment(barriers: list[str]) -> TimelineEntry:
    data = {"potential": "medium", "barriers": barriers, "person": {"case_ref": "RAV-1"}}
    return timeline_entry(timeline_row(data, ["barriers[health]", "health_limitations"]), "zif")


def test_the_timeline_shows_a_reader_without_a_health_basis_the_other_barriers_only() -> None:
    entry = zif_reads_an_assessment(["health", "language"])

    assert entry.data["barriers"] == ["language"]


def test_the_timeline_does_not_tell_by_its_withheld_paths_whether_a_health_barrier_was_there() -> (
    None
):
    with_health = zif_reads_an_assessment(["health", "language"])
    without_health = zif_reads_an_assessment(["language"])

    assert with_health.withheld == without_health.withheld
    assert with_health.data == without_health.data


def test_the_timeline_lists_a_withheld_field_whether_or_not_the_event_carries_it() -> None:
    """Listing ``health_limitations`` only when present would tell that there are some."""
    entry = zif_reads_an_assessment(["language"])

    assert entry.withheld == ["barriers[health]", "health_limitations"]
    assert "health_limitations" not in entry.data


def test_the_timeline_never_lists_the_ahv_number_which_it_never_holds() -> None:
    data = {"potential": "medium", "barriers": [], "person": {"case_ref": "RAV-1"}}
    entry = timeline_entry(timeline_row(data, ["health_limitations", "person.ahv_number"]), "zif")

    assert entry.withheld == ["health_limitations"]


def test_an_ahv_path_the_reader_may_not_see_is_still_taken_out_should_a_row_hold_it() -> None:
    data = {"potential": "medium", "person": {"case_ref": "RAV-1", "sealed_ahv": "gAAAA-sealed"}}
    entry = timeline_entry(timeline_row(data, ["person.sealed_ahv"]), "zif")

    assert "sealed_ahv" not in entry.data["person"]
    assert entry.withheld == []
