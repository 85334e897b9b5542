"""A batch of case events, computed without a database, a broker or a clock: decode, fold,
decide, and one value holding every effect (``worker/batch.py``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from schemas.codec import to_kafka
from schemas.envelope import CloudEvent
from schemas.events import CaseOpened, ConsentGranted, ParticipantJoined
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import DataCategory, ParticipantRole
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.policy import LegalBasisMatrix, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.worker.batch import (
    BatchContext,
    batch_effects,
    decode,
    first_positions,
    fold_batch,
)
from services.coordination.worker.effects import BatchEffects, BusRecord
from tests.case_story import CaseStory

REGISTRY = load_institutions()
RULES = RuleSettings()
WORLD = World({i.id: i.kind for i in REGISTRY.institutions}, (), LegalBasisMatrix(), RULES.grace)
AT = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)  # the injected clock's "now"


def context(*, replay: bool = False) -> BatchContext:
    return BatchContext(WORLD, RULES, lanes=6, max_event_bytes=256 * 1024, replay=replay)


def story() -> CaseStory:
    s = CaseStory(person_seed=4201)
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    s.rav(
        ConsentGranted,
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-1",
    )
    return s


def records(events: list[CloudEvent[Any]], first_offset: int = 0) -> list[BusRecord]:
    found = []
    for offset, event in enumerate(events, start=first_offset):
        r = to_kafka(event)
        found.append(BusRecord(CASE_EVENTS, 0, offset, r.key, r.value, r.headers))
    return found


def compute(
    batch: list[BusRecord], seen: set[uuid.UUID] | None = None, *, replay: bool = False
) -> BatchEffects:
    """What the processor does between its reads and its one write, with made-up numbers."""
    decoded, poison = decode(batch, context(replay=replay))
    files = {person: CaseFile(pseudonym=person) for person in first_positions(decoded)}
    folded = fold_batch(decoded, poison, files, seen or set(), context(replay=replay))
    numbers = {c.case_key: f"IIZ-2026-{n:06d}" for n, c in enumerate(folded.cases(), start=1)}
    return batch_effects(folded, numbers, context(replay=replay), at=AT)


def test_a_batch_is_one_value_with_every_effect_of_its_events() -> None:
    s = story()

    effects = compute(records(s.events))

    assert [row.event_id for row in effects.timeline] == [e.id for e in s.events]
    assert [row[3] for row in effects.processed] == ["applied"] * 3
    assert effects.read_models.cases[0][1] == "IIZ-2026-000001"
    assert {row[1] for row in effects.read_models.participants} == {s.events[0].id}
    assert len(effects.read_models.consents) == 1
    assert [e.action for e in effects.audit] == ["decided"] * 3
    assert effects.audited_at == AT
    assert [p[0] for p in effects.persons] == [s.pseudonym]
    assert effects.report.applied == 3
    assert effects.dead_letters == []


def test_a_consent_lets_a_participant_receive_later_events_through_the_outbox() -> None:
    s = story()
    s.rav(ParticipantJoined, institution="rav", role=ParticipantRole.LEAD)

    effects = compute(records(s.events))

    recipients = [dict(o.record.headers)["ce_recipient"].decode() for o in effects.outbox]
    assert "iv" in recipients


def test_events_seen_before_are_counted_as_duplicates_and_change_nothing() -> None:
    s = story()

    effects = compute(records(s.events), seen={e.id for e in s.events})

    assert effects.timeline == []
    assert effects.audit == []
    assert effects.report.duplicates == 3
    assert effects.report.applied == 0


def test_a_redelivered_consent_grant_is_a_duplicate_not_a_second_recording_of_its_id() -> None:
    s = story()
    grant = s.events[2]

    in_the_same_batch = compute(records([*s.events, grant]))
    in_a_later_batch = compute(records([grant], first_offset=3), seen={e.id for e in s.events})

    assert (in_the_same_batch.report.refused, in_the_same_batch.report.duplicates) == (0, 1)
    assert (in_a_later_batch.report.refused, in_a_later_batch.report.duplicates) == (0, 1)
    assert len(in_the_same_batch.read_models.consents) == 1


def test_a_record_that_is_no_canonical_event_is_dead_lettered_once_and_audited() -> None:
    s = story()
    batch = records(s.events)
    broken = BusRecord(CASE_EVENTS, 0, 3, b"key", b"not json", ())

    effects = compute([*batch, broken])

    assert [p.record.offset for p in effects.dead_letters] == [3]
    assert effects.processed[-1] == (broken.poison_id, 0, 3, "dead-lettered")
    assert effects.audit[-1].action == "dead-lettered"
    assert effects.report.dead_lettered == 1


def test_a_replay_writes_no_audit_rows_and_sends_no_dead_letters() -> None:
    s = story()
    broken = BusRecord(CASE_EVENTS, 0, 3, b"key", b"not json", ())

    effects = compute([*records(s.events), broken], replay=True)

    assert effects.audit == []
    assert effects.dead_letters == []
    assert effects.report.dead_lettered == 1
    assert len(effects.timeline) == 3
