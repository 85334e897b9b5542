"""Contract violations, each with a stable reason code that receipts and problem+json carry."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a submission was refused. Stable: partners program against these strings."""

    INVALID_AHV = "invalid_ahv"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_SOURCE = "unknown_source"
    SOURCE_MISMATCH = "source_mismatch"
    MISSING_ATTRIBUTE = "missing_attribute"
    INVALID_ATTRIBUTE = "invalid_attribute"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_UTF8 = "not_utf8"
    # The message met the contract as far as intake could tell, but the bus could not process
    # it (an operator finds it among the dead letters). Added in contract 1.3.0.
    PROCESSING_FAILED = "processing_failed"


class ContractError(Exception):
    """A message that does not meet the contract. The message never contains personal data."""

    reason: ReasonCode

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason.value}: {self.message})"


def _error(name: str, reason: ReasonCode, doc: str) -> type[ContractError]:
    return type(name, (ContractError,), {"reason": reason, "__doc__": doc})


InvalidAhvError = _error("InvalidAhvError", ReasonCode.INVALID_AHV, "Not a valid AHV number.")
UnknownTypeError = _error("UnknownTypeError", ReasonCode.UNKNOWN_TYPE, "Unknown event type.")
SchemaViolationError = _error(
    "SchemaViolationError", ReasonCode.SCHEMA_VIOLATION, "Data does not match its schema."
)
UnknownSourceError = _error(
    "UnknownSourceError", ReasonCode.UNKNOWN_SOURCE, "Source is no registered institution."
)
SourceMismatchError = _error(
    "SourceMismatchError", ReasonCode.SOURCE_MISMATCH, "Source is not the sending institution."
)
MissingAttributeError = _error(
    "MissingAttributeError", ReasonCode.MISSING_ATTRIBUTE, "A required attribute is missing."
)
InvalidAttributeError = _error(
    "InvalidAttributeError", ReasonCode.INVALID_ATTRIBUTE, "An attribute has an invalid value."
)
TooLargeError = _error("TooLargeError", ReasonCode.TOO_LARGE, "Message exceeds the size limit.")
NotJsonError = _error("NotJsonError", ReasonCode.NOT_JSON, "Value is not JSON.")
NotUtf8Error = _error("NotUtf8Error", ReasonCode.NOT_UTF8, "Bytes are not valid UTF-8.")
ProcessingFailedError = _error(
    "ProcessingFailedError", ReasonCode.PROCESSING_FAILED, "The bus could not process it."
)
