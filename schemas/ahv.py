"""The Swiss social security number (AHV-Nummer / AVS) and its keyed pseudonym.

An ``AhvNumber`` never shows its digits in ``str``/``repr``, so it cannot leak into a log line
or an exception text by accident; only ``formatted()`` (for authorised deliveries) shows them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from schemas.errors import InvalidAhvError

AHV_PATTERN = r"^756\.?\d{4}\.?\d{4}\.?\d{2}$"
PSEUDONYM_PATTERN = r"^psn:[a-z0-9]{1,8}:[0-9a-f]{32}$"
# A person's subject on the bus: a random id from the person registry (``prs:``), or, for events
# from before the registry, the keyed pseudonym of the AHV number (``psn:``).
SUBJECT_PATTERN = r"^(?:prs|psn:[a-z0-9]{1,8}):[0-9a-f]{32}$"
_SEPARATORS = re.compile(r"[.\s]")
_AHV_LIKE = re.compile(r"756[.\s-]?\d{4}[.\s-]?\d{4}[.\s-]?\d{2}")
MASK = "756.****.****.**"


def mask_ahv_like(text: str) -> str:
    """Replace anything shaped like an AHV number by the mask (for texts built from input)."""
    return _AHV_LIKE.sub(MASK, text)


def ean13_check_digit(first_twelve: str) -> int:
    """The EAN-13 check digit: weights 1 and 3 alternating from the left."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_twelve))
    return (10 - total % 10) % 10


class AhvNumber:
    """A validated 13-digit AHV number (``756.xxxx.xxxx.xc``)."""

    __slots__ = ("_digits",)

    def __init__(self, value: str) -> None:
        digits = _SEPARATORS.sub("", value.strip()) if isinstance(value, str) else ""
        if not digits.isascii() or not digits.isdigit() or len(digits) != 13:
            raise InvalidAhvError("an AHV number has 13 digits (756.xxxx.xxxx.xx)")
        if not digits.startswith("756"):
            raise InvalidAhvError("an AHV number starts with the country code 756")
        if ean13_check_digit(digits[:12]) != int(digits[12]):
            raise InvalidAhvError("the check digit of the AHV number is wrong")
        self._digits = digits

    @property
    def digits(self) -> str:
        return self._digits

    def formatted(self) -> str:
        """The official dotted form, for deliveries where identity is authorised."""
        d = self._digits
        return f"{d[:3]}.{d[3:7]}.{d[7:11]}.{d[11:]}"

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"AhvNumber('{MASK}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AhvNumber) and hmac.compare_digest(self._digits, other._digits)

    def __hash__(self) -> int:
        return hash(self._digits)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_ahv,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.formatted(), when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, _schema: core_schema.CoreSchema, _handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": AHV_PATTERN,
            "description": "AHV-Nummer (13 digits, 756 prefix, EAN-13 check digit)",
            "examples": ["756.9217.0769.85"],
        }


def _validate_ahv(value: Any) -> AhvNumber:
    if isinstance(value, AhvNumber):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("invalid_ahv", "an AHV number must be a string")
    try:
        return AhvNumber(value)
    except InvalidAhvError as error:
        # The message must not echo the input: it may be a real, if mistyped, AHV number.
        raise PydanticCustomError("invalid_ahv", error.message) from None


def pseudonymise(ahv: AhvNumber, key: bytes, key_id: str) -> str:
    """A stable keyed pseudonym: HMAC-SHA-256 over the digits, tagged with the key version."""
    mac = hmac.new(key, ahv.digits.encode("ascii"), hashlib.sha256).hexdigest()
    return f"psn:{key_id}:{mac[:32]}"


def contains_ahv_number(text: str) -> bool:
    """Whether a valid AHV number (dotted, spaced or plain) hides anywhere in ``text``."""
    start = text.find("756")
    while start != -1:
        match = _AHV_LIKE.match(text, start)
        if match:
            digits = re.sub(r"\D", "", match.group())
            if ean13_check_digit(digits[:12]) == int(digits[12]):
                return True
        start = text.find("756", start + 1)
    return False
