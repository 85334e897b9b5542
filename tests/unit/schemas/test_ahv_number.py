"""AhvNumber: validation (EAN-13), masking, and the keyed pseudonym."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.ahv import PSEUDONYM_PATTERN, AhvNumber, ean13_check_digit, pseudonymise
from schemas.errors import ContractError, InvalidAhvError, ReasonCode
from tests.ahv_scan import find_valid_ahv_numbers
from tests.factories import OFFICIAL_SAMPLE_AHV, ahv_from_nine_digits, valid_ahv

OFFICIAL_DIGITS = "7569217076985"
KEY = b"k" * 32


@pytest.mark.parametrize(
    "text",
    [
        OFFICIAL_SAMPLE_AHV,
        OFFICIAL_DIGITS,
        " 756.9217.0769.85 ",
        "756 9217 0769 85",
    ],
)
def test_the_official_sample_number_is_valid_with_or_without_separators(text: str) -> None:
    ahv = AhvNumber(text)

    assert ahv.digits == OFFICIAL_DIGITS
    assert ahv.formatted() == OFFICIAL_SAMPLE_AHV


def test_equal_numbers_compare_and_hash_equal_whatever_their_formatting() -> None:
    dotted, plain = AhvNumber(OFFICIAL_SAMPLE_AHV), AhvNumber(OFFICIAL_DIGITS)

    assert dotted == plain
    assert hash(dotted) == hash(plain)
    assert dotted != AhvNumber(valid_ahv(1))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("756.9217.0769.84", "wrong check digit"),
        ("756.9217.0769.86", "wrong check digit"),
        ("757.9217.0769.84", "country prefix 757, check digit right for it"),
        ("123.4567.8901.28", "prefix 123"),
        ("756.9217.0769.8", "12 digits"),
        ("756.9217.0769.855", "14 digits"),
        ("", "empty"),
        ("756.92A7.0769.85", "letter"),
        ("756.9217.0769.8X", "letter as check digit"),
        ("756.\u0669217.0769.85", "arabic-indic digit nine"),
        ("\uff17\uff15\uff16.9217.0769.85", "fullwidth digits 756"),
        ("756-9217-0769-85", "dashes are no separators"),
    ],
)
def test_malformed_numbers_are_rejected_with_reason_invalid_ahv(text: str, why: str) -> None:
    with pytest.raises(InvalidAhvError) as caught:
        AhvNumber(text)

    assert caught.value.reason is ReasonCode.INVALID_AHV, why
    assert isinstance(caught.value, ContractError)


def test_a_prefix_other_than_756_is_rejected_even_with_a_correct_check_digit() -> None:
    first_twelve = "757921707698"
    text = f"{first_twelve}{ean13_check_digit(first_twelve)}"

    with pytest.raises(InvalidAhvError, match="756"):
        AhvNumber(text)


@pytest.mark.parametrize("value", [7569217076985, None, b"7569217076985"])
def test_non_string_input_is_rejected(value: object) -> None:
    with pytest.raises(InvalidAhvError):
        AhvNumber(value)  # type: ignore[arg-type]


def test_str_and_repr_are_masked() -> None:
    ahv = AhvNumber(OFFICIAL_SAMPLE_AHV)

    for shown in (str(ahv), repr(ahv), f"{ahv}", f"{ahv!r}", str([ahv]), str({"a": ahv})):
        assert "9217" not in shown
        assert "0769" not in shown
        assert find_valid_ahv_numbers(shown) == []
    assert str(ahv) == "756.****.****.**"


@pytest.mark.parametrize(
    "text", ["756.9217.0769.84", "756.9217.0769.855", "756.92A7.0769.85", "7569217076984"]
)
def test_error_messages_never_contain_the_digits(text: str) -> None:
    with pytest.raises(InvalidAhvError) as caught:
        AhvNumber(text)

    for shown in (str(caught.value), repr(caught.value), caught.value.message):
        assert "9217" not in shown
        assert "0769" not in shown


def test_the_pseudonym_is_stable_for_the_same_number_and_key() -> None:
    first = pseudonymise(AhvNumber(OFFICIAL_SAMPLE_AHV), KEY, "v1")
    again = pseudonymise(AhvNumber(OFFICIAL_DIGITS), KEY, "v1")

    assert first == again
    assert re.fullmatch(PSEUDONYM_PATTERN, first)
    assert first.startswith("psn:v1:")


def test_the_pseudonym_differs_for_another_key_key_id_or_person() -> None:
    ahv = AhvNumber(OFFICIAL_SAMPLE_AHV)
    base = pseudonymise(ahv, KEY, "v1")

    assert pseudonymise(ahv, b"x" * 32, "v1") != base
    assert pseudonymise(ahv, KEY, "v2") != base
    assert pseudonymise(AhvNumber(valid_ahv(7)), KEY, "v1") != base


def test_the_pseudonym_does_not_contain_the_number() -> None:
    pseudonym = pseudonymise(AhvNumber(OFFICIAL_SAMPLE_AHV), KEY, "v1")

    assert OFFICIAL_DIGITS not in pseudonym
    assert find_valid_ahv_numbers(pseudonym) == []


@pytest.mark.parametrize("seed", [0, 1, 2, 999_999_999, 123_456_789])
def test_the_factory_makes_valid_numbers(seed: int) -> None:
    assert AhvNumber(valid_ahv(seed)).formatted() == valid_ahv(seed)


nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)


@given(nine=nine_digits)
def test_756_plus_any_nine_digits_plus_the_check_digit_is_valid(nine: str) -> None:
    digits = ahv_from_nine_digits(nine)

    assert AhvNumber(digits).digits == digits


@given(nine=nine_digits, position=st.integers(0, 12), delta=st.integers(1, 9))
def test_changing_any_single_digit_makes_the_number_invalid(
    nine: str, position: int, delta: int
) -> None:
    digits = ahv_from_nine_digits(nine)
    changed = str((int(digits[position]) + delta) % 10)
    corrupted = digits[:position] + changed + digits[position + 1 :]

    with pytest.raises(InvalidAhvError):
        AhvNumber(corrupted)
