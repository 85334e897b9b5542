"""One JSON line per benchmark figure, beside the Markdown rows: the figure, its floor, the ratio.

``{"figure": ..., "value": ..., "unit": ..., "floor": ..., "ratio": ..., "events": ...}``:
``ratio`` is value / floor, both of the same run; ``floor`` and ``ratio`` are null where no floor
applies (memory, the committee figures) or none was measured. ``events`` (omitted where it does
not apply) is how many events the figure and its floor were measured with — always the same.
"""

from __future__ import annotations

import json


def ratio_of(value: float, floor: float | None) -> float | None:
    """value / floor, or None without a (positive) floor."""
    if floor is None or floor <= 0:
        return None
    return round(value / floor, 4)


def figure_line(
    figure: str,
    value: float,
    unit: str,
    floor: float | None = None,
    *,
    events: int | None = None,
) -> str:
    """The JSON line of one figure (values rounded to 0.01, the ratio to 4 decimals)."""
    line: dict[str, object] = {
        "figure": figure,
        "value": round(value, 2),
        "unit": unit,
        "floor": None if floor is None else round(floor, 2),
        "ratio": ratio_of(value, floor),
    }
    if events is not None:
        line["events"] = events
    return json.dumps(line, ensure_ascii=False)
