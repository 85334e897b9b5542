"""Liveness and readiness of a worker process over HTTP: ``GET /livez`` and ``GET /readyz``.

- live: every consumer edge's loop is running and has beaten within its stall limit while it
  had lag (a wedged consumer is not live; an orchestrator restarts it);
- ready: every edge has joined its group and its dependencies (database, broker) answer.

Both answer 200 or 503 with a small JSON body naming each edge's state. Written by hand (one
request line, one response, about forty lines) rather than served by uvicorn: uvicorn's
``serve()`` takes over the process's signal handlers, which belong to the FastStream
application that runs the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence

import structlog

from services.common.consumer_edge import ConsumerEdge

log = structlog.get_logger("health")


class HealthServer:
    def __init__(self, edges: Sequence[ConsumerEdge], *, host: str, port: int) -> None:
        self._edges = list(edges)
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the free one chosen for port 0)."""
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, self._host, self._port)
        log.info("health endpoints", url=f"http://{self._host}:{self.port}/readyz")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def livez(self) -> tuple[bool, dict[str, object]]:
        states = [edge.health() for edge in self._edges]
        return all(s.live for s in states), {"edges": [s.as_dict() for s in states]}

    async def readyz(self) -> tuple[bool, dict[str, object]]:
        ready = [await edge.ready() for edge in self._edges]
        states: list[dict[str, object]] = [
            {"name": e.config.name, "ready": r} for e, r in zip(self._edges, ready, strict=True)
        ]
        return all(ready), {"edges": states}

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # headers are not needed
                parts = request.split()
                path = parts[1].decode("ascii", "replace") if len(parts) > 1 else ""
                if path == "/livez":
                    ok, body = await self.livez()
                elif path == "/readyz":
                    ok, body = await self.readyz()
                else:
                    writer.write(_response(404, {"detail": "not found"}))
                    return
                writer.write(_response(200 if ok else 503, body))
        except (TimeoutError, ConnectionError):
            return
        finally:
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()


def _response(status: int, body: dict[str, object]) -> bytes:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    payload = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + payload
