"""The legal-basis files: the empty default and the opt-in BL profile load, anything the format
does not know is refused, and under the profile the RAV may pass employment data to the
IV-Stelle without consent — on AVG Art. 35a, with the duty to inform the person."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from schemas.registry import load_institutions
from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain.policy import (
    BasisKind,
    EventFacts,
    InterestPeriod,
    World,
    decide,
)
from services.coordination.legal_basis import BL_PROFILE, DEFAULT_FILE, load_legal_basis
from services.coordination.settings import CoordinationSettings

AVG = "AVG Art. 35a Abs. 1bis/1ter; AVIG Art. 85f Abs. 3"
REGISTRY = load_institutions()
KINDS = {i.id: i.kind for i in REGISTRY.institutions}
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


def written(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def profile_document() -> dict[str, object]:
    loaded = yaml.safe_load(BL_PROFILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_default_is_the_empty_matrix_and_the_profile_is_opt_in() -> None:
    assert (
        CoordinationSettings.model_fields["coordination_legal_basis_file"].default == DEFAULT_FILE
    )
    assert load_legal_basis(DEFAULT_FILE).entries == ()


def test_the_bl_profile_loads_with_its_status_and_every_entry_cites_a_text_and_source() -> None:
    matrix = load_legal_basis(BL_PROFILE)

    assert matrix.status == "draft-for-legal-review"
    assert len(matrix.entries) >= 8
    assert all(e.text and e.source and e.inform_person for e in matrix.entries)
    pairs = {(e.from_kind, e.to_kind) for e in matrix.entries}
    assert (InstitutionKind.ALV_RAV, InstitutionKind.IV) in pairs
    assert (InstitutionKind.IV, InstitutionKind.ALV_RAV) in pairs
    # Health and identity stay with consent; the cantonal bodies send on cantonal law only.
    assert not {DataCategory.HEALTH, DataCategory.IDENTITY} & {e.category for e in matrix.entries}
    assert not {e.from_kind for e in matrix.entries} & {
        InstitutionKind.SOCIAL_SERVICES,
        InstitutionKind.KSA,
        InstitutionKind.ASSESSMENTCENTER,
    }
    # The YAML anchors put the real text in every entry, not a placeholder.
    employment = matrix.entry_for(
        InstitutionKind.ALV_RAV, InstitutionKind.IV, DataCategory.BENEFITS
    )
    assert employment is not None
    assert "gegenseitig von der Schweigepflicht entbunden" in employment.text
    assert "anschliessend über den erfolgten Datenaustausch" in employment.text
    assert "(as above)" not in "".join(e.text + e.source for e in matrix.entries)
    assert matrix.text_of(AVG) == matrix.entries[0]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["entries"][0].update(footnote="x"),  # unknown key in an entry
        lambda d: d.update(reviewed_by="x"),  # unknown key at the top
        lambda d: d["entries"].append(dict(d["entries"][0])),  # the same exchange twice
        lambda d: d["entries"][1].update(text="another wording"),  # one article, two texts
        lambda d: d["entries"][0].update(article="x"),  # an article must be cited
    ],
    ids=["entry-key", "top-key", "duplicate", "two-texts", "short-article"],
)
def test_anything_the_format_does_not_know_stops_the_service(
    tmp_path: Path, change: object
) -> None:
    document = profile_document()
    assert callable(change)
    change(document)

    with pytest.raises(ValidationError):
        load_legal_basis(written(tmp_path, document))


def test_under_the_profile_rav_to_iv_employment_without_consent_is_allowed_by_avg_35a() -> None:
    world = World(KINDS, consents=(), matrix=load_legal_basis(BL_PROFILE), grace=dt.timedelta(0))
    facts = EventFacts(
        position=5, origin="rav", time=NOON, categories=frozenset({DataCategory.EMPLOYMENT})
    )

    outcome = decide(facts, "iv", world, [InterestPeriod("iv", joined_at=0)])

    assert outcome.allowed
    assert outcome.basis is not None
    assert outcome.basis.kind is BasisKind.LAW
    assert outcome.basis.articles == (AVG,)
    assert outcome.basis.inform_person is True
    assert outcome.basis.legal_basis_version == "2026-11-bl-draft-1"


def test_under_the_profile_health_and_other_partners_still_need_a_consent() -> None:
    world = World(KINDS, consents=(), matrix=load_legal_basis(BL_PROFILE), grace=dt.timedelta(0))
    health = EventFacts(5, "rav", NOON, frozenset({DataCategory.HEALTH}))
    to_social = EventFacts(5, "rav", NOON, frozenset({DataCategory.EMPLOYMENT}))

    assert not decide(health, "iv", world, [InterestPeriod("iv", 0)]).allowed
    social = "sozialhilfe-2829"
    assert not decide(to_social, social, world, [InterestPeriod(social, 0)]).allowed
