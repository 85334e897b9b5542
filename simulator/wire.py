"""A step as a partner puts it on the wire: a Kafka record in binary content mode for the Kafka
door, a structured-mode CloudEvent (JSON) for the HTTP door. Deliberate faults are applied here,
to the bytes, as a partner's mistake would be."""

from __future__ import annotations

from typing import Any

from schemas.codec import KafkaRecord, record_from_structured, structured_event
from schemas.events.catalogue import DATA_CLASS_BY_TYPE
from simulator.script import Fault, Step


def attributes(step: Step) -> dict[str, str]:
    """The context attributes a partner sets (not ``datacategory`` unless it declares one)."""
    event = step.event
    found = {
        "specversion": "1.0",
        "id": str(event.id),
        "source": event.source,
        "type": event.type,
        "time": event.time.isoformat(),
    }
    if event.dataschema:
        found["dataschema"] = event.dataschema
    if event.datacategory != DATA_CLASS_BY_TYPE[event.type].default_category:
        found["datacategory"] = event.datacategory.value
    if event.correlationid:
        found["correlationid"] = event.correlationid
    return found


def data(step: Step) -> dict[str, Any]:
    """``data`` as JSON, with the clear AHV number where partners send it (and the fault)."""
    found: dict[str, Any] = step.event.data.model_dump(mode="json", exclude_none=True)
    if step.fault is Fault.MISTYPED_CHECK_DIGIT:
        ahv = found["person"]["ahv_number"]
        found["person"]["ahv_number"] = ahv[:-1] + str((int(ahv[-1]) + 1) % 10)
    elif step.fault is Fault.UNKNOWN_FIELD:
        found["bemerkung"] = "Bitte rasch bearbeiten"
    return found


def kafka_record(step: Step) -> KafkaRecord:
    """Binary content mode, keyed by the partner's own case reference (docs/contract.md §2)."""
    return record_from_structured(structured(step))


def structured(step: Step) -> dict[str, Any]:
    """Structured content mode for ``POST /v1/events`` (docs/http-intake.md)."""
    return structured_event(attributes(step), data(step))
