"""The German words of the pages: labels, readable values, institution names, the header."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from types import SimpleNamespace

import pytest

from schemas.events.catalogue import DATA_CLASS_BY_TYPE
from schemas.registry.institutions import load_institutions
from schemas.vocabulary import (
    AppointmentKind,
    BenefitKind,
    DataCategory,
    DeclineReason,
    MeasureKind,
    ReferralPurpose,
)
from services.coordination.pages import wording
from services.coordination.pages.wording import (
    InstitutionNames,
    detail_value,
    details,
    field_label,
    moment,
    purpose_label,
    signed_in,
    size,
)
from services.coordination.reading.caller import Caller, Role

NAMES = InstitutionNames.of(load_institutions().institutions)


@pytest.mark.parametrize(
    ("words", "codes"),
    [
        (wording.PURPOSES, ReferralPurpose),
        (wording.DECLINE_REASONS, DeclineReason),
        (wording.CATEGORIES, DataCategory),
        (wording.MEASURE_KINDS, MeasureKind),
        (wording.BENEFIT_KINDS, BenefitKind),
        (wording.APPOINTMENT_KINDS, AppointmentKind),
        (wording.CALLER_ROLES, Role),
    ],
)
def test_every_code_of_the_contract_has_a_german_word(
    words: dict[str, str], codes: type[StrEnum]
) -> None:
    assert set(words) == {c.value for c in codes}


def test_purposes_have_one_label() -> None:
    assert purpose_label("zif-first-interview") == "Erstgespräch ZIF"
    assert purpose_label("something-new") == "something-new"
    assert purpose_label(None) == wording.DASH


def test_field_labels_fall_back_to_the_field_name() -> None:
    assert field_label("valid_from") == "Gültig ab"
    assert field_label("person.case_ref") == "Fallnummer der Institution"
    assert field_label("barriers[health]") == "Hindernisse (Gesundheit)"
    assert field_label("brand_new_field") == "brand_new_field"


def test_values_are_readable() -> None:
    assert detail_value("consent.granted", "valid_until", "2027-12-06") == "06.12.2027"
    assert detail_value("document.shared", "size_bytes", 2101) == "2.1 kB"
    assert detail_value("x", "flag", True) == "Ja"
    assert detail_value("x", "flag", False) == "Nein"
    assert detail_value("measure.ended", "kind", "language-course") == "Sprachkurs"
    assert detail_value("measure.ended", "result", "aborted") == "abgebrochen"
    assert detail_value("referral.completed", "result", "Deutschkurs B1") == "Deutschkurs B1"
    assert detail_value("referral.declined", "reason", "no-capacity") == "Keine Kapazität"
    assert detail_value("benefit.ended", "reason", "exhausted") == "Aussteuerung"
    assert detail_value("case.opened", "reason", "free text") == "free text"
    assert detail_value("x", "held_by", "sozialhilfe-2829", NAMES) == "Sozialdienst Liestal"
    assert detail_value("x", "institutions", ["zif", "unknown-1"], NAMES) == "ZIF, unknown-1"
    assert detail_value("x", "categories", ["case-admin", "identity"]) == "Fallführung, Identität"


def test_sizes_and_moments() -> None:
    assert size(512) == "512 Bytes"
    assert size(2000) == "2 kB"
    assert size(1_500_000) == "1.5 MB"
    assert moment("2026-12-06") == "06.12.2026"
    assert moment("2026-12-06T09:30:00Z") == "06.12.2026 10:30"  # Swiss time
    assert moment(dt.date(2026, 1, 2)) == "02.01.2026"
    assert moment("Titel 2026") == "Titel 2026"


def test_details_skip_identifiers_and_hidden_blocks() -> None:
    data = {"referral_id": "r1", "person": {"case_ref": "X"}, "purpose": "job-placement"}
    assert details("referral.requested", data, skip={"person"}) == [
        ("Zweck", "Vermittlung durch das RAV")
    ]


def test_institutions_have_names_and_short_names() -> None:
    assert NAMES.get("zif") == "Fachbereich Integration / Zentrum Integrationsförderung (ZIF)"
    assert NAMES.short("zif") == "ZIF"
    assert NAMES.short("sozialhilfe-2829") == "Sozialdienst Liestal"  # no short name: the name
    assert NAMES.short("not-registered") == "not-registered"
    assert NAMES.shorts(["rav", "iv"]) == "RAV, IV-Stelle"


def test_the_header_names_person_institution_and_role_in_german() -> None:
    caller = Caller("ec27c0be-247d", "zif", Role.COORDINATOR, display_name="koordination-zif")
    shown = signed_in(caller, NAMES)
    assert (shown.person, shown.institution, shown.role) == (
        "koordination-zif",
        "ZIF",
        "Koordination",
    )
    assert shown.institution_name.startswith("Fachbereich Integration")
    without = signed_in(Caller("anna", "rav", Role.CASEWORKER), NAMES)
    assert (without.person, without.institution, without.role) == ("anna", "RAV", "Fallführung")


def test_the_display_name_is_no_part_of_the_callers_identity() -> None:
    named = Caller("sub-1", "iv", Role.AUDITOR, display_name="datenschutz")
    assert named == Caller("sub-1", "iv", Role.AUDITOR)
    assert named.actor == "iv/auditor/sub-1"  # the audit names the stable sub
    assert SimpleNamespace(role=Role.COMMITTEE).role.value in wording.CALLER_ROLES


def test_every_event_type_of_the_contract_has_a_german_label() -> None:
    unlabelled = [t for t in DATA_CLASS_BY_TYPE if wording.event_label(t) == wording.event_name(t)]

    assert unlabelled == []
