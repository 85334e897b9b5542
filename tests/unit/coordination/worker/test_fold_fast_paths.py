"""The second round of cheaper equivalents in fold and effects gives what the plain code gave.

Each fast path is compared with the straightforward construction it replaced, kept here as the
reference: the delivery id (``uuid5``), ``without_fields`` (memoised plan), the decision rows
and audit texts (``str`` of a ``StrEnum`` instead of ``value``, memoised category codes), the
basis of a decision (one pass over its grounds), ``World`` built directly instead of
``dataclasses.replace``, ``facts_of`` with a known origin and ``CaseFile.open_case`` as a loop.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.vocabulary import DataCategory, InstitutionKind
from services.coordination.domain import policy
from services.coordination.domain.case_file import CaseFile
from services.coordination.domain.case_parts import Case
from services.coordination.domain.fields import value_path, without_fields
from services.coordination.domain.folding import facts_of, origin_of
from services.coordination.domain.policy import (
    Basis,
    BasisKind,
    ConsentRecord,
    Decision,
    DenialReason,
    LegalBasisEntry,
    LegalBasisMatrix,
    World,
)
from services.coordination.worker import batch_audit
from services.coordination.worker.batch import decision_row
from services.coordination.worker.deliveries import (
    DELIVERY_NAMESPACE,
    delivery_id,
    fast_delivery_id,
)
from tests.unit.coordination.worker.test_effects_fast_paths import MATRICES, folded_batch

# --- the references: the code as it was -----------------------------------------------------


def reference_without_fields(data: dict[str, Any], paths: frozenset[str] | set[str]) -> Any:
    if not paths:
        return data
    result = dict(data)
    nested: dict[str, set[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        name, value = value_path(head)
        if rest:
            nested.setdefault(head, set()).add(rest)
        elif value is None:
            result.pop(name, None)
        elif isinstance(result.get(name), list):
            result[name] = [v for v in result[name] if v != value]
    for head, rests in nested.items():
        if isinstance(result.get(head), dict):
            result[head] = reference_without_fields(result[head], rests)
    return result


def reference_decision_row(event_id: uuid.UUID, d: Decision) -> tuple[Any, ...]:
    basis = d.basis
    return (
        event_id,
        d.recipient,
        d.allowed,
        basis.kind.value if basis else None,
        list(basis.consent_ids) if basis else [],
        list(basis.articles) if basis else [],
        basis.legal_basis_version if basis else None,
        sorted(c.value for c in d.categories),
        sorted(d.withheld),
        reference_denial_text(d),
        bool(basis and basis.inform_person),
    )


def reference_basis_text(decision: Decision) -> str:
    basis = decision.basis
    if basis is None:
        return ""
    return " ".join([basis.kind.value, *(str(c) for c in basis.consent_ids), *basis.articles])


def reference_denial_text(decision: Decision) -> str | None:
    if decision.reason is None:
        return None
    if decision.missing:
        codes = sorted(c.value for c in decision.missing)
        return f"{decision.reason.value}:{','.join(codes)}"
    return decision.reason.value


def reference_basis(by_category: dict[DataCategory, policy.Ground], version: str) -> Basis:
    grounds = list(by_category.values())
    consent_ids = sorted({g.consent_id for g in grounds if isinstance(g, ConsentRecord)})
    entries = [g for g in grounds if isinstance(g, LegalBasisEntry)]
    articles = sorted({e.article for e in entries})
    if consent_ids and articles:
        kind = BasisKind.CONSENT_AND_LAW
    elif articles:
        kind = BasisKind.LAW
    else:
        kind = BasisKind.CONSENT
    return Basis(
        kind=kind,
        consent_ids=tuple(consent_ids),
        articles=tuple(articles),
        legal_basis_version=version if articles else None,
        inform_person=any(e.inform_person for e in entries),
        informed_categories=frozenset(
            c for c, g in by_category.items() if isinstance(g, LegalBasisEntry) and g.inform_person
        ),
    )


# --- delivery ids -----------------------------------------------------------------------------


@given(st.uuids(), st.text(min_size=0, max_size=50))
@settings(max_examples=300, deadline=None, database=None)
def test_the_fast_delivery_id_is_the_uuid5(event_id: uuid.UUID, recipient: str) -> None:
    fast = fast_delivery_id(str(event_id), recipient)
    assert fast == delivery_id(event_id, recipient)
    assert str(fast) == str(uuid.uuid5(DELIVERY_NAMESPACE, f"{event_id}|{recipient}"))
    assert fast.version == 5
    assert fast.variant == uuid.RFC_4122


# --- without_fields ---------------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "person", "barriers"])
VALUES = st.sampled_from(["x", "y", "z"])
JSON_LIKE = st.recursive(
    st.one_of(st.none(), st.integers(), VALUES, st.lists(VALUES, max_size=4)),
    lambda inner: st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)
PATH = st.lists(
    st.one_of(NAMES, st.builds(lambda n, v: f"{n}[{v}]", NAMES, VALUES)), min_size=1, max_size=3
).map(".".join)


@given(st.dictionaries(NAMES, JSON_LIKE, max_size=5), st.sets(PATH, max_size=5))
@settings(max_examples=400, deadline=None, database=None)
def test_without_fields_is_the_reference(data: dict[str, Any], paths: set[str]) -> None:
    expected = reference_without_fields(data, paths)
    before = repr(data)
    for given_paths in (paths, frozenset(paths), frozenset(paths)):  # again: the memoised plan
        result = without_fields(data, given_paths)
        assert result == expected
        assert list(result) == list(expected)  # the same key order
    assert repr(data) == before  # the input is not changed


# --- decision rows and audit texts ------------------------------------------------------------


@pytest.mark.parametrize("matrix", MATRICES.values(), ids=MATRICES.keys())
def test_decision_rows_and_audit_texts_are_the_reference(matrix: LegalBasisMatrix) -> None:
    batch, _ = folded_batch(matrix)
    decisions = [(f.event.id, d) for f in batch.events for d in f.applied.decisions]
    kinds = {(d.allowed, d.basis.kind if d.basis else d.reason) for _, d in decisions}
    assert {(False, DenialReason.NOT_INVOLVED), (True, BasisKind.ORIGIN)} <= kinds
    assert any(allowed and kind is not BasisKind.ORIGIN for allowed, kind in kinds)
    for event_id, d in decisions:
        row = decision_row(event_id, d)
        assert row == reference_decision_row(event_id, d)
        assert [type(v) for v in row] == [type(v) for v in reference_decision_row(event_id, d)]
        assert batch_audit.basis_text(d) == reference_basis_text(d)
        assert batch_audit.denial_text(d) == reference_denial_text(d)


def test_a_missing_category_is_named_as_before() -> None:
    d = Decision(
        "iv",
        False,
        reason=DenialReason.NO_BASIS,
        missing=frozenset({DataCategory.HEALTH, DataCategory.BENEFITS}),
    )
    assert batch_audit.denial_text(d) == reference_denial_text(d) == "no-basis:benefits,health"
    assert type(batch_audit.denial_text(d)) is str


def test_memoised_category_codes_are_a_new_list_each_time() -> None:
    categories = frozenset({DataCategory.EMPLOYMENT, DataCategory.CASE_ADMIN})
    first = batch_audit.category_codes(categories)
    first.append("changed")
    assert batch_audit.category_codes(categories) == sorted(c.value for c in categories)
    assert batch_audit.category_codes(set(categories)) == sorted(c.value for c in categories)
    assert batch_audit.category_codes(frozenset()) == []


# --- the basis of a decision ------------------------------------------------------------------

CONSENTS = [
    ConsentRecord(
        consent_id=uuid.UUID(int=n),
        institutions=frozenset({"rav", "iv"}),
        categories=frozenset(DataCategory),
        valid_from=dt.date(2026, 1, 1),
        valid_until=None,
        granted_at=0,
    )
    for n in (3, 1, 2)
]
ENTRIES = [
    LegalBasisEntry(InstitutionKind.ALV_RAV, InstitutionKind.IV, c, article, inform)
    for c, article, inform in [
        (DataCategory.EMPLOYMENT, "AVIG 97a", False),
        (DataCategory.HEALTH, "IVG 6a", True),
        (DataCategory.BENEFITS, "AVIG 97a", True),
    ]
]


@given(
    st.dictionaries(
        st.sampled_from(list(DataCategory)), st.sampled_from([*CONSENTS, *ENTRIES]), max_size=6
    ),
    st.sampled_from(["bl-1", "empty"]),
)
@settings(max_examples=300, deadline=None, database=None)
def test_the_basis_is_the_reference(
    by_category: dict[DataCategory, policy.Ground], version: str
) -> None:
    assert policy._basis(by_category, version) == reference_basis(by_category, version)


# --- World, facts, the open case --------------------------------------------------------------


def test_world_is_built_with_every_field_as_replace_did() -> None:
    """``apply_event`` builds ``World(kinds, consents, matrix, grace)`` directly: a field added
    to ``World`` must be added there too."""
    assert [f.name for f in dataclasses.fields(World)] == ["kinds", "consents", "matrix", "grace"]
    assert all(f.init for f in dataclasses.fields(World))


@pytest.mark.parametrize("matrix", MATRICES.values(), ids=MATRICES.keys())
def test_facts_with_a_known_origin_are_the_facts(matrix: LegalBasisMatrix) -> None:
    batch, _ = folded_batch(matrix)
    for f in batch.events:
        position = f.record.offset
        assert facts_of(f.event, position, origin_of(f.event)) == facts_of(f.event, position)
        assert f.applied.facts == facts_of(f.event, position)


def test_the_open_case_is_the_last_open_one() -> None:
    def case(open_: bool) -> Case:
        return Case(
            case_key=uuid.uuid4(),
            opened_by="rav",
            opened_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            opened_position=0,
            lead="rav",
            closed_at=None if open_ else dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        )

    for pattern in [(), (False,), (True,), (True, False), (True, True, False), (False, True)]:
        file = CaseFile(pseudonym="p", cases=[case(o) for o in pattern])
        expected = next((c for c in reversed(file.cases) if c.is_open), None)
        assert file.open_case is expected
