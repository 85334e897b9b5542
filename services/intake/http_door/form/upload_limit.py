"""The web form's upload limit: checked on Content-Length and while the body streams in."""

from __future__ import annotations

import math

from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake.http_door.form.pages import PREFIX


class FormBodyLimit:
    """Refuses form POSTs over ``limit`` bytes with a German 413 page, without reading them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except _TooLargeError:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        limit_mb = math.ceil(self.limit / (1024 * 1024))
        response = HTMLResponse(
            '<!doctype html><html lang="de"><meta charset="utf-8"><title>Zu gross</title>'
            f"<p>Die Datei ist zu gross (höchstens {limit_mb} MB). "
            f'<a href="{PREFIX}">Zurück zum Formular</a></p></html>',
            status_code=413,
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLargeError(Exception):
    pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
