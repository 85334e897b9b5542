"""The JSON of ``GET /v1/metrics`` tells what the disclosure control did, in words and numbers,
and never which cell was perturbed."""

from __future__ import annotations

from services.coordination.api.metrics_routes import disclosure, note
from services.coordination.metrics.disclosure import Publication

PUBLICATION = Publication(
    rows=[], cells=1520, perturbed=231, blank=48, threshold=5, max_deviation=2
)


def test_the_disclosure_object_gives_the_method_and_its_numbers() -> None:
    assert disclosure(PUBLICATION) == {
        "method": "cell-key",
        "threshold": 5,
        "max_deviation": 2,
        "cells": 1520,
        "blank": 48,
    }


def test_the_note_says_in_english_what_was_done() -> None:
    text = note(PUBLICATION)
    assert "cell-key method" in text
    assert "at most 2" in text
    assert "no count from 1 to 4 is published" in text
    assert "need not add up to its total" in text
    assert "48 of 1520 cells are null." in text
    assert "231" not in text  # how many counts were perturbed is not told (review M1)
