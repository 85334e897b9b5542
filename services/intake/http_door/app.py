"""The HTTP door's app: ``POST /v1/events`` for partners without a Kafka client, the web form for
the municipal social services, and the liveness and readiness probes.

Run it with ``python -m services.intake http`` (uvicorn on 127.0.0.1:$IIZ_INTAKE_HTTP_PORT) or
``uvicorn --factory services.intake.http_door.app:create_http_app``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response

from services.common.logging import configure_logging
from services.common.oidc_sign_in import SessionCookies, over_https, session_signing_secret
from services.common.problems import install_problem_handlers, problem_response, with_problem_schema
from services.intake.http_door.events import post_events
from services.intake.http_door.events_openapi import (
    POST_EVENTS_DESCRIPTION,
    POST_EVENTS_OPENAPI,
    POST_EVENTS_RESPONSES,
    POST_EVENTS_SUMMARY,
)
from services.intake.http_door.form.routes import install_web_form
from services.intake.http_door.limits import RateLimiter
from services.intake.http_door.reasons import (
    REASONS_BY_HTTP_STATUS,
    HttpReason,
    RequestRefusedError,
    SubmissionProblem,
    refuse_invalid_request,
    refused,
)
from services.intake.http_door.state import HttpIntake, intake_of
from services.intake.runtime import IntakeRuntime
from services.intake.settings import DEVELOPMENT_SESSION_SECRET, IntakeSettings
from services.intake.tokens import TokenStore

DESCRIPTION = (
    "Events submitted here are validated exactly like events on the partner's Kafka "
    "intake topic (docs/contract.md): same reason codes, same receipts (also on the "
    "partner's delivery topic), same dead letters. Authenticate with a bearer token "
    "issued for your institution. Errors are `application/problem+json` (RFC 9457) "
    "with a stable `reason`. The rate limit is per institution and per service "
    "instance."
)


def create_http_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Factory for ``uvicorn --factory``; nothing connects before the lifespan starts."""
    settings = settings or IntakeSettings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="IIZ intake",
        version="1.0.0",
        summary="Submit IIZ case events over HTTP (for partners without a Kafka client).",
        description=DESCRIPTION,
        lifespan=_lifespan(settings),
        openapi_tags=[
            {"name": "events", "description": "Submitting case events."},
            {"name": "operations", "description": "Liveness and readiness probes."},
        ],
    )
    production = settings.environment == "production"
    app.add_middleware(
        SessionCookies,  # Lax: the browser must bring it back from the identity provider
        secret_key=session_signing_secret(
            settings.intake_session_secret.get_secret_value(),
            DEVELOPMENT_SESSION_SECRET,
            settings.environment,
        ),
        cookie="iiz_formular",
        max_age=int(settings.session_max_hours * 60 * 60),
        path="/formular",
        secure=lambda scope: production or over_https(scope),
    )
    install_problem_handlers(app, refuse_invalid_request, REASONS_BY_HTTP_STATUS)
    app.add_api_route(
        "/v1/events",
        post_events,
        methods=["POST"],
        tags=["events"],
        summary=POST_EVENTS_SUMMARY,
        description=POST_EVENTS_DESCRIPTION,
        status_code=202,
        response_class=JSONResponse,
        responses=POST_EVENTS_RESPONSES,
        openapi_extra=POST_EVENTS_OPENAPI,
    )
    _add_probes(app)
    install_web_form(app, settings)
    app.openapi = _openapi_of(app)  # type: ignore[method-assign]
    return app


def _lifespan(settings: IntakeSettings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = IntakeRuntime(settings)
        try:
            pipeline = await runtime.start("http")
            assert runtime.pool is not None
            app.state.intake = HttpIntake(
                runtime=runtime,
                pipeline=pipeline,
                tokens=TokenStore(runtime.pool, runtime.registry),
                limiter=RateLimiter(settings.intake_rate_per_minute),
            )
            yield
        finally:
            await runtime.stop()

    return lifespan


def _add_probes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: PostgreSQL and Kafka are reachable",
        responses={503: problem_response("A dependency is unreachable.")},
    )
    async def readyz(request: Request) -> Response:
        checks = await intake_of(request).ready()
        if all(value == "ok" for value in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        unreachable = ", ".join(name for name, value in checks.items() if value != "ok")
        return refused(
            RequestRefusedError(503, HttpReason.UNAVAILABLE, f"unreachable: {unreachable}")
        )


def _openapi_of(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = with_problem_schema(schema, SubmissionProblem)
        return app.openapi_schema

    return openapi


def main(settings: IntakeSettings | None = None) -> None:
    """``python -m services.intake http``: serve the app with uvicorn."""
    import uvicorn

    settings = settings or IntakeSettings()
    app = create_http_app(settings)
    # Fenced by a successor with the same instance id: end this process (uvicorn shuts down
    # gracefully on SIGTERM) instead of answering 503 for ever.
    app.state.on_fenced = lambda: os.kill(os.getpid(), signal.SIGTERM)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=settings.intake_http_port,
        proxy_headers=False,
        log_config=None,
    )
