"""One structlog set-up for every service: JSON lines in production, readable on a terminal."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from schemas.ahv import mask_ahv_like

# Defence in depth: an AHV number (756 + 10 digits; plain, dotted, spaced or dashed) never leaves
# in a log line, even if a careless caller puts one into a message. One matcher for the project:
# schemas.ahv's (also the notifications digest's).


# A case number (``IIZ-<year>-<nnnnnn>``) links a line to a person as long as the case exists, and
# request paths carry them (``/v1/cases/IIZ-2026-000123/timeline``): logs are kept apart from the
# data, so erasing a person could not reach them. Access-log lines also lose the ids in their paths
# (event, referral and document ids): every read is audited, the log needs only the route.
_CASE_NUMBER_LIKE = re.compile(r"\bIIZ-\d{4}-\d{6,}\b", re.IGNORECASE)
_CASE_REDACTED = "IIZ-****-******"
_UUID_LIKE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_UUID_REDACTED = "<id>"
ACCESS_LOGGERS = frozenset({"uvicorn.access"})


def redact_ahv_numbers(text: str) -> str:
    """Replace anything shaped like an AHV number by a mask (``756.****.****.**``)."""
    return mask_ahv_like(text)


def redact_log_text(text: str) -> str:
    """What no log line keeps: AHV numbers and case numbers (masked)."""
    return _CASE_NUMBER_LIKE.sub(_CASE_REDACTED, redact_ahv_numbers(text))


def redact_access_line(text: str) -> str:
    """An access-log line (method, path, status): also without the ids in its path."""
    return _UUID_LIKE.sub(_UUID_REDACTED, redact_log_text(text))


def _redact_value(value: Any) -> Any:
    """Redact strings, keys and items at any depth; other objects only if their repr leaks."""
    if isinstance(value, str):
        return redact_log_text(value)
    if isinstance(value, Mapping):
        return {_redact_value(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact_value(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    # Numbers and arbitrary objects: the renderers fall back to repr(), so check that.
    shown = repr(value)
    redacted = redact_log_text(shown)
    return value if redacted == shown else redacted


def _redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return {redact_log_text(key): _redact_value(value) for key, value in event_dict.items()}


class RedactingFormatter(logging.Formatter):
    """Every line without AHV numbers and case numbers; access-log lines without path ids."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.name in ACCESS_LOGGERS:
            return redact_access_line(line)
        return redact_log_text(line)


_OURS = "_iiz_handler"
_PLAIN_FORMAT = "%(message)s"


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """Route structlog and the standard library (aiokafka, uvicorn, faststream) through one sink."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_processor,
    ]
    # structlog renders the line and hands it to the standard library, so every line, ours and
    # the libraries', passes the same (redacting) handlers.
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(message)s" if use_json else _PLAIN_FORMAT))
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    # Replace only the handler this function installed before; keep others (e.g. test collectors).
    root.handlers[:] = [h for h in root.handlers if not getattr(h, _OURS, False)] + [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every group join; warnings are what operators need.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
