"""Text that PostgreSQL can store: no U+0000 and no unpaired surrogate (U+D800 to U+DFFF).

PostgreSQL ``text`` and ``jsonb`` cannot hold U+0000, and a Python string may hold a lone
surrogate (from the JSON escape ``"\\ud800"``) that has no UTF-8 form at all. Such text is
refused where it comes in (the contract codec, the timeline API), never half-way through a
database write. Refusals name the place, never the text (it may be personal data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from schemas.ahv import mask_ahv_like

CANNOT_BE_STORED = "contains a character that cannot be stored"
MAX_PLACE_CHARS = 200
SURROGATE = re.compile("[\ud800-\udfff]")  # in a str, every one is unpaired

# A place in a JSON value, built only when something is found: (parent, key or index).
_Place = tuple["_Place | None", str | int]


def unstorable_code_point(text: str) -> str | None:
    """``U+XXXX`` of a character in ``text`` PostgreSQL cannot store, else ``None``."""
    if "\x00" in text:
        return "U+0000"
    if text.isascii():
        return None
    found = SURROGATE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def replace_unstorable(text: str, replacement: str = "\ufffd") -> str:
    """``text`` with every character PostgreSQL cannot store replaced (for showing it back)."""
    if unstorable_code_point(text) is None:
        return text
    return SURROGATE.sub(replacement, text.replace("\x00", replacement))


@dataclass(frozen=True)
class Unstorable:
    """Where unstorable text was found, and which character (its code point, not the text)."""

    place: str
    code_point: str
    in_key: bool

    def describe(self) -> str:
        """``data.reason: contains a character that cannot be stored (U+0000)``."""
        what = f"a key {CANNOT_BE_STORED}" if self.in_key else CANNOT_BE_STORED
        return f"{self.place}: {what} ({self.code_point})"


def find_unstorable(value: Any, root: str) -> Unstorable | None:
    """An unstorable string (a value or an object key) in a parsed JSON value, if any.

    One walk over the value with an explicit stack (no recursion: nesting depth is the
    sender's choice). ``root`` names the value itself, e.g. ``data`` or an attribute name.
    """
    stack: list[tuple[Any, _Place | None]] = [(value, None)]
    while stack:
        item, place = stack.pop()
        if isinstance(item, str):
            code_point = unstorable_code_point(item)
            if code_point is not None:
                return _found(root, place, code_point, in_key=False)
        elif isinstance(item, dict):
            for key, child in item.items():
                code_point = unstorable_code_point(key) if isinstance(key, str) else None
                if code_point is not None:
                    return _found(root, place, code_point, in_key=True)
                stack.append((child, (place, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (place, index)) for index, child in enumerate(item))
    return None


def _found(root: str, place: _Place | None, code_point: str, *, in_key: bool) -> Unstorable:
    parts: list[str] = []
    while place is not None:
        place, key = place
        parts.append(str(key))
    # Keys come from the input: an AHV-shaped key is masked like in every other refusal.
    where = mask_ahv_like(".".join([root, *reversed(parts)]))
    if len(where) > MAX_PLACE_CHARS:
        where = where[: MAX_PLACE_CHARS - 3] + "..."
    return Unstorable(where, code_point, in_key)
