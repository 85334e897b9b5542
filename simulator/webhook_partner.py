"""A partner's webhook endpoint, for the simulation and the tests: uvicorn on 127.0.0.1, in the
caller's event loop.

It records every request (headers and body), verifies each signature itself with the
`standardwebhooks` library (answering 401 to a bad one, as a partner would), and answers
from a programmable script:

    async with serve_webhooks(secret) as server:
        server.reply(500, 500, 500)                          # three failures, then the default
        server.always(Reply(429, {"retry-after": "2"}))      # the default for every later request
        server.reply(Reply(200, hold=gate))                  # answer only once gate.set()
        ...
        await server.wait_for_requests(4)
        assert all(r.signature_valid for r in server.requests)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    """One scripted answer. With `hold`, the answer waits until that event is set (or the
    server shuts down): a server slower than any client timeout, without a fixed sleep."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    signature_valid: bool
    verification_error: str | None
    received_at: float  # time.monotonic()


class WebhookServer:
    """State and behaviour of the endpoint; create it with `serve_webhooks`."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.url = ""  # set once the server listens
        self.requests: list[ReceivedRequest] = []
        self.reject_bad_signatures = True
        self._script: deque[Reply] = deque()
        self._default = Reply(200)
        self._holds: set[asyncio.Event] = set()
        self._arrived = asyncio.Condition()
        self.app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["POST", "PUT", "GET"])]
        )

    def reply(self, *replies: int | Reply) -> None:
        """Answer the next requests with these, in order; then the default."""
        self._script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def always(self, reply: int | Reply) -> None:
        """The answer once the script is used up (initially 200)."""
        self._default = reply if isinstance(reply, Reply) else Reply(reply)

    def release_held(self) -> None:
        """Let every held answer go."""
        for hold in self._holds:
            hold.set()

    def reset(self) -> None:
        self.release_held()
        self.requests.clear()
        self._script.clear()
        self._default = Reply(200)

    @property
    def count(self) -> int:
        return len(self.requests)

    async def wait_for_requests(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - callers pass timeout=; asyncio.timeout enforces it
    ) -> list[ReceivedRequest]:
        """Wait until at least `n` requests arrived; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= n)
        return list(self.requests)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> object:
        """Verify as a partner would; raises WebhookVerificationError when it does not match."""
        return Webhook(self.secret).verify(body, dict(headers))

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            self.verify(body, headers)
            valid, problem = True, None
        except (WebhookVerificationError, ValueError) as error:
            valid, problem = False, str(error)
        self.requests.append(
            ReceivedRequest(
                request.method,
                request.url.path,
                headers,
                body,
                valid,
                problem,
                time.monotonic(),
            )
        )
        async with self._arrived:
            self._arrived.notify_all()
        if not valid and self.reject_bad_signatures:
            return Response(status_code=401)
        reply = self._script.popleft() if self._script else self._default
        if reply.hold is not None:
            self._holds.add(reply.hold)
            await reply.hold.wait()
        return Response(status_code=reply.status, headers=dict(reply.headers))


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_webhooks(secret: str, *, within: float = 5.0) -> AsyncIterator[WebhookServer]:
    """Run a WebhookServer on a free port of 127.0.0.1 until the block ends."""
    state = WebhookServer(secret)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        state.app,
        log_config=None,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(within):
            while not server.started:  # readiness: poll the flag, fail if serving died
                if task.done():
                    task.result()
                    raise RuntimeError("webhook server stopped before it started")
                await asyncio.sleep(0.005)
        state.url = f"http://127.0.0.1:{port}"
        yield state
    finally:
        state.release_held()  # held requests must finish for a graceful shutdown
        server.should_exit = True
        await task
        sock.close()
