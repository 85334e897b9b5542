"""The batch's fast paths produce what the plain construction produces, byte for byte.

``outbox_records`` builds a delivery without a ``CloudEvent`` per recipient (``EventDeliveries``),
``timeline_row`` may share the event's JSON with the deliveries, and the legal-basis matrix is
looked up in an index. Each is compared here with the straightforward construction it replaces
(``deliveries.delivery``, kept as the reference and the fallback), over stories that reach every
kind of decision: consent, law (the BL profile), withheld fields, no basis, refusals, alerts.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.codec import to_kafka
from schemas.events import (
    AssessmentCompleted,
    BenefitGranted,
    CaseOpened,
    ConsentGranted,
    MeasureEnded,
    MeasureStarted,
    ParticipantJoined,
    ReferralRequested,
)
from schemas.registry import load_institutions
from schemas.topics import CASE_EVENTS
from schemas.vocabulary import (
    BenefitKind,
    DataCategory,
    InstitutionKind,
    MeasureKind,
    MeasureResult,
    ParticipantRole,
    Potential,
    ReferralPurpose,
)
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.policy import LegalBasisMatrix, World
from services.coordination.domain.rules import RuleSettings
from services.coordination.legal_basis import BL_PROFILE, load_legal_basis
from services.coordination.worker.batch import (
    BatchContext,
    FoldedBatch,
    FoldedEvent,
    batch_effects,
    decode,
    first_positions,
    fold_batch,
    outbox_records,
    timeline_row,
)
from services.coordination.worker.batch_audit import category_codes
from services.coordination.worker.deliveries import (
    EventDeliveries,
    OutboxRecord,
    alert_delivery,
    delivery,
    refusal_delivery,
)
from services.coordination.worker.effects import BusRecord
from tests.case_story import CaseStory

REGISTRY = load_institutions()
RULES = RuleSettings()
AT = dt.datetime(2026, 3, 20, 12, 0, tzinfo=dt.UTC)
MATRICES = {"empty": LegalBasisMatrix(), "bl": load_legal_basis(BL_PROFILE)}


def context(matrix: LegalBasisMatrix) -> BatchContext:
    world = World({i.id: i.kind for i in REGISTRY.institutions}, (), matrix, RULES.grace)
    return BatchContext(world, RULES, lanes=6, max_event_bytes=256 * 1024)


def story(seed: int) -> CaseStory:
    """A case in one of three shapes: wide consent, narrow consent, or none (law only)."""
    s = CaseStory(person_seed=5000 + seed)
    sh = "sozialhilfe-2829"
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    if seed % 3 == 0:
        s.rav(
            ConsentGranted,
            institutions=["rav", "iv", sh, "assessmentcenter"],
            categories=[
                DataCategory.CASE_ADMIN,
                DataCategory.EMPLOYMENT,
                DataCategory.BENEFITS,
                DataCategory.HEALTH,
            ],
            valid_from=dt.date(2026, 1, 1),
            document_ref=f"B-{seed}",
        )
    elif seed % 3 == 1:
        s.rav(
            ConsentGranted,
            institutions=["rav", "iv"],
            categories=[DataCategory.CASE_ADMIN, DataCategory.EMPLOYMENT],
            valid_from=dt.date(2026, 1, 1),
            document_ref=f"N-{seed}",
        )
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    s.rav(BenefitGranted, kind=BenefitKind.ALV_DAILY_ALLOWANCE, start=dt.date(2026, 3, 1))
    coaching = s.rav(MeasureStarted, kind=MeasureKind.COACHING)
    s.rav(ReferralRequested, to_institution=sh, purpose=ReferralPurpose.POTENTIAL_ASSESSMENT)
    s.iv(
        AssessmentCompleted,
        potential=Potential.MEDIUM,
        health_limitations="Keine schweren Lasten",
        datacategory=DataCategory.EMPLOYMENT,
    )
    s.rav(
        MeasureEnded,
        measure_id=coaching.data.measure_id,
        kind=MeasureKind.COACHING,
        result=MeasureResult.COMPLETED,
        cost_chf="800.00",
    )
    # The Assessmentcenter takes no part: its referral is refused, and answered to it.
    s.by(
        "assessmentcenter",
        ReferralRequested,
        to_institution="iv",
        purpose=ReferralPurpose.POTENTIAL_ASSESSMENT,
    )
    return s


def folded_batch(matrix: LegalBasisMatrix) -> tuple[FoldedBatch, dict[uuid.UUID, str]]:
    records: list[BusRecord] = []
    for seed in range(9):
        for event in story(seed).events:
            r = to_kafka(event)
            records.append(
                BusRecord(CASE_EVENTS, seed % 3, len(records), r.key, r.value, r.headers)
            )
    decoded, poison = decode(records, context(matrix))
    files = {person: CaseFile(pseudonym=person) for person in first_positions(decoded)}
    batch = fold_batch(decoded, poison, files, set(), context(matrix))
    numbers = {c.case_key: f"IIZ-2026-{n:06d}" for n, c in enumerate(batch.cases(), start=1)}
    return batch, numbers


def reference_outbox(
    batch: FoldedBatch, numbers: dict[uuid.UUID, str], lanes: int
) -> list[OutboxRecord]:
    """``outbox_records`` as it was written first: a ``CloudEvent`` and ``to_kafka`` each."""
    records: list[OutboxRecord] = []
    for folded in batch.events:
        event, applied = folded.event, folded.applied
        person = str(event.subject)
        number = numbers.get(applied.case_key) if applied.case_key else None
        case_refs = batch.files[person].case_refs
        records.extend(
            delivery(
                event,
                d,
                pseudonym=person,
                case_number=number,
                recipient_case_ref=case_refs.get(d.recipient),
                lanes=lanes,
            )
            for d in applied.decisions
            if d.allowed and d.recipient != applied.facts.origin
        )
        records.extend(
            alert_delivery(
                intent,
                pseudonym=person,
                case_number=number,
                recipient_case_ref=case_refs.get(intent.recipient),
                at=event.time,
                lanes=lanes,
            )
            for intent in applied.alerts
        )
    records.extend(
        refusal_delivery(r.event, r.refused, pseudonym=str(r.event.subject), lanes=lanes)
        for r in batch.refused
    )
    return records


def reference_timeline_event(folded: FoldedEvent) -> str:
    stored = folded.event.model_dump(mode="json", exclude_none=True)
    stored["data"]["person"].pop("sealed_ahv", None)
    return json.dumps(stored)


@pytest.mark.parametrize("matrix", MATRICES.values(), ids=MATRICES.keys())
def test_outbox_records_are_the_reference_records_byte_for_byte(matrix: LegalBasisMatrix) -> None:
    batch, numbers = folded_batch(matrix)

    fast = outbox_records(batch, numbers, 6)
    effects = batch_effects(batch, numbers, context(matrix), at=AT)

    expected = reference_outbox(batch, numbers, 6)
    assert fast == expected
    assert effects.outbox == expected
    # The stories reach what the fast path must get right.
    headers = [dict(o.record.headers) for o in expected]
    assert any("ce_consentref" in h for h in headers)
    assert any("ce_recipientcaseref" in h and "ce_iizcase" in h for h in headers)
    assert batch.refused
    assert any(d.withheld for f in batch.events for d in f.applied.decisions if d.allowed)
    if matrix.entries:
        assert any("ce_legalbasis" in h for h in headers)


@pytest.mark.parametrize("matrix", MATRICES.values(), ids=MATRICES.keys())
def test_timeline_rows_from_the_shared_json_are_the_reference_rows(
    matrix: LegalBasisMatrix,
) -> None:
    batch, numbers = folded_batch(matrix)

    effects = batch_effects(batch, numbers, context(matrix), at=AT)

    assert [row.event for row in effects.timeline] == [
        reference_timeline_event(f) for f in batch.events
    ]
    assert effects.timeline == [timeline_row(f) for f in batch.events]
    assert all("sealed_ahv" not in row.event for row in effects.timeline)


def test_the_shared_json_is_not_changed_by_the_timeline_row() -> None:
    batch, _ = folded_batch(LegalBasisMatrix())
    folded = batch.events[0]
    stored = folded.event.model_dump(mode="json", exclude_none=True)
    before = json.dumps(stored)

    timeline_row(folded, stored)

    assert json.dumps(stored) == before
    assert "sealed_ahv" in stored["data"]["person"]


def _an_allowed_delivery() -> tuple[Any, Any, str]:
    batch, _ = folded_batch(LegalBasisMatrix())
    for folded in batch.events:
        for d in folded.applied.decisions:
            if d.allowed and d.recipient != folded.applied.facts.origin:
                return folded.event, d, str(folded.event.subject)
    raise AssertionError("the stories deliver")


@pytest.mark.parametrize(
    ("case_number", "case_ref"),
    [("IIZ-26-1", None), ("IIZ-2026-000001\n", None), (None, "R" * 65)],
    ids=["short-case-number", "case-number-with-newline", "long-case-ref"],
)
def test_what_the_envelope_refuses_is_refused_the_same(
    case_number: str | None, case_ref: str | None
) -> None:
    event, decision, pseudonym = _an_allowed_delivery()
    terms: dict[str, Any] = {"case_number": case_number, "recipient_case_ref": case_ref, "lanes": 6}

    with pytest.raises(ValidationError) as reference:
        delivery(event, decision, pseudonym=pseudonym, **terms)
    with pytest.raises(ValidationError) as fast:
        EventDeliveries(event, pseudonym=pseudonym).record(decision, **terms)

    assert fast.value.errors() == reference.value.errors()


def test_the_edges_the_envelope_allows_are_delivered_the_same() -> None:
    event, decision, pseudonym = _an_allowed_delivery()
    own = EventDeliveries(event, pseudonym=pseudonym)

    for case_number, case_ref in [("IIZ-2026-999999", "R" * 64), (None, ""), (None, "Fall ä/1")]:
        terms: dict[str, Any] = {
            "case_number": case_number,
            "recipient_case_ref": case_ref,
            "lanes": 6,
        }
        assert own.record(decision, **terms) == delivery(
            event, decision, pseudonym=pseudonym, **terms
        )


def test_the_matrix_index_finds_the_first_entry_as_the_scan_did() -> None:
    matrix = load_legal_basis(BL_PROFILE)
    doubled = LegalBasisMatrix("twice", (*matrix.entries, *matrix.entries[::-1]))

    for m in (matrix, doubled, LegalBasisMatrix()):
        for a in InstitutionKind:
            for b in InstitutionKind:
                for c in DataCategory:
                    first = next(
                        (
                            e
                            for e in m.entries
                            if e.from_kind == a and e.to_kind == b and e.category == c
                        ),
                        None,
                    )
                    assert m.entry_for(a, b, c) is first
                    assert m.entry_for(a.value, b.value, c.value) is first  # type: ignore[arg-type]
                    assert m.entries_between(a, b).get(c) is first
    assert doubled == LegalBasisMatrix("twice", doubled.entries)  # the index is no field


def test_a_category_code_is_its_value_as_a_plain_string() -> None:
    """``category_codes`` takes ``str`` of a member for its ``value``: a ``StrEnum`` promise."""
    assert category_codes(DataCategory) == sorted(c.value for c in DataCategory)
    assert all(type(code) is str for code in category_codes(DataCategory))
