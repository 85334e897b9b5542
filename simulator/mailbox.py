"""A real local SMTP server (aiosmtpd) that keeps what it receives: the coordinators' mailbox of
the simulation and of the tests.

    with LocalSmtpServer() as smtp:              # or: async with LocalSmtpServer() as smtp:
        settings = SmtpSettings(host=smtp.host, port=smtp.port, sender="...")
        ...
        received = await smtp.wait_for_messages(2)

It listens on 127.0.0.1 on a port the kernel picks (no race with other tests), in its own thread
and event loop, so it serves equally well a test's event loop and a service under test.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    """One accepted message: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


class _CollectingHandler:
    def __init__(self, rcpt_reply: str | None, data_reply: str | None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.received: list[ReceivedMail] = []
        self.changed = threading.Condition()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        if self.data_reply is not None:
            return self.data_reply
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), parsed, raw)
        with self.changed:
            self.received.append(mail)
            self.changed.notify_all()
        return "250 Message accepted for delivery"


class _FreePortController(Controller):
    """Binds port 0 and learns the kernel's choice before aiosmtpd's readiness probe."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        sockets = self.server.sockets  # type: ignore[attr-defined]  # an asyncio.Server
        self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class LocalSmtpServer:
    """``rcpt_reply`` / ``data_reply`` (e.g. ``"550 5.1.1 Mailbox unavailable"``) make the server
    refuse every recipient / every message with that reply instead of accepting."""

    host = "127.0.0.1"

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self._handler = _CollectingHandler(rcpt_reply, data_reply)
        self._controller = _FreePortController(self._handler, hostname=self.host, port=0)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def received(self) -> list[ReceivedMail]:
        with self._handler.changed:
            return list(self._handler.received)

    def start(self) -> LocalSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def wait_for_messages(self, count: int, *, within: float = 10.0) -> list[ReceivedMail]:
        """The received messages once there are at least ``count``; TimeoutError otherwise."""

        def wait() -> bool:
            with self._handler.changed:
                return self._handler.changed.wait_for(
                    lambda: len(self._handler.received) >= count, within
                )

        if not await asyncio.to_thread(wait):
            raise TimeoutError(f"{len(self.received)} of {count} messages within {within} s")
        return self.received

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalSmtpServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)
