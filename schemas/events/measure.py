"""Measures (Massnahmen) and benefits (Leistungen): what an institution does for the person."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from schemas.events.base import EventData, category, institution_id_field
from schemas.vocabulary import (
    BenefitEndReason,
    BenefitKind,
    DataCategory,
    MeasureKind,
    MeasureResult,
)


class MeasureStarted(EventData):
    name: ClassVar[str] = "measure.started"
    default_category: ClassVar[DataCategory] = DataCategory.EMPLOYMENT
    summary: ClassVar[str] = "A measure begins (Massnahme beginnt)."

    measure_id: uuid.UUID = Field(description="Identifier of the measure.")
    kind: MeasureKind = Field(description="Kind of measure.")
    title: str | None = Field(default=None, max_length=200, description="Name of the offer.")
    planned_end: dt.date | None = Field(default=None, description="Planned end.")


class MeasureEnded(EventData):
    name: ClassVar[str] = "measure.ended"
    default_category: ClassVar[DataCategory] = DataCategory.EMPLOYMENT
    summary: ClassVar[str] = "A measure ends, with its result and optionally its cost."

    measure_id: uuid.UUID = Field(description="The measure that ends.")
    kind: MeasureKind = Field(description="Kind of measure.")
    result: MeasureResult = Field(description="How it ended.")
    cost_chf: Decimal | None = Field(
        default=None,
        ge=0,
        max_digits=12,
        decimal_places=2,
        description="Cost in CHF (Kosten).",
        json_schema_extra=category(DataCategory.BENEFITS),
    )
    financed_by: str | None = institution_id_field(
        "Financing institution (Kostenträger).", optional=True
    )


class BenefitGranted(EventData):
    name: ClassVar[str] = "benefit.granted"
    default_category: ClassVar[DataCategory] = DataCategory.BENEFITS
    summary: ClassVar[str] = "A benefit is granted (Leistung zugesprochen)."

    benefit_id: uuid.UUID = Field(description="Identifier of the benefit.")
    kind: BenefitKind = Field(description="Kind of benefit.")
    start: dt.date = Field(description="First day of the benefit.")


class BenefitEnded(EventData):
    name: ClassVar[str] = "benefit.ended"
    default_category: ClassVar[DataCategory] = DataCategory.BENEFITS
    summary: ClassVar[str] = "A benefit ends, e.g. exhausted (Aussteuerung)."

    benefit_id: uuid.UUID = Field(description="The benefit that ends.")
    kind: BenefitKind = Field(description="Kind of benefit.")
    end: dt.date = Field(description="Last day of the benefit.")
    reason: BenefitEndReason = Field(description="Why it ended.")


class BenefitExhaustionExpected(EventData):
    name: ClassVar[str] = "benefit.exhaustion.expected"
    default_category: ClassVar[DataCategory] = DataCategory.BENEFITS
    summary: ClassVar[str] = (
        "Forecast end of entitlement (voraussichtliche Aussteuerung): the trigger for early "
        "parallel planning."
    )

    benefit_id: uuid.UUID = Field(description="The benefit that will run out.")
    kind: BenefitKind = Field(description="Kind of benefit.")
    expected_end: dt.date = Field(description="Expected last day of entitlement.")
