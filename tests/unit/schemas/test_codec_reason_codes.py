"""Every way a record can break the contract maps to its stable reason code."""

from __future__ import annotations

import pytest

from schemas.codec import from_kafka, to_kafka
from schemas.errors import (
    ContractError,
    ReasonCode,
    SourceMismatchError,
    UnknownSourceError,
)
from schemas.events import CaseOpened, MeasureEnded
from schemas.origin import check_origin
from schemas.registry import InstitutionRegistry, load_institutions
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import sample_event
from tests.unit.schemas.codec_cases import (
    AHV_DIGIT_GROUPS,
    BAD_INPUTS,
    BadInput,
    decode,
    good_record,
)

ORIGIN_REASONS = {ReasonCode.UNKNOWN_SOURCE, ReasonCode.SOURCE_MISMATCH}
EDGE_REASONS = {ReasonCode.PROCESSING_FAILED}  # the consumer edge's answer, not the codec's


@pytest.fixture(scope="module")
def registry() -> InstitutionRegistry:
    return load_institutions()


def test_the_unbroken_record_decodes_so_each_case_breaks_only_one_thing() -> None:
    record = good_record()

    event = from_kafka(record.key, record.value, record.headers)

    assert isinstance(event.data, MeasureEnded)
    assert event.data.person.ahv_number is not None


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.name)
def test_a_bad_record_is_refused_with_its_reason_code(case: BadInput) -> None:
    error = decode(case)

    assert error.reason is case.reason
    assert type(error).reason is case.reason
    if case.message_mentions is not None:
        assert case.message_mentions in error.message


def test_every_codec_level_reason_code_has_a_bad_input() -> None:
    covered = {case.reason for case in BAD_INPUTS}

    assert covered == set(ReasonCode) - ORIGIN_REASONS - EDGE_REASONS


@pytest.mark.parametrize("case", BAD_INPUTS, ids=lambda c: c.name)
def test_no_contract_error_message_contains_the_ahv_digits_of_the_input(case: BadInput) -> None:
    error = decode(case)

    for shown in (str(error), repr(error), error.message, str(error.args)):
        assert find_valid_ahv_numbers(shown) == []
        for group in AHV_DIGIT_GROUPS:
            assert group not in shown


def test_an_event_from_a_registered_institution_passes_the_origin_check(
    registry: InstitutionRegistry,
) -> None:
    event = sample_event(CaseOpened, source="/iiz/bl/sozialhilfe/2829")

    institution = check_origin(event, registry, expected_institution_id="sozialhilfe-2829")

    assert institution.id == "sozialhilfe-2829"
    assert institution.bfs_number == 2829


def test_without_an_expected_sender_only_the_registration_is_checked(
    registry: InstitutionRegistry,
) -> None:
    event = sample_event(CaseOpened, source="/iiz/bl/iv")

    assert check_origin(event, registry, expected_institution_id=None).id == "iv"


@pytest.mark.parametrize(
    "source", ["/iiz/bl/suva", "/iiz/bl/sozialhilfe/2701", "/iiz/bl/sozialhilfe"]
)
def test_a_source_that_is_no_registered_institution_is_unknown_source(
    registry: InstitutionRegistry, source: str
) -> None:
    event = sample_event(CaseOpened, source=source)

    with pytest.raises(UnknownSourceError) as caught:
        check_origin(event, registry, expected_institution_id=None)

    assert caught.value.reason is ReasonCode.UNKNOWN_SOURCE
    assert source in caught.value.message


def test_a_registered_source_sent_by_another_institution_is_source_mismatch(
    registry: InstitutionRegistry,
) -> None:
    # The RAV writes to its own intake topic but claims to be the social service of Liestal.
    event = sample_event(CaseOpened, source="/iiz/bl/sozialhilfe/2829")

    with pytest.raises(SourceMismatchError) as caught:
        check_origin(event, registry, expected_institution_id="rav")

    assert caught.value.reason is ReasonCode.SOURCE_MISMATCH
    assert "sozialhilfe-2829" in caught.value.message
    assert "rav" in caught.value.message


def test_origin_errors_carry_no_ahv_digits(registry: InstitutionRegistry) -> None:
    event = sample_event(CaseOpened, source="/iiz/bl/sozialhilfe/2829")
    record = to_kafka(event)
    decoded = from_kafka(record.key, record.value, record.headers)
    errors: list[ContractError] = []
    for expected in ("rav", "iv"):
        try:
            check_origin(decoded, registry, expected_institution_id=expected)
        except ContractError as error:
            errors.append(error)

    assert len(errors) == 2
    for error in errors:
        assert find_valid_ahv_numbers(repr(error)) == []
