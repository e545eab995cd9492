"""A small fault-injecting HTTP proxy on 127.0.0.1, for testing retries and error handling.

It runs inside the test's event loop and forwards every request, headers and body unchanged
(``Host`` included, so signed requests stay valid), to one upstream server::

    async with FaultProxy(server.url) as proxy:
        store = S3Raw(endpoint_url=proxy.url)
        proxy.fail_next(3)  # the next 3 requests get 503 without reaching the server
        proxy.deny(403)  # every request gets 403 until proxy.heal()
        proxy.corrupt_next(1)  # flip the first byte of the next non-empty response body
        proxy.delay = 0.05  # hold each request this long before forwarding it
        ...
        assert proxy.count("GET") == 4
        assert proxy.max_in_flight <= 8

Injected errors carry an S3-style XML body (``SlowDown``, ``AccessDenied``, ...); backends that
read only the status work the same.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from typing_extensions import Self

__all__ = ["FaultProxy", "Seen"]

_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "expect",
})  # fmt: skip
_CODES = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown", 429: "TooManyRequests"}


@dataclass
class Seen:
    """One request the proxy received, and the status it answered with."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0

    @property
    def access_key(self) -> str | None:
        """The access key id of a SigV4 ``Authorization`` header (None when unsigned)."""
        auth = self.headers.get("Authorization", "")
        if "Credential=" not in auth:
            return None
        return auth.split("Credential=", 1)[1].split("/", 1)[0]


class FaultProxy:
    """Forwards to ``upstream``; fails, delays or corrupts requests on demand.

    Attributes:
        url: ``http://127.0.0.1:PORT`` of the proxy (valid between start and stop).
        requests: every request received, in order.
        delay: seconds each request waits before it is forwarded (or failed).
        max_in_flight: the most requests handled at once so far.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Seen] = []
        self.delay = 0.0
        self.max_in_flight = 0
        self.url = ""
        self._in_flight = 0
        self._fail_left = 0
        self._fail_status = 503
        self._deny_status: int | None = None
        self._corrupt_left = 0
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- faults ---------------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` instead of forwarding them."""
        self._fail_left, self._fail_status = count, status

    def deny(self, status: int = 403) -> None:
        """Answer every request with ``status`` until :meth:`heal`."""
        self._deny_status = status

    def corrupt_next(self, count: int) -> None:
        """Flip the first byte of the next ``count`` non-empty response bodies."""
        self._corrupt_left = count

    def heal(self) -> None:
        """Stop injecting faults (the delay stays)."""
        self._fail_left = self._corrupt_left = 0
        self._deny_status = None

    def count(self, method: str | None = None) -> int:
        """How many requests (of ``method``) the proxy received."""
        return sum(1 for r in self.requests if method is None or r.method == method)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on a free 127.0.0.1 port (inside the running loop)."""
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.ServerRunner(web.Server(self._handle), handle_signals=False)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        """Stop listening and close the upstream connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- forwarding -----------------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        seen = Seen(request.method, request.path_qs, dict(request.headers))
        self.requests.append(seen)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if request.headers.get("Expect", "").lower() == "100-continue":
                # The low-level server leaves this to the handler; the client waits for it.
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await request.read()
            if self.delay:
                await asyncio.sleep(self.delay)
            response = self._injected() or await self._forward(request, body)
            seen.status = response.status
            return response
        finally:
            self._in_flight -= 1

    def _injected(self) -> web.Response | None:
        status = self._deny_status
        if status is None and self._fail_left > 0:
            self._fail_left -= 1
            status = self._fail_status
        if status is None:
            return None
        code = _CODES.get(status, "InjectedFault")
        xml = f"<Error><Code>{code}</Code><Message>injected by FaultProxy</Message></Error>"
        return web.Response(status=status, text=xml, content_type="application/xml")

    async def _forward(self, request: web.BaseRequest, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        data = body if body or "Content-Length" in headers else None
        async with self._session.request(
            request.method,
            self.upstream + request.raw_path,
            headers=headers,
            data=data,
            allow_redirects=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
        ) as upstream:
            payload = await upstream.read()
            reply: dict[str, Any] = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
            }
            status = upstream.status
            length = upstream.headers.get("Content-Length")
        if payload and self._corrupt_left > 0:
            self._corrupt_left -= 1
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        if request.method == "HEAD" and length is not None:
            # No body to measure: pass the upstream length through as it is.
            return web.Response(status=status, headers={**reply, "Content-Length": length})
        return web.Response(status=status, body=payload, headers=reply)
