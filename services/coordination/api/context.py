"""What the routes and pages of the API app share: the context built in the app's lifespan, and
the dependencies and OpenAPI answers every case route declares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Query, Request

from schemas.registry.institutions import InstitutionRegistry
from services.common.problems import problem_response
from services.coordination.api.problems import (
    CaseNotFoundError,
    UnavailableError,
)
from services.coordination.reading.read_store import ReadStore
from services.coordination.settings import CoordinationSettings

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class ApiContext(ReadStore):
    """The read store, plus what only the HTTP edge needs; built in the app's lifespan."""

    settings: CoordinationSettings
    registry: InstitutionRegistry
    producer: AIOKafkaProducer


def api_context(request: Request) -> ApiContext:
    found: ApiContext | None = getattr(request.app.state, "api", None)
    if found is None:
        raise UnavailableError("the service is starting or stopping")
    return found


def visible(value: T | None) -> T:
    """What the read found, or the uniform 404 (the refusal is audited already)."""
    if value is None:
        raise CaseNotFoundError()
    return value


Api = Annotated[ApiContext, Depends(api_context)]
Purpose = Annotated[
    str,
    Query(min_length=3, max_length=200, description="Why the data is needed (audit log)."),
]
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {
    404: problem_response("No such case, or none visible to you (case_not_found).")
}
AUTH: Responses = {401: problem_response("token_missing, token_invalid or token_expired.")}
