"""Writes the published artefacts: one JSON Schema per event type, the AsyncAPI 3 document and
the event catalogue table in ``docs/contract.md`` (between its catalogue markers).

Run ``python -m schemas.generate`` after changing a model; a test fails while they are stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.alerts import Alert
from schemas.events.base import MessageData
from schemas.events.catalogue import EVENT_DATA_CLASSES
from schemas.outcomes import DeliveryOutcome
from schemas.receipts import Receipt
from schemas.refusals import Refusal
from schemas.registry.institutions import InstitutionRegistry, load_institutions
from schemas.topics import (
    CASE_EVENTS,
    DELIVERIES,
    DELIVERY_OUTCOMES,
    INTAKE_REJECTED,
)

HERE = Path(__file__).resolve().parent
JSON_DIR = HERE / "json"
ASYNCAPI_PATH = HERE / "asyncapi.json"
CONTRACT_DOC_PATH = HERE.parent / "docs" / "contract.md"
CATALOGUE_START = "<!-- catalogue:start -->"
CATALOGUE_END = "<!-- catalogue:end -->"


def data_schema(cls: type[MessageData]) -> dict[str, Any]:
    """The JSON Schema that an event's ``dataschema`` attribute points at."""
    schema = cls.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": cls.dataschema(),
        "x-cloudevent-type": cls.cloud_event_type(),
        "x-datacategory": cls.default_category.value,
        **schema,
        "description": cls.summary,
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every event type and the receipt."""
    files = {f"{cls.cloud_event_type()}.json": data_schema(cls) for cls in EVENT_DATA_CLASSES}
    files[f"{Receipt.cloud_event_type()}.json"] = data_schema(Receipt)
    files[f"{Alert.cloud_event_type()}.json"] = data_schema(Alert)
    files[f"{DeliveryOutcome.cloud_event_type()}.json"] = data_schema(DeliveryOutcome)
    files[f"{Refusal.cloud_event_type()}.json"] = data_schema(Refusal)
    return files


def _headers_schema(event_type: str, category: str) -> dict[str, Any]:
    def s(description: str, **extra: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **extra}

    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"],
        "properties": {
            "ce_specversion": s("CloudEvents version", const="1.0"),
            "ce_id": s("UUID; idempotency key", format="uuid"),
            "ce_source": s("origin institution, e.g. /iiz/bl/rav"),
            "ce_type": s("event type", const=event_type),
            "ce_time": s("business time, RFC 3339", format="date-time"),
            "ce_subject": s(
                "the person's subject: random per person (prs:<32 hex>), not derived from the"
                " AHV number; psn:<key id>:<32 hex> on events from before contract 1.5.0"
            ),
            "ce_dataschema": s("URI of the data schema", format="uri"),
            "ce_datacategory": s("data category", default=category),
            "ce_partitionkey": s("equals the Kafka key"),
            "ce_correlationid": s("correlation id"),
            "ce_causationid": s("id of the event that caused this one"),
            "ce_legalbasis": s("article of law a delivery is based on"),
            "ce_consentref": s("consent id a delivery is based on"),
            "ce_recipient": s("institution a delivery is for (deliveries only)"),
            "ce_iizcase": s("IIZ case number, e.g. IIZ-2026-000123 (deliveries only)"),
            "ce_recipientcaseref": s("the recipient's own case reference (deliveries only)"),
            "content-type": s("datacontenttype", const="application/json"),
        },
    }


def _message(cls: type[MessageData]) -> dict[str, Any]:
    return {
        "name": cls.cloud_event_type(),
        "title": cls.name,
        "summary": cls.summary,
        "contentType": "application/json",
        "headers": _headers_schema(cls.cloud_event_type(), cls.default_category.value),
        "payload": {"$ref": f"json/{cls.cloud_event_type()}.json"},
        "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": "0.5.0"}},
    }


def _message_key(cls: type[MessageData]) -> str:
    return cls.cloud_event_type().replace(".", "_")


def asyncapi_document(registry: InstitutionRegistry) -> dict[str, Any]:
    """AsyncAPI 3.0 description of every topic and message of the bus."""
    catalogue: list[type[MessageData]] = [*EVENT_DATA_CLASSES]
    with_receipt: list[type[MessageData]] = [*catalogue, Receipt, Alert, Refusal, DeliveryOutcome]
    messages = {_message_key(cls): _message(cls) for cls in with_receipt}
    event_refs = {
        _message_key(c): {"$ref": f"#/components/messages/{_message_key(c)}"} for c in catalogue
    }
    receipt_ref = {
        _message_key(c): {"$ref": f"#/components/messages/{_message_key(c)}"}
        for c in (Receipt, Alert, Refusal)
    }
    alert_ref = {_message_key(c): receipt_ref[_message_key(c)] for c in (Alert, Refusal)}
    channels: dict[str, Any] = {
        "caseEvents": _channel(
            CASE_EVENTS, "Canonical case events, key = the person's subject.", event_refs
        ),
        "deliveries": _channel(
            DELIVERIES,
            "Authorised, minimised deliveries, alerts and refusals.",
            {**event_refs, **alert_ref},
        ),
        "intakeRejected": _channel(INTAKE_REJECTED, "Dead letters: original bytes + reason.", {}),
        "deliveryOutcomes": _channel(
            DELIVERY_OUTCOMES,
            "Delivery outcomes for the audit, key = delivery id.",
            {
                _message_key(DeliveryOutcome): {
                    "$ref": f"#/components/messages/{_message_key(DeliveryOutcome)}"
                }
            },
        ),
    }
    operations: dict[str, Any] = {}
    for inst in registry.institutions:
        key = inst.id.replace("-", "_")
        channels[f"intake_{key}"] = _channel(
            inst.intake_topic, f"Submissions of {inst.name} (writer: {inst.id} only).", event_refs
        )
        channels[f"deliver_{key}"] = _channel(
            inst.delivery_topic,
            f"Receipts, deliveries, alerts and refusals for {inst.name} (reader: {inst.id} only).",
            {**event_refs, **receipt_ref},
        )
        operations[f"submit_{key}"] = _operation("send", f"intake_{key}", inst.name)
        operations[f"receive_{key}"] = _operation("receive", f"deliver_{key}", inst.name)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "IIZ case-coordination event bus (Basel-Landschaft)",
            "version": "1.5.0",
            "description": "Consent-scoped case events between the IIZ partner institutions. "
            "Every message is a CloudEvent 1.0 in Kafka binary content mode.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "infra/local"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def _channel(address: str, description: str, messages: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "description": description, "messages": messages}


def _operation(action: str, channel: str, who: str) -> dict[str, Any]:
    verb = "submits case events" if action == "send" else "receives receipts and deliveries"
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": f"{who} {verb}.",
    }


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _other_category_fields(cls: type[MessageData]) -> str:
    """Fields whose data category differs from the event's (besides ``person.ahv_number``)."""
    found = []
    for name, field in cls.model_fields.items():
        extra = field.json_schema_extra
        if isinstance(extra, dict) and "x-datacategory" in extra:
            found.append(f"`{name}` ({extra['x-datacategory']})")
        values = extra.get("x-datacategory-values") if isinstance(extra, dict) else None
        if isinstance(values, dict):
            found.extend(f"`{name}` value `{v}` ({c})" for v, c in values.items())
    return ", ".join(found) or "—"


