"""The API's workers share a listening socket made as TCP, so that every connection they accept
sends its answers at once (TCP_NODELAY); uvicorn's own socket (protocol 0) did not."""

from __future__ import annotations

import asyncio
import socket

import pytest

from services.coordination.api.app import tcp_listener

pytestmark = pytest.mark.unit


async def nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY of a connection asyncio accepts on the listener."""
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connection(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connection, sock=listener)
    try:
        host, port = listener.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        found = await asyncio.wait_for(accepted, 10)
        writer.close()
        return found
    finally:
        server.close()
        await server.wait_closed()


async def test_connections_on_the_workers_socket_send_without_delay() -> None:
    assert await nodelay_of_accepted(tcp_listener("127.0.0.1", 0)) != 0


async def test_a_socket_made_without_the_tcp_protocol_does_not() -> None:
    plain = socket.socket(socket.AF_INET)  # as uvicorn's bind_socket makes it
    plain.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    plain.bind(("127.0.0.1", 0))
    assert await nodelay_of_accepted(plain) == 0
