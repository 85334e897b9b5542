"""The CloudEvents 1.0 envelope of every message, and the discriminated union of all event types."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import AwareDatetime, Discriminator, Field, Tag, TypeAdapter

from schemas.ahv import SUBJECT_PATTERN
from schemas.events.base import ContractModel, EventData, MessageData
from schemas.events.catalogue import EVENT_DATA_CLASSES
from schemas.vocabulary import DataCategory

DataT = TypeVar("DataT", bound=MessageData)

SOURCE_PATTERN = r"^/iiz/bl/[a-z0-9-]+(/[0-9]{4})?$"
EXTENSION_ATTRIBUTES = (
    "datacategory",
    "partitionkey",
    "correlationid",
    "causationid",
    "legalbasis",
    "consentref",
    "recipient",
    "iizcase",
    "recipientcaseref",
)


class CloudEvent(ContractModel, Generic[DataT]):
    """One event: CloudEvents 1.0 context attributes, the project's extensions, and ``data``."""

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    id: uuid.UUID = Field(description="Unique per event; the idempotency key everywhere.")
    source: str = Field(
        pattern=SOURCE_PATTERN,
        description="Origin institution, e.g. /iiz/bl/rav or /iiz/bl/sozialhilfe/2829.",
    )
    type: str = Field(description="Event type, e.g. ch.bl.iiz.measure.started.v1.")
    subject: str | None = Field(
        default=None,
        pattern=SUBJECT_PATTERN,
        description="The person's subject: a random id (never an AHV number). Set by intake.",
    )
    time: AwareDatetime = Field(description="When it happened in the partner's world.")
    datacontenttype: Literal["application/json"] = Field(default="application/json")
    dataschema: str | None = Field(default=None, description="URI of the JSON Schema of data.")
    datacategory: DataCategory = Field(description="Data category of the event as a whole.")
    partitionkey: str | None = Field(
        default=None, max_length=200, description="Kafka key: the person's subject internally."
    )
    correlationid: str | None = Field(default=None, max_length=100)
    causationid: str | None = Field(default=None, max_length=100)
    legalbasis: str | None = Field(
        default=None, max_length=200, description="Article of law a delivery is based on."
    )
    consentref: str | None = Field(
        default=None, max_length=400, description="Consent id a delivery is based on."
    )
    recipient: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{1,40}$",
        description="Institution a delivery is for (set by coordination on deliveries).",
    )
    iizcase: str | None = Field(
        default=None,
        pattern=r"^IIZ-[0-9]{4}-[0-9]{6}$",
        description="IIZ case number (Fallnummer IIZ) a delivery belongs to.",
    )
    recipientcaseref: str | None = Field(
        default=None, max_length=64, description="The recipient's own case reference."
    )
    data: DataT

    def attributes(self) -> dict[str, Any]:
        """Context attributes and extensions that are set (for Kafka headers)."""
        return self.model_dump(exclude={"data"}, exclude_none=True, mode="json")


def new_event(
    data: EventData, *, source: str, time: Any, event_id: uuid.UUID | None = None, **attrs: Any
) -> CloudEvent[Any]:
    """Wrap event data in an envelope with the type, schema and default category filled in."""
    cls = type(data)
    return CloudEvent[cls](  # type: ignore[valid-type]
        id=event_id or uuid.uuid4(),
        source=source,
        type=cls.cloud_event_type(),
        time=time,
        dataschema=cls.dataschema(),
        datacategory=attrs.pop("datacategory", cls.default_category),
        data=data,
        **attrs,
    )


def _event_type_of(value: Any) -> str | None:
    found = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return found if isinstance(found, str) else None


# Built from the catalogue at import time, so to a static checker it can only be `Any`.
AnyCloudEvent: Any = Annotated[
    Union[  # noqa: UP007 - a runtime-built union has no `|` spelling
        tuple(
            Annotated[CloudEvent[cls], Tag(cls.cloud_event_type())]  # type: ignore[valid-type]
            for cls in EVENT_DATA_CLASSES
        )
    ],
    Discriminator(_event_type_of),
]
"""Every v1 event, discriminated by its CloudEvent ``type``."""

ANY_EVENT_ADAPTER: TypeAdapter[CloudEvent[Any]] = TypeAdapter(AnyCloudEvent)
