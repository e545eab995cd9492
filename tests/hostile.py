"""Scripted TCP servers for attack tests: each byte on the wire is the test's choice.

A handler gets the server, the connection's reader and writer, and the connection's number
(1 for the first). ``Scripted.head`` reads one request head; ``ok`` frames a 200 answer. Servers
bind 127.0.0.1 (or ``::1``) on a free port and close every connection they opened on exit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Handler", "Scripted", "keep_alive", "ok"]

Handler = Callable[["Scripted", asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Scripted:
    """A TCP server whose handler writes raw bytes; counts connections and closes them all."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.connections = 0
        self.requests: list[bytes] = []  # request heads, in arrival order
        self.eofs = 0  # connections the client closed
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Scripted:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            await self.handler(self, reader, writer, self.connections)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def head(self, reader: asyncio.StreamReader) -> bytes:
        """The next request head, or b"" once the client closed the connection."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.eofs += 1
            return b""
        self.requests.append(head)
        return head


def ok(body: bytes, extra: str = "") -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def keep_alive(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """Answer every request with its own path, on one connection for as long as it lasts."""
    while head := await server.head(reader):
        writer.write(ok(head.split(b" ")[1]))
