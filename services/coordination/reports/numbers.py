"""How the report prints a published value (Swiss German): every number in the PDF's tables is
one of these applied to a published cell, so a reader (and the tests) can trace it back."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

DASH = "\u2013"  # a blank cell: not published, or no data
THOUSANDS = "\u2019"  # the Swiss apostrophe
Kind = Literal["count", "percent", "days", "mean", "chf"]
KINDS: tuple[Kind, ...] = ("count", "percent", "days", "mean", "chf")


def grouped(whole: int) -> str:
    """``1234567`` with the Swiss apostrophe between thousands."""
    return f"{whole:,}".replace(",", THOUSANDS)


def formatted(value: int | float | Decimal | None, kind: Kind) -> str:
    """A published cell as printed; None (blank) as a dash."""
    if value is None:
        return DASH
    if kind == "count":
        return grouped(int(value))
    if kind == "percent":
        return f"{float(value) * 100:.1f} %".replace(".", ",")
    if kind == "days":
        return f"{float(value):.1f}".replace(".", ",")
    if kind == "mean":
        return f"{float(value):.2f}".replace(".", ",")
    amount = Decimal(value)
    francs = int(amount)
    if amount == francs:
        return grouped(francs)
    return f"{grouped(francs)},{abs(amount - francs) * 100:02.0f}"


def tick(label: str) -> str:
    """A chart's axis label with the thousands grouped (``1000000`` with Swiss apostrophes)."""
    return grouped(int(label)) if label.isdigit() else label
