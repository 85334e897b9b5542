"""Our codec against the official CloudEvents Python SDK (v2) Kafka binding, both directions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import from_kafka, to_kafka
from schemas.envelope import CloudEvent, new_event
from schemas.events import (
    EVENT_DATA_CLASSES,
    AppointmentScheduled,
    AssessmentCompleted,
    BenefitExhaustionExpected,
    CaseClosed,
    CaseOpened,
    ConsentGranted,
    DocumentShared,
    EventData,
    MeasureEnded,
    NoteAdded,
    ParticipantJoined,
    ReferralRequested,
)
from schemas.events.base import PersonRef
from schemas.registry import load_institutions
from schemas.vocabulary import (
    AppointmentKind,
    Barrier,
    BenefitKind,
    CaseOutcome,
    DataCategory,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from tests.factories import ahv_from_nine_digits, sample_event

FORMAT = JSONFormat()
SOURCES = sorted(i.source for i in load_institutions().institutions)
INSTITUTION_IDS = sorted(i.id for i in load_institutions().institutions)

# --- strategies -----------------------------------------------------------------------------

# Any Unicode PostgreSQL can store: no surrogates (not encodable as UTF-8 at all) and no
# U+0000 (the codec refuses both, see test_codec_unstorable_characters).
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
header_text = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)
dates = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))
zones = st.sampled_from(
    [
        dt.UTC,
        dt.timezone(dt.timedelta(hours=1)),
        dt.timezone(dt.timedelta(hours=2)),
        dt.timezone(dt.timedelta(hours=-5, minutes=-30)),
    ]
)
aware_times = st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=zones
)
naive_or_aware_times = st.one_of(
    aware_times, st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31))
)
institution_ids = st.sampled_from(INSTITUTION_IDS)
ahv_numbers = st.text(alphabet="0123456789", min_size=9, max_size=9).map(ahv_from_nine_digits)
case_refs = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,30}\Z")
persons = st.builds(PersonRef, ahv_number=st.one_of(st.none(), ahv_numbers), case_ref=case_refs)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def consents(draw: st.DrawFn) -> ConsentGranted:
    valid_from = draw(dates)
    valid_until = draw(opt(dates.filter(lambda d: d >= valid_from)))
    return ConsentGranted(
        person=draw(persons),
        consent_id=draw(st.uuids()),
        institutions=draw(st.lists(institution_ids, min_size=2, max_size=5)),
        categories=draw(st.lists(st.sampled_from(DataCategory), min_size=1, max_size=4)),
        valid_from=valid_from,
        valid_until=valid_until,
        document_ref=draw(text.filter(bool).map(lambda s: s[:128])),
    )


DATA_STRATEGIES: dict[type[EventData], st.SearchStrategy[EventData]] = {
    CaseOpened: st.builds(
        CaseOpened,
        person=persons,
        project_code=opt(st.sampled_from(["AC-PILOT", "IIZ-FALLKOORD", "CM-BB"])),
        reason=opt(text),
    ),
    ParticipantJoined: st.builds(
        ParticipantJoined,
        person=persons,
        institution=institution_ids,
        role=st.sampled_from(ParticipantRole),
        institution_case_ref=opt(text),
    ),
    CaseClosed: st.builds(CaseClosed, person=persons, outcome=st.sampled_from(CaseOutcome)),
    ConsentGranted: consents(),
    ReferralRequested: st.builds(
        ReferralRequested,
        person=persons,
        referral_id=st.uuids(),
        to_institution=institution_ids,
        purpose=st.sampled_from(ReferralPurpose),
        answer_due=opt(dates),
        note=opt(text),
    ),
    MeasureEnded: st.builds(
        MeasureEnded,
        person=persons,
        measure_id=st.uuids(),
        kind=st.sampled_from(MeasureKind),
        result=st.sampled_from(MeasureResult),
        cost_chf=opt(st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2)),
        financed_by=opt(institution_ids),
    ),
    BenefitExhaustionExpected: st.builds(
        BenefitExhaustionExpected,
        person=persons,
        benefit_id=st.uuids(),
        kind=st.sampled_from(BenefitKind),
        expected_end=dates,
    ),
    AssessmentCompleted: st.builds(
        AssessmentCompleted,
        person=persons,
        assessment_id=st.uuids(),
        potential=st.sampled_from(Potential),
        barriers=st.lists(st.sampled_from(Barrier), max_size=5),
        health_limitations=opt(text),
        recommendation=opt(text),
    ),
    AppointmentScheduled: st.builds(
        AppointmentScheduled,
        person=persons,
        appointment_id=st.uuids(),
        kind=st.sampled_from(AppointmentKind),
        scheduled_for=naive_or_aware_times,
        institutions=st.lists(institution_ids, max_size=4),
    ),
    DocumentShared: st.builds(
        DocumentShared,
        person=persons,
        document_id=st.uuids(),
        title=text.filter(bool),
        media_type=st.sampled_from(["application/pdf", "image/png", "text/plain"]),
        size_bytes=st.integers(0, 2**40),
        sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
        held_by=institution_ids,
    ),
    NoteAdded: st.builds(NoteAdded, person=persons, note_id=st.uuids(), text=text.filter(bool)),
}


@st.composite
def events(draw: st.DrawFn) -> CloudEvent[Any]:
    cls = draw(st.sampled_from(sorted(DATA_STRATEGIES, key=lambda c: c.name)))
    pseudonym = draw(opt(st.from_regex(r"\Apsn:v[0-9]:[0-9a-f]{32}\Z")))
    return new_event(
        draw(DATA_STRATEGIES[cls]),
        source=draw(st.sampled_from(SOURCES)),
        time=draw(aware_times),
        event_id=draw(st.uuids()),
        subject=pseudonym,
        partitionkey=pseudonym if draw(st.booleans()) else None,
        datacategory=draw(st.sampled_from(DataCategory)),
        correlationid=draw(opt(header_text)),
        causationid=draw(opt(st.uuids().map(str))),
    )


def to_sdk_message(record: Any) -> ce_kafka.KafkaMessage:
    return ce_kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)


# --- tests ----------------------------------------------------------------------------------


def test_the_strategies_cover_a_representative_part_of_the_catalogue() -> None:
    assert len(DATA_STRATEGIES) >= 8
    assert set(DATA_STRATEGIES) <= set(EVENT_DATA_CLASSES)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(event=events())
def test_the_sdk_reads_what_we_write_and_we_read_it_back(event: CloudEvent[Any]) -> None:
    record = to_kafka(event)

    sdk_event = ce_kafka.from_binary(to_sdk_message(record), FORMAT)
    ours = from_kafka(record.key, record.value, record.headers)

    sdk_attributes = sdk_event.get_attributes()
    expected = event.attributes()
    assert sdk_event.get_time() == event.time
    assert {k: v for k, v in sdk_attributes.items() if k != "time"} == {
        k: v for k, v in expected.items() if k != "time"
    }
    assert sdk_event.get_data() == event.data.model_dump(mode="json", exclude_none=True)
    assert ours == event


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(event=events())
def test_we_read_what_the_sdk_writes(event: CloudEvent[Any]) -> None:
    attributes: dict[str, Any] = {
        k: v for k, v in event.attributes().items() if k not in ("time", "id")
    }
    attributes["id"] = str(event.id)
    attributes["time"] = event.time
    sdk_event = SdkEvent(
        attributes=attributes, data=event.data.model_dump(mode="json", exclude_none=True)
    )

    message = ce_kafka.to_binary(sdk_event, FORMAT)
    key = message.key.encode() if isinstance(message.key, str) else message.key
    decoded = from_kafka(key, message.value, list(message.headers.items()))

    assert decoded == event
    assert type(decoded.data) is type(event.data)


def test_utc_time_is_written_with_z_and_microseconds_survive_both_ways() -> None:
    time = dt.datetime(2025, 3, 14, 9, 30, 5, 123456, tzinfo=dt.UTC)
    event = sample_event(CaseOpened, time=time)

    record = to_kafka(event)
    sdk_message = ce_kafka.to_binary(ce_kafka.from_binary(to_sdk_message(record), FORMAT), FORMAT)
    back = from_kafka(sdk_message.key, sdk_message.value, list(sdk_message.headers.items()))

    assert record.header("ce_time") == b"2025-03-14T09:30:05.123456Z"
    assert sdk_message.headers["ce_time"] == b"2025-03-14T09:30:05.123456Z"
    assert back.time == time
    assert back == event


def test_every_catalogue_sample_survives_the_sdk_round_trip() -> None:
    for cls in EVENT_DATA_CLASSES:
        event = sample_event(cls, partitionkey="psn:v1:" + "0" * 32)
        record = to_kafka(event)

        via_sdk = ce_kafka.to_binary(ce_kafka.from_binary(to_sdk_message(record), FORMAT), FORMAT)
        key = via_sdk.key.encode() if isinstance(via_sdk.key, str) else via_sdk.key

        assert key == record.key, cls.name
        assert from_kafka(key, via_sdk.value, list(via_sdk.headers.items())) == event, cls.name
