"""No log line keeps an AHV number or a case number; access-log lines lose the ids in their
paths too (logs are kept apart from the data: erasing a person could not reach them)."""

from __future__ import annotations

import logging

import pytest
import structlog

from services.common.logging import (
    RedactingFormatter,
    configure_logging,
    redact_access_line,
    redact_ahv_numbers,
    redact_log_text,
)

CASE_PATH = "/v1/cases/IIZ-2026-000123/timeline"
EVENT_ID = "0b6f4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e"


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it (``uvicorn.logging.AccessFormatter`` args)."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200),
        None,
    )


def test_a_case_number_in_any_line_is_masked() -> None:
    assert redact_log_text("read IIZ-2026-000123 and iiz-2027-1234567") == (
        "read IIZ-****-****** and IIZ-****-******"
    )


@pytest.mark.parametrize(
    "written",
    [
        "756.1234.5678.97",
        "7561234567897",
        "756 1234 5678 97",
        "756-1234-5678-97",
        "756-1234.5678 97",
    ],
)
def test_an_ahv_number_is_masked_however_it_is_separated(written: str) -> None:
    assert redact_ahv_numbers(f"ticket {written}, ok") == "ticket 756.****.****.**, ok"
    assert redact_log_text(f"purpose: {written}") == "purpose: 756.****.****.**"


def test_other_text_is_left_as_it_is() -> None:
    line = "IIZ-FALLKOORD project, offset 2026-000123, IIZ-26-1"
    assert redact_log_text(line) == line


def test_an_access_line_loses_case_numbers_and_ids_of_its_path() -> None:
    line = RedactingFormatter("%(message)s").format(
        access_record(f"/posteingang/{EVENT_ID}?fall=IIZ-2026-000123")
    )

    assert line == '127.0.0.1:5000 - "GET /posteingang/<id>?fall=IIZ-****-****** HTTP/1.1" 200'


def test_ids_stay_in_lines_that_are_not_access_lines() -> None:
    record = logging.LogRecord("coordination", logging.INFO, __file__, 1, EVENT_ID, None, None)

    assert RedactingFormatter("%(message)s").format(record) == EVENT_ID
    assert redact_access_line(EVENT_ID) == "<id>"


def test_the_configured_sink_redacts_uvicorn_and_structlog_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("uvicorn.access", "httpx"):  # as a server or client left them in this process
        library = logging.getLogger(name)
        for attribute, value in (
            ("level", logging.NOTSET),
            ("disabled", False),
            ("propagate", True),
        ):
            monkeypatch.setattr(library, attribute, value)
        monkeypatch.setattr(library, "handlers", [])
    configure_logging("INFO", json=True)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", CASE_PATH, "1.1", 200
    )
    structlog.get_logger("test").info("case read", case="IIZ-2026-000123", ahv="756.1234.5678.97")
    logging.getLogger("httpx").info("sent for %s", "756-1234-5678-97")
    err = capsys.readouterr().err

    assert "GET /v1/cases/IIZ-****-******/timeline" in err  # the line is there ...
    assert "IIZ-2026-000123" not in err  # ... without the case number
    assert "756.1234.5678.97" not in err
    assert "756-1234-5678-97" not in err
    assert "sent for 756.****.****.**" in err
