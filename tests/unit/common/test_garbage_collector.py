"""Worker processes collect garbage less often once started, with start-up frozen out."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.common.worker import YOUNGEST_GENERATION_THRESHOLD, settle_garbage_collector

pytestmark = pytest.mark.unit


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def test_a_started_worker_freezes_start_up_and_collects_the_young_less_often(
    restored_collector: None,
) -> None:
    gc.unfreeze()
    await settle_garbage_collector()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNGEST_GENERATION_THRESHOLD


async def test_cycles_made_after_start_are_still_collected(restored_collector: None) -> None:
    await settle_garbage_collector()

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    kept = id(a)
    del a, b
    gc.collect()
    assert all(id(o) != kept for o in gc.get_objects() if isinstance(o, Node))
