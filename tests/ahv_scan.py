"""Scans text (log output, topic bytes decoded leniently) for valid AHV numbers."""

from __future__ import annotations

import re

from schemas.ahv import ean13_check_digit

AHV_CANDIDATE = re.compile(r"756[.]?\d{4}[.]?\d{4}[.]?\d{2}")


def is_valid_ahv_digits(candidate: str) -> bool:
    digits = candidate.replace(".", "")
    return (
        len(digits) == 13
        and digits.isascii()
        and digits.isdigit()
        and digits.startswith("756")
        and ean13_check_digit(digits[:12]) == int(digits[12])
    )


def find_valid_ahv_numbers(text: str) -> list[str]:
    """Every substring shaped like an AHV number whose EAN-13 check digit is right.

    Overlapping candidates are considered too (``re.finditer`` alone would miss a number that
    starts inside an earlier non-matching candidate).
    """
    found: list[str] = []
    for start in range(len(text)):
        if not text.startswith("756", start):
            continue
        match = AHV_CANDIDATE.match(text, start)
        if match and is_valid_ahv_digits(match.group()):
            found.append(match.group())
    return found


def find_valid_ahv_numbers_in_bytes(data: bytes) -> list[str]:
    """Same, for raw bytes such as a Kafka record (decoded leniently)."""
    return find_valid_ahv_numbers(data.decode("utf-8", errors="replace"))
