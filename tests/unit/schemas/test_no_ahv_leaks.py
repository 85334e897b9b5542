"""No valid AHV number ever shows in a log line, a model repr or a contract error text."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from schemas.ahv import AhvNumber
from schemas.codec import from_kafka, to_kafka
from schemas.events import MeasureEnded
from schemas.events.base import PersonRef
from services.common.logging import configure_logging
from tests.ahv_scan import find_valid_ahv_numbers, find_valid_ahv_numbers_in_bytes
from tests.factories import OFFICIAL_SAMPLE_AHV, sample_event, valid_ahv
from tests.unit.schemas.codec_cases import BAD_INPUTS, decode

RAW_DOTTED = OFFICIAL_SAMPLE_AHV
RAW_PLAIN = OFFICIAL_SAMPLE_AHV.replace(".", "")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes global state; put the previous set-up back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_the_scanner_finds_valid_numbers_and_ignores_invalid_ones() -> None:
    text = f"a {RAW_DOTTED} b {RAW_PLAIN} c 756.9217.0769.84 d 756.****.****.** e {valid_ahv(3)}"

    assert find_valid_ahv_numbers(text) == [RAW_DOTTED, RAW_PLAIN, valid_ahv(3)]
    assert find_valid_ahv_numbers_in_bytes(f"\xff{RAW_PLAIN}".encode("latin-1")) == [RAW_PLAIN]


@pytest.mark.usefixtures("restore_logging")
def test_structlog_and_stdlib_lines_never_show_a_valid_ahv_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(json=True)  # here, so it binds the stderr that capsys captures
    ahv = AhvNumber(RAW_DOTTED)
    log = structlog.get_logger("intake")
    stdlib = logging.getLogger("aiokafka.consumer")

    log.info("submission received", ahv=ahv, raw=RAW_DOTTED, plain=RAW_PLAIN)
    log.warning(f"invalid submission for {RAW_DOTTED}")
    log.info("nested", person={"ahv_number": RAW_DOTTED, "refs": [RAW_PLAIN, (RAW_DOTTED,)]})
    log.info("number", ahv_as_int=int(RAW_PLAIN))
    log.info("as key", **{RAW_DOTTED: "seen"})
    log.info("model", person=PersonRef(ahv_number=RAW_DOTTED, case_ref="RAV-1"))
    stdlib.warning("stdlib with object %s and raw %s", ahv, RAW_DOTTED)
    stdlib.error("stdlib f-string %s", {"ahv": RAW_PLAIN})
    try:
        raise ValueError(f"cannot process {RAW_DOTTED}")
    except ValueError:
        log.exception("failed")
        stdlib.exception("failed too")
    output = capsys.readouterr().err

    assert output.count("\n") >= 10, output
    assert "submission received" in output
    assert "stdlib with object" in output
    assert "756.****.****.**" in output
    assert find_valid_ahv_numbers(output) == []


def test_the_repr_of_an_event_carrying_an_ahv_number_is_masked() -> None:
    event = sample_event(MeasureEnded, person=PersonRef(ahv_number=RAW_DOTTED, case_ref="X-1"))

    for shown in (repr(event), str(event), repr(event.data), repr(event.data.person)):
        assert find_valid_ahv_numbers(shown) == []
        assert "9217" not in shown
    # The wire format, in contrast, must carry it (the partner submitted it).
    assert find_valid_ahv_numbers_in_bytes(to_kafka(event).value) == [RAW_DOTTED]


def test_a_decoded_event_keeps_the_number_but_its_repr_hides_it() -> None:
    record = to_kafka(
        sample_event(MeasureEnded, person=PersonRef(ahv_number=RAW_PLAIN, case_ref="X-1"))
    )

    decoded = from_kafka(record.key, record.value, record.headers)

    assert decoded.data.person.ahv_number == AhvNumber(RAW_DOTTED)
    assert find_valid_ahv_numbers(repr(decoded)) == []


def test_no_contract_error_of_the_codec_cases_shows_a_valid_ahv_number() -> None:
    texts = []
    for case in BAD_INPUTS:
        error = decode(case)
        texts.extend([str(error), repr(error)])

    assert len(texts) == 2 * len(BAD_INPUTS)
    assert find_valid_ahv_numbers("\n".join(texts)) == []
