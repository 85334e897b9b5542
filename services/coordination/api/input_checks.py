"""Text a request brings that PostgreSQL must be able to store.

PostgreSQL ``text`` and ``jsonb`` cannot hold U+0000, and a JSON escape such as ``"\\ud800"``
gives a Python string with an unpaired surrogate that has no UTF-8 form. Case numbers from the
path are looked up, purposes go into the audit log and note texts onto the bus: such text is
refused with ``422 invalid_request`` before any of that, never answered with a 500.

- Path and query parameters: ``refuse_unstorable_parameters``, a dependency of every router.
- Body fields: typed ``StorableText``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from schemas.storable import CANNOT_BE_STORED, find_unstorable, unstorable_code_point
from services.coordination.api.problems import InvalidRequestError


def _storable(value: Any) -> Any:
    # Before str validation: pydantic's own answer to a surrogate would not name the character.
    code_point = unstorable_code_point(value) if isinstance(value, str) else None
    if code_point is not None:
        raise PydanticCustomError(
            "unstorable_character",
            f"{CANNOT_BE_STORED} ({{code_point}})",
            {"code_point": code_point},
        )
    return value


StorableText = Annotated[str, BeforeValidator(_storable)]
"""A body field that PostgreSQL can store (no U+0000, no unpaired surrogate)."""


def refuse_unstorable_parameters(request: Request) -> None:
    """422 ``invalid_request`` for a path or query parameter that PostgreSQL cannot store."""
    sources = (
        ("path", list(request.path_params.items())),
        ("query", request.query_params.multi_items()),
    )
    for where, parameters in sources:
        for name, value in parameters:
            _check_parameter(where, name, value)


def _check_parameter(where: str, name: str, value: Any) -> None:
    code_point = unstorable_code_point(name)
    if code_point is not None:
        raise InvalidRequestError(f"{where}: a parameter name {CANNOT_BE_STORED} ({code_point})")
    found = find_unstorable(value, f"{where}.{name}")
    if found is not None:
        raise InvalidRequestError(found.describe())


STORABLE_PARAMETERS = [Depends(refuse_unstorable_parameters)]
"""``dependencies`` for a router whose routes take path or query parameters."""
