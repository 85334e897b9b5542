"""The timeline API of coordination: one shared case timeline per person, read per institution.

Run it with ``python -m services.coordination api`` (uvicorn on
127.0.0.1:$IIZ_COORDINATION_API_PORT) or
``uvicorn --factory services.coordination.api.app:create_api``, after
``python -m services.coordination migrate``: the API never migrates. Nothing connects before the
lifespan starts.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from uvicorn.supervisors import Multiprocess

from schemas.registry.institutions import InstitutionRegistry, load_institutions
from services.common.database import create_pool
from services.common.kafka_clients import create_producer
from services.common.logging import configure_logging
from services.common.problems import problem, problem_response, with_problem_schema
from services.coordination.api import (
    access_report_routes,
    answer_routes,
    audit_routes,
    case_routes,
    inbox_api,
    metrics_routes,
    note_routes,
    notice_api,
    signals_routes,
    worklist_routes,
)
from services.coordination.api.auth import TokenVerifier
from services.coordination.api.context import ApiContext
from services.coordination.api.problems import Problem, install_problem_handlers
from services.coordination.clock import Clock, utc_now
from services.coordination.domain.policy import World
from services.coordination.legal_basis import load_legal_basis
from services.coordination.pages.routes import register_pages
from services.coordination.pages.sign_in import install_sign_in
from services.coordination.reading.audit_writer import GroupedAuditWriter
from services.coordination.settings import CoordinationSettings

READINESS_TIMEOUT_SECONDS = 3.0

DESCRIPTION = (
    "The shared case timeline for IIZ coordinators and case workers. Authenticate with a "
    "bearer JWT naming your user, institution and role. Your institution sees a case only if "
    "it is involved with the person, and only the entries it published or was authorised to "
    "receive, minimised exactly like their deliveries. Every read is recorded in the audit log "
    "with its purpose. Errors are `application/problem+json` (RFC 9457) with a stable "
    "`reason`. AHV numbers go in request bodies only, never in a URL."
)
TAGS = [
    {"name": "cases", "description": "Finding a case and reading its summary."},
    {"name": "timeline", "description": "The shared timeline, minimised per institution."},
    {
        "name": "worklist",
        "description": "The caller's institution's cases and deadlines, judged on today.",
    },
    {"name": "notes", "description": "Coordination notes, published to the bus."},
    {"name": "referrals", "description": "The addressee answers a referral (to the bus)."},
    {"name": "inbox", "description": "What the bus delivered to your institution (Posteingang)."},
    {"name": "documents", "description": "Documents announced to you, downloaded by reference."},
    {
        "name": "notices",
        "description": "Notices your institution must send to persons after an exchange"
        " without consent (AVG Art. 35a Abs. 1ter), as JSON or PDF letter, marked when sent.",
    },
    {"name": "audit", "description": "Who read or received a person's data."},
    {"name": "operations", "description": "Liveness and readiness probes."},
]


def create_api(settings: CoordinationSettings | None = None, clock: Clock = utc_now) -> FastAPI:
    """Factory for ``uvicorn --factory``; the pool and producer open in the lifespan."""
    settings = settings or CoordinationSettings()
    configure_logging(settings.log_level, settings.log_json)
    registry = load_institutions()
    app = FastAPI(
        title="IIZ coordination: timeline API",
        version="1.0.0",
        summary="One shared case timeline per person, as each institution may see it.",
        description=DESCRIPTION,
        lifespan=_lifespan(settings, registry, clock),
        openapi_tags=TAGS,
    )
    app.state.token_verifier = TokenVerifier(settings, registry)
    install_problem_handlers(app)
    for routes in (
        case_routes,
        note_routes,
        answer_routes,
        inbox_api,
        audit_routes,
        metrics_routes,
        worklist_routes,
        signals_routes,
        access_report_routes,
        notice_api,
    ):
        app.include_router(routes.router)
    register_pages(app)
    install_sign_in(app, settings)
    app.include_router(operations)
    app.openapi = partial(_openapi, app)  # type: ignore[method-assign]
    return app


def _lifespan(
    settings: CoordinationSettings, registry: InstitutionRegistry, clock: Clock
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Opens the pool and the producer, and builds the routes' context on them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        matrix = load_legal_basis(settings.coordination_legal_basis_file)
        rules = settings.rules
        pool = await create_pool(settings.database_url, settings.coordination_db_schema)
        producer = create_producer(settings)
        try:
            await producer.start()
            app.state.api = ApiContext(
                pool=pool,
                world=World(
                    kinds={i.id: i.kind for i in registry.institutions},
                    consents=(),
                    matrix=matrix,
                    grace=rules.grace,
                ),
                rules=rules,
                clock=clock,
                fixed_today=settings.coordination_today,
                audit_writer=GroupedAuditWriter(pool, clock),
                settings=settings,
                registry=registry,
                producer=producer,
            )
            yield
        finally:
            app.state.api = None
            await producer.stop()
            await pool.close()

    return lifespan


operations = APIRouter()


@operations.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@operations.get(
    "/readyz",
    tags=["operations"],
    summary="Readiness: PostgreSQL is reachable",
    responses={503: problem_response("PostgreSQL unreachable (unavailable).")},
)
async def readyz(request: Request) -> Response:
    api: ApiContext | None = getattr(request.app.state, "api", None)
    try:
        assert api is not None
        await asyncio.wait_for(api.pool.fetchval("SELECT 1"), READINESS_TIMEOUT_SECONDS)
    except Exception:
        return problem(503, "unavailable", "Service unavailable", "database unreachable")
    return JSONResponse({"status": "ready"})


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the problem+json schema the answers refer to."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        app.openapi_schema = with_problem_schema(schema, Problem)
    return app.openapi_schema


def serve(settings: CoordinationSettings) -> None:
    """Serve the API with uvicorn on 127.0.0.1:``coordination_api_port``: in this process, or in
    ``coordination_api_workers`` processes that each build the app from the environment (the
    settings were read from it too). Every process appends to the one audit chain (its head is
    locked in PostgreSQL), so reads stay audited in one order."""
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": settings.coordination_api_port,
        "proxy_headers": False,
        "log_config": None,
    }
    if settings.coordination_api_workers <= 1:
        uvicorn.run(create_api(settings), **options)
        return
    config = uvicorn.Config(
        f"{__name__}:create_api",
        factory=True,
        workers=settings.coordination_api_workers,
        **options,
    )
    Multiprocess(config, sockets=[tcp_listener(config.host, config.port)]).run()


def tcp_listener(host: str, port: int) -> socket.socket:
    """The workers' shared listening socket, made as TCP explicitly: uvicorn's own
    (``socket.socket(family)``, protocol 0) keeps asyncio from setting TCP_NODELAY on the
    connections it accepts, and Nagle's algorithm then held every answer's body until the
    client's delayed ACK: 40 ms more per read (measured in docs/benchmarks.md)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener
