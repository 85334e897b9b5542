"""What every event's data has in common: the person it is about, and its default category."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.ahv import AhvNumber
from schemas.vocabulary import DataCategory

TYPE_PREFIX = "ch.bl.iiz."
SCHEMA_BASE_URI = "https://iiz.bl.ch/schemas/json/"


def category(value: DataCategory) -> dict[str, Any]:
    """Field metadata naming the field's data category when it differs from the event's."""
    return {"x-datacategory": value.value}


def value_categories(values: dict[str, DataCategory]) -> dict[str, Any]:
    """Field metadata naming the data category of single values of a list field (since 1.4.0):
    such a value is removed from the list for a recipient without a basis for its category."""
    return {"x-datacategory-values": {value: c.value for value, c in values.items()}}


class ContractModel(BaseModel):
    """Frozen, strict about unknown fields (a typo is an error, not silently dropped)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class PersonRef(ContractModel):
    """Who the event is about, as the sending institution knows the person."""

    ahv_number: AhvNumber | None = Field(
        default=None,
        description=(
            "AHV-Nummer. Required when a partner submits; replaced by the pseudonym in "
            "`subject` on internal topics; present in a delivery only where identity is "
            "authorised."
        ),
        json_schema_extra=category(DataCategory.IDENTITY),
    )
    sealed_ahv: str | None = Field(
        default=None,
        max_length=400,
        description=(
            "The AHV number encrypted for coordination (key id, colon, Fernet token). Set by "
            "intake on internal topics only; partners never send it."
        ),
        json_schema_extra=category(DataCategory.IDENTITY),
    )
    case_ref: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="The institution's own case reference (Fallnummer/Dossiernummer).",
    )


class MessageData(ContractModel):
    """Base of every message's ``data``: knows its CloudEvent type and schema URI."""

    name: ClassVar[str]
    default_category: ClassVar[DataCategory]
    summary: ClassVar[str]

    @classmethod
    def cloud_event_type(cls) -> str:
        return f"{TYPE_PREFIX}{cls.name}.v1"

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_BASE_URI}{cls.cloud_event_type()}.json"


class EventData(MessageData):
    """Base of every case event's ``data``: it is always about one person."""

    person: PersonRef = Field(description="The person concerned (betroffene Person).")


INSTITUTION_ID_PATTERN = r"^[a-z][a-z0-9-]{1,40}$"


def institution_id_field(description: str, *, optional: bool = False) -> Any:
    """A registry institution id (e.g. ``rav``, ``sozialhilfe-2829``)."""
    if optional:
        return Field(default=None, pattern=INSTITUTION_ID_PATTERN, description=description)
    return Field(pattern=INSTITUTION_ID_PATTERN, description=description)
