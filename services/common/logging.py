"""One structlog set-up for every service: JSON lines in production, readable on a terminal."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# Defence in depth: an AHV number (756 + 10 digits, dotted or not) never leaves in a log line,
# even if a careless caller puts one into a message.
_AHV_LIKE = re.compile(r"756[.\s]?\d{4}[.\s]?\d{4}[.\s]?\d{2}")
_REDACTED = "756.****.****.**"


def redact_ahv_numbers(text: str) -> str:
    """Replace anything shaped like an AHV number by a mask."""
    return _AHV_LIKE.sub(_REDACTED, text)


def _redact_value(value: Any) -> Any:
    """Redact strings, keys and items at any depth; other objects only if their repr leaks."""
    if isinstance(value, str):
        return redact_ahv_numbers(value)
    if isinstance(value, Mapping):
        return {_redact_value(k): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_redact_value(v) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    # Numbers and arbitrary objects: the renderers fall back to repr(), so check that.
    shown = repr(value)
    redacted = redact_ahv_numbers(shown)
    return value if redacted == shown else redacted


def _redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    return {redact_ahv_numbers(key): _redact_value(value) for key, value in event_dict.items()}


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_ahv_numbers(super().format(record))


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