def _catalogue_row(cls: type[MessageData]) -> str:
    event_type = cls.cloud_event_type()
    required = ", ".join(
        f"`{name}`" for name, field in cls.model_fields.items() if field.is_required()
    )
    cells = [
        f"`{event_type}`",
        f"`{cls.default_category.value}`",
        required or "—",
        _other_category_fields(cls),
        _cell(cls.summary),
        f"[schema](../schemas/json/{event_type}.json)",
    ]
    return "| " + " | ".join(cells) + " |"


def catalogue_table() -> str:
    """The event catalogue as a Markdown table, rendered from the models."""
    published: list[type[MessageData]] = [
        *EVENT_DATA_CLASSES,
        Receipt,
        Alert,
        Refusal,
        DeliveryOutcome,
    ]
    lines = [
        "| type | default category | required fields | fields of another category | summary "
        "| JSON Schema |",
        "|---|---|---|---|---|---|",
        *(_catalogue_row(cls) for cls in published),
    ]
    return "\n".join(lines) + "\n"


def with_catalogue(document: str) -> str:
    """``document`` with the text between the catalogue markers replaced by the current table."""
    start = document.find(CATALOGUE_START)
    end = document.find(CATALOGUE_END)
    if start < 0 or end < start:
        raise ValueError(f"{CATALOGUE_START} ... {CATALOGUE_END} markers are missing")
    head = document[: start + len(CATALOGUE_START)]
    note = "\n<!-- generated by `python -m schemas.generate`; do not edit by hand -->\n"
    return f"{head}{note}{catalogue_table()}{document[end:]}"


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file with its expected content."""
    files = {JSON_DIR / name: render(schema) for name, schema in json_schemas().items()}
    files[ASYNCAPI_PATH] = render(asyncapi_document(load_institutions()))
    files[CONTRACT_DOC_PATH] = with_catalogue(CONTRACT_DOC_PATH.read_text(encoding="utf-8"))
    return files


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for stale in JSON_DIR.glob("*.json"):
        if stale not in expected_files():
            stale.unlink()
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
