"""Notices after an exchange without consent (AVG Art. 35a Abs. 1ter), computed without a
database: derived from the decisions with ids that do not change, sent by the disclosing
institution, and the German letter that says what was exchanged, with whom, when and why."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from schemas.events import CaseOpened, ConsentGranted, MeasureStarted, ParticipantJoined
from schemas.registry import load_institutions
from schemas.vocabulary import DataCategory, MeasureKind, ParticipantRole
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.notices import notice_id, notices_of
from services.coordination.domain.policy import (
    Basis,
    BasisKind,
    Decision,
    LegalBasisMatrix,
    World,
)
from services.coordination.domain.rules import RuleSettings
from services.coordination.legal_basis import BL_PROFILE, load_legal_basis
from services.coordination.pages.notice_letter import filename, letter_context
from services.coordination.reading.notices import NoticeView
from services.coordination.worker.batch import (
    BatchContext,
    batch_effects,
    decode,
    first_positions,
    fold_batch,
)
from services.coordination.worker.effects import BatchEffects, BusRecord
from tests.case_story import CaseStory
from tests.unit.coordination.test_batch_effects import records

REGISTRY = load_institutions()
PROFILE = load_legal_basis(BL_PROFILE)
AVG = "AVG Art. 35a Abs. 1bis/1ter; AVIG Art. 85f Abs. 3"
EVENT = uuid.UUID("0b5e1c9e-6a43-4c55-9c1f-3e0f7d2a8b10")
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
RULES = RuleSettings()


def law_decision(recipient: str = "iv", *, inform: bool = True) -> Decision:
    return Decision(
        recipient=recipient,
        allowed=True,
        basis=Basis(
            BasisKind.LAW,
            articles=(AVG,),
            legal_basis_version="v",
            inform_person=inform,
            informed_categories=frozenset({DataCategory.EMPLOYMENT} if inform else ()),
        ),
        categories=frozenset({DataCategory.EMPLOYMENT}),
    )


def test_a_notice_names_only_what_the_law_carried_not_what_a_consent_covered() -> None:
    by_consent_and_law = Decision(
        "iv",
        allowed=True,
        basis=Basis(
            BasisKind.CONSENT_AND_LAW,
            consent_ids=(uuid.uuid4(),),
            articles=(AVG,),
            legal_basis_version="v",
            inform_person=True,
            informed_categories=frozenset({DataCategory.BENEFITS, DataCategory.EMPLOYMENT}),
        ),
        categories=frozenset(
            {DataCategory.BENEFITS, DataCategory.EMPLOYMENT, DataCategory.IDENTITY}
        ),
    )

    [notice] = notices_of(
        event_id=EVENT,
        origin="rav",
        pseudonym="prs:0123456789abcdef0123456789abcdef",
        case_key=None,
        event_type="ch.bl.iiz.measure.ended.v1",
        time=NOON,
        decisions=[by_consent_and_law],
    )

    assert notice.categories == ("benefits", "employment")  # identity went on the consent


def test_a_notice_id_depends_on_event_and_recipient_only() -> None:
    first = notice_id(EVENT, "iv")

    assert first == notice_id(EVENT, "iv")
    assert first.version == 5
    assert first != notice_id(EVENT, "rav")
    assert first != notice_id(uuid.uuid4(), "iv")


def test_only_deliveries_by_law_with_a_duty_to_inform_give_a_notice_from_the_origin() -> None:
    decisions = [
        law_decision("iv"),
        law_decision("zif", inform=False),  # a law without the duty
        Decision("sozialhilfe-2829", allowed=True, basis=Basis(BasisKind.CONSENT)),
        Decision("ksa", allowed=False),
        Decision("rav", allowed=True, basis=Basis(BasisKind.ORIGIN)),
    ]

    [notice] = notices_of(
        event_id=EVENT,
        origin="rav",
        pseudonym="psn:k1:abc",
        case_key=None,
        event_type="ch.bl.iiz.measure.started.v1",
        time=NOON,
        decisions=decisions,
    )

    assert (notice.sender, notice.recipient) == ("rav", "iv")
    assert notice.notice_id == notice_id(EVENT, "iv")
    assert notice.categories == ("employment",)
    assert notice.articles == (AVG,)
    assert notice.exchanged_at == NOON


def compute(matrix: LegalBasisMatrix, batch: list[BusRecord]) -> BatchEffects:
    world = World({i.id: i.kind for i in REGISTRY.institutions}, (), matrix, RULES.grace)
    context = BatchContext(world, RULES, lanes=6, max_event_bytes=256 * 1024)
    decoded, poison = decode(batch, context)
    files = {person: CaseFile(pseudonym=person) for person in first_positions(decoded)}
    folded = fold_batch(decoded, poison, files, set(), context)
    numbers = {c.case_key: f"IIZ-2026-{n:06d}" for n, c in enumerate(folded.cases(), start=1)}
    return batch_effects(folded, numbers, context, at=NOON)


def rav_shares_with_iv() -> CaseStory:
    s = CaseStory(person_seed=4717)
    s.rav(CaseOpened, project_code="IIZ-FALLKOORD")
    s.rav(
        ConsentGranted,  # case administration only: the measure goes by law
        institutions=["rav", "iv"],
        categories=[DataCategory.CASE_ADMIN],
        valid_from=dt.date(2026, 1, 1),
        document_ref="EINWILLIGUNG-4717",
    )
    s.rav(ParticipantJoined, institution="iv", role=ParticipantRole.PARTICIPANT)
    s.rav(MeasureStarted, kind=MeasureKind.COACHING, title="Bewerbungscoaching")
    return s


def test_under_the_profile_a_batch_derives_the_same_notice_every_time() -> None:
    s = rav_shares_with_iv()

    live = compute(PROFILE, records(s.events))
    replayed = compute(PROFILE, records(s.events))
    without_profile = compute(LegalBasisMatrix(), records(s.events))

    [row] = live.notices
    measure = s.events[-1]
    assert row == replayed.notices[0]
    assert row[:4] == (notice_id(measure.id, "iv"), measure.id, "iv", "rav")
    assert row[6:] == (measure.type, ["employment"], [AVG], PROFILE.version, measure.time)
    assert without_profile.notices == []


def test_a_corrected_profile_cites_other_articles_and_wording_under_the_same_notice_id() -> None:
    s = rav_shares_with_iv()
    corrected = dataclasses.replace(
        PROFILE,
        version=PROFILE.version + "-korrigiert",
        entries=tuple(
            dataclasses.replace(
                e,
                article=e.article.replace("AVIG Art. 85f Abs. 3", "AVIG Art. 85f Abs. 1"),
                text=(e.text or "") + " (berichtigt)",
            )
            for e in PROFILE.entries
        ),
    )

    [before] = compute(PROFILE, records(s.events)).notices
    [after] = compute(corrected, records(s.events)).notices

    assert after[0] == before[0] == notice_id(s.events[-1].id, "iv")
    assert before[8] == [AVG]
    assert after[8] == ["AVG Art. 35a Abs. 1bis/1ter; AVIG Art. 85f Abs. 1"]  # cited as data
    assert after[9] == corrected.version
    entry = corrected.text_of(after[8][0])
    assert entry is not None
    assert entry.text.endswith("(berichtigt)")  # the new wording goes into the letter


def notice(**changes: object) -> NoticeView:
    values: dict[str, object] = {
        "notice_id": notice_id(EVENT, "iv"),
        "event_id": EVENT,
        "sender": "rav",
        "recipient": "iv",
        "case_number": "IIZ-2026-000042",
        "case_ref": "RAV-4711",
        "event_type": "ch.bl.iiz.measure.started.v1",
        "categories": ["employment", "case-admin"],
        "articles": [AVG],
        "legal_basis_version": PROFILE.version,
        "exchanged_at": NOON,
        "sent_at": None,
        "sent_by": None,
    }
    return NoticeView.model_validate({**values, **changes})


def test_the_letter_says_who_gave_what_to_whom_when_and_on_which_wording() -> None:
    context = letter_context(notice(), REGISTRY, PROFILE, dt.date(2026, 3, 12))

    assert context["sender_name"] == REGISTRY.by_id["rav"].name
    assert context["recipient_name"] == REGISTRY.by_id["iv"].name
    assert context["categories"] == ["Arbeitsmarkt", "Fallführung"]
    assert context["content"] == "Massnahme begonnen"
    assert (context["reference_kind"], context["reference"]) == ("Unsere Fallnummer", "RAV-4711")
    [article] = context["articles"]
    assert article.article == AVG
    assert "anschliessend über den erfolgten Datenaustausch" in (article.text or "")
    assert context["draft"] == "draft-for-legal-review"
    assert context["contact"] == REGISTRY.by_id["rav"].coordinator_email


def test_without_the_own_reference_the_case_number_and_without_the_version_no_wording() -> None:
    context = letter_context(
        notice(case_ref=None, legal_basis_version="older"), REGISTRY, PROFILE, NOON.date()
    )

    assert (context["reference_kind"], context["reference"]) == (
        "IIZ-Fallnummer",
        "IIZ-2026-000042",
    )
    assert context["articles"][0].text is None  # the wording of another version is not guessed
    assert filename(notice()) == f"Mitteilung-2026-03-10-{str(notice().notice_id)[:8]}.pdf"
