"""Consent (Einwilligung / Vollmacht): recorded by the institution holding the signed form."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import ClassVar

from pydantic import Field, model_validator

from schemas.events.base import EventData
from schemas.vocabulary import DataCategory


class ConsentGranted(EventData):
    name: ClassVar[str] = "consent.granted"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = "The person consents to exchange between named institutions."

    consent_id: uuid.UUID = Field(description="Identifier of this consent record.")
    institutions: list[str] = Field(
        min_length=2,
        description="Institutions (registry ids) that may exchange data with each other.",
    )
    categories: list[DataCategory] = Field(
        min_length=1,
        description="Data categories covered. `health` is covered only when listed explicitly.",
    )
    valid_from: dt.date = Field(description="First day the consent is valid (gültig ab).")
    valid_until: dt.date | None = Field(
        default=None, description="Last day it is valid (gültig bis); open-ended when absent."
    )
    document_ref: str = Field(
        min_length=1, max_length=128, description="Reference of the signed form at its holder."
    )

    @model_validator(mode="after")
    def _period_is_ordered(self) -> ConsentGranted:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ConsentRevoked(EventData):
    name: ClassVar[str] = "consent.revoked"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = (
        "The person revokes a consent (Widerruf); effective for every later event on the bus."
    )

    consent_id: uuid.UUID = Field(description="The consent that is revoked.")
    document_ref: str | None = Field(
        default=None, max_length=128, description="Reference of the written revocation."
    )


class ConsentConfirmed(EventData):
    name: ClassVar[str] = "consent.confirmed"
    default_category: ClassVar[DataCategory] = DataCategory.CASE_ADMIN
    summary: ClassVar[str] = (
        "An institution named in a consent that another recorded confirms it (Bestätigung); "
        "only then may its health and identity data flow under that consent. Since 1.4.0."
    )

    consent_id: uuid.UUID = Field(description="The consent that is confirmed.")
    document_ref: str | None = Field(
        default=None,
        max_length=128,
        description="Reference of the signed form (or its copy) at the confirming institution.",
    )
