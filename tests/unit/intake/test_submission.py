"""Intake's decision about one submission, without Kafka or a database."""

from __future__ import annotations

import uuid

import pytest

from schemas.ahv import AhvNumber
from schemas.codec import KafkaRecord, to_kafka
from schemas.errors import ReasonCode
from schemas.events import CaseOpened, NoteAdded, ReferralRequested
from schemas.registry import load_institutions
from services.common.identity_seal import IdentitySeal
from services.common.keyring import Keyring
from services.common.person_registry import PersonKey
from services.common.record_seal import seal_record
from services.common.settings import DEVELOPMENT_IDENTITY_KEY
from services.intake.submission import (
    Accepted,
    Checked,
    Rejected,
    Submission,
    assess,
    canonical_id,
    check,
)
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import sample_event, valid_ahv

REGISTRY = load_institutions()
SEAL = IdentitySeal(Keyring("i1", {"i1": DEVELOPMENT_IDENTITY_KEY.encode()}))


def person_of(ahv: AhvNumber) -> PersonKey:
    """A made-up registry entry: a subject that depends on nothing but the test's choice."""
    return PersonKey(subject="prs:" + uuid.uuid5(uuid.NAMESPACE_OID, ahv.digits).hex, key=b"k" * 32)


PERSONAL = "Hans Muster geb. 01.02.1970 Hauptstr. 5 Liestal Suchtberatung"


def _assess(record: KafkaRecord, sender: str = "rav") -> Accepted | Rejected:
    submission = Submission(REGISTRY.by_id[sender], record, "kafka:test/0/0")
    checked = check(submission, registry=REGISTRY, max_bytes=65536)
    persons = {checked.ahv.digits: person_of(checked.ahv)} if isinstance(checked, Checked) else {}
    return assess(checked, persons=persons, seal=SEAL)


def test_an_accepted_event_is_keyed_by_the_persons_subject_and_carries_no_ahv_number() -> None:
    ahv = valid_ahv(42)
    event = sample_event(CaseOpened, person={"ahv_number": ahv, "case_ref": "RAV-1"})

    outcome = _assess(to_kafka(event))

    assert isinstance(outcome, Accepted)
    pseudonym = person_of(AhvNumber(ahv)).subject
    assert outcome.event.subject == outcome.event.partitionkey == pseudonym
    assert outcome.event.id == canonical_id(event.source, str(event.id))
    assert find_valid_ahv_numbers(to_kafka(outcome.event).value.decode()) == []
    assert SEAL.unseal(outcome.event.data.person.sealed_ahv) == AhvNumber(ahv)


def test_the_same_submission_twice_gets_the_same_canonical_id() -> None:
    event = sample_event(CaseOpened)

    first, second = _assess(to_kafka(event)), _assess(to_kafka(event))

    assert isinstance(first, Accepted)
    assert isinstance(second, Accepted)
    assert first.event.id == second.event.id


def test_an_event_from_another_institutions_topic_is_a_source_mismatch() -> None:
    outcome = _assess(to_kafka(sample_event(CaseOpened, source="/iiz/bl/iv")), sender="rav")

    assert isinstance(outcome, Rejected)
    assert outcome.error.reason is ReasonCode.SOURCE_MISMATCH


def test_a_submission_without_an_ahv_number_is_a_schema_violation() -> None:
    outcome = _assess(to_kafka(sample_event(CaseOpened, person={"case_ref": "X-1"})))

    assert isinstance(outcome, Rejected)
    assert outcome.error.reason is ReasonCode.SCHEMA_VIOLATION


@pytest.mark.parametrize("attribute", ["subject", "legalbasis", "consentref"])
def test_attributes_only_the_bus_sets_are_refused_from_partners(attribute: str) -> None:
    value = "psn:k1:" + "0" * 32 if attribute == "subject" else "AVG Art. 35a"
    outcome = _assess(to_kafka(sample_event(CaseOpened, **{attribute: value})))

    assert isinstance(outcome, Rejected)
    assert outcome.error.reason is ReasonCode.INVALID_ATTRIBUTE


def test_an_ahv_number_hidden_in_free_text_is_refused() -> None:
    hidden = valid_ahv(5).replace(".", " ")
    note = sample_event(NoteAdded, text=f"Rückfrage zu Person {hidden} bitte an RAV")
    referral = sample_event(ReferralRequested, note=f"Versicherte {valid_ahv(6)}")

    outcomes = [_assess(to_kafka(note)), _assess(to_kafka(referral))]

    assert all(isinstance(o, Rejected) for o in outcomes)
    assert {o.error.reason for o in outcomes if isinstance(o, Rejected)} == {
        ReasonCode.SCHEMA_VIOLATION
    }
    assert all(
        find_valid_ahv_numbers(o.error.message) == [] for o in outcomes if isinstance(o, Rejected)
    )


@pytest.mark.parametrize(
    "attribute", ["dataschema", "correlationid", "causationid", "partitionkey", "text"]
)
def test_a_partners_personal_text_in_any_attribute_is_not_readable_on_the_sealed_record(
    attribute: str,
) -> None:
    # Whatever a partner may write (envelope attributes or data), the canonical record on the
    # forever log shows it only inside the person's seal: erasing the key erases it.
    value = f"urn:{PERSONAL}" if attribute == "dataschema" else PERSONAL
    event = sample_event(NoteAdded)
    if attribute == "text":
        event = event.model_copy(update={"data": event.data.model_copy(update={"text": value})})
    else:
        event = event.model_copy(update={attribute: value})
    submitted = to_kafka(event)
    assert PERSONAL.encode() in submitted.value + b"".join(v for _, v in submitted.headers)

    outcome = _assess(submitted)

    assert isinstance(outcome, Accepted)
    sealed = seal_record(to_kafka(outcome.event), outcome.person.key)
    raw = (sealed.key or b"") + sealed.value + b"".join(n.encode() + v for n, v in sealed.headers)
    for fragment in ("Muster", "Hauptstr", "Sucht", "Liestal"):
        assert fragment.encode() not in raw


def test_the_canonical_dataschema_is_the_bus_schema_of_the_event_type() -> None:
    event = sample_event(CaseOpened)
    event = event.model_copy(update={"dataschema": "urn:partner:own-reference-4711"})

    outcome = _assess(to_kafka(event))

    assert isinstance(outcome, Accepted)
    assert outcome.event.dataschema == CaseOpened.dataschema()
