"""``identity_of`` scans everything but ``data.person.ahv_number`` for AHV numbers, the rest of the
person block included, without changing the event."""

from __future__ import annotations

import pytest

from schemas.ahv import AhvNumber
from schemas.errors import SchemaViolationError
from schemas.events import CaseOpened
from services.intake.submission import identity_of
from tests.factories import sample_event, valid_ahv


def test_the_number_in_its_place_is_the_identity_and_the_event_stays_as_it_was() -> None:
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(7), "case_ref": "B-7"})
    before = event.model_dump_json()

    assert identity_of(event) == AhvNumber(valid_ahv(7))
    assert event.model_dump_json() == before


@pytest.mark.parametrize("spelling", [valid_ahv(8), valid_ahv(8).replace(".", "")])
def test_a_number_elsewhere_in_the_person_block_is_refused(spelling: str) -> None:
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(7), "case_ref": spelling})

    with pytest.raises(SchemaViolationError, match=r"only be sent in data\.person\.ahv_number"):
        identity_of(event)


def test_the_same_number_twice_is_refused_too() -> None:
    event = sample_event(CaseOpened, person={"ahv_number": valid_ahv(7), "case_ref": valid_ahv(7)})

    with pytest.raises(SchemaViolationError, match=r"only be sent in data\.person\.ahv_number"):
        identity_of(event)
