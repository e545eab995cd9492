"""A small HTTP/1.1 keep-alive client for the S3 hot path's GETs: :class:`Pool`.

aiohttp's per-request machinery (URL objects, header multidicts built and checked twice, the
request and response objects, the connector's bookkeeping) costs several times what a GET of
a small object needs. A :class:`Pool` sends a request as bytes already built and reads the
answer with ``httptools`` (the llhttp parser): status, headers and body are collected by the
parser's callbacks on an :class:`asyncio.Protocol`, and the caller gets them once the message is
complete.

Only GET is spoken (a HEAD answer's framing differs, a PUT has a body to send): everything else
stays on aiohttp. The rules that keep it as correct as aiohttp:

- a connection goes back to the idle list only after a complete message that allows keep-alive,
  with no stray bytes after it; any other outcome (an error, a cancellation or time limit while
  waiting, a parse error, ``Connection: close``) closes it;
- a body cut short, a connection reset or a malformed answer raise :class:`BrokenResponse` (a
  ``ConnectionError``, so retried as transient): partial data is never returned;
- a reused connection the server had already closed is noticed before use when its close has
  arrived, and otherwise when it closes before the first byte of the answer: the request is
  then sent once more on a new connection (GETs are idempotent);
- https endpoints use a default :class:`ssl.SSLContext` (certificates and host names checked).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from typing import cast
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

__all__ = ["BrokenResponse", "ConnectFailed", "Pool", "Response"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NO_BODY = (204, 304)


class BrokenResponse(ConnectionError):
    """The connection closed, or the answer was malformed, before a whole response arrived."""


class ConnectFailed(ConnectionError):
    """No connection could be made (name lookup, refusal, TLS handshake or certificate)."""


class _Stale(BrokenResponse):
    """A reused connection closed before any byte of the answer: safe to send again."""


class Response:
    """A complete answer: status, headers (case-insensitive) and the whole body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Connection(asyncio.Protocol):
    """One connection: sends a request, parses its answer, and says whether it can be reused."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._answered = False  # a byte of the current answer arrived
        self._complete = False  # the current answer is whole
        self._until_eof = False  # the body has no length: it ends when the connection does
        self._reused = False
        self.usable = False  # idle, open, and clean after a complete keep-alive answer
        self.lost: asyncio.Future[None] = loop.create_future()

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._complete:  # nothing was asked: the stream is corrupt
            self.usable = False
            self.close()
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(BrokenResponse(f"malformed HTTP answer: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if not self.lost.done():
            self.lost.set_result(None)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._until_eof:  # the answer's framing was "until the close"
            self._complete = True
            waiter.set_result(None)
        elif self._reused and not self._answered:
            waiter.set_exception(_Stale("the server had closed the idle connection"))
        else:
            what = "before the answer was complete" if self._answered else "without an answer"
            reason = f" ({exc})" if exc is not None else ""
            waiter.set_exception(BrokenResponse(f"connection closed {what}{reason}"))

    # -- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:  # bytes after the whole answer: nothing more was asked for
            raise BrokenResponse("unrequested bytes after the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._status = status = self._parser.get_status_code()
        if status >= 200 and status not in _NO_BODY:
            names = {name.lower() for name, _ in self._headers}
            self._until_eof = "content-length" not in names and "transfer-encoding" not in names

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._headers = []
            return
        self._complete = True
        self.usable = self._parser.should_keep_alive() and not self._until_eof
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- the exchange -----------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        self.usable = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    async def exchange(self, request: bytes, *, reused: bool) -> Response:
        """Send ``request`` and wait for the whole answer (the connection must be idle)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise _Stale("the connection is closed") if reused else BrokenResponse("closed")
        self.usable = False  # until this answer has been read whole
        self._status, self._headers, self._body = 0, [], []
        self._answered = self._complete = self._until_eof = False
        self._reused = reused
        self._waiter = waiter = self._loop.create_future()
        transport.write(request)
        try:
            await waiter
        finally:
            self._waiter = None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        return Response(self._status, CIMultiDict(self._headers), body)

    def close(self) -> None:
        """Close the connection (at once; ``lost`` completes when it is gone)."""
        self.usable = False
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection without a TLS goodbye."""
        self.usable = False
        if self._transport is not None:
            self._transport.abort()


@functools.lru_cache(maxsize=64)
def _address(scheme: str, host: str) -> tuple[str, int]:
    """The name to connect to and the port, from a ``Host`` header (``[::1]:9000`` too)."""
    parts = urlsplit(f"{scheme}://{host}")
    return parts.hostname or "", parts.port or _DEFAULT_PORTS[scheme]


class Pool:
    """Keep-alive connections per (scheme, host), at most ``limit`` of them idle per host.

    The number in use is bounded by the caller (the store's request slots); a request takes an
    idle connection or opens one, and gives it back only if it is clean after a whole answer.

    Args:
        limit: how many idle connections to keep per host.
        context: for https, instead of :func:`ssl.create_default_context` (say, trusting a
            private CA); it should verify certificates and host names as the default does.
    """

    def __init__(self, limit: int, context: ssl.SSLContext | None = None) -> None:
        self._limit = limit
        self._idle: dict[tuple[str, str], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._ssl = context
        self._closed = False

    async def get(self, scheme: str, host: str, path: str, headers: dict[str, str]) -> Response:
        """GET ``path`` from ``host`` (the ``Host`` header, as signed) with ``headers``.

        ``headers`` must hold ``Host``; names and values must not contain CR or LF.

        Raises:
            BrokenResponse: no whole answer (the request may be sent again).
            ConnectFailed: no connection could be made.
        """
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        count = len(headers)  # each line ends in CRLF; any other CR or LF would start a header
        if lines.count("\n") != count or lines.count("\r") != count:
            raise ValueError("a header name or value holds a line break")
        request = f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")
        key = (scheme, host)
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.usable:
                conn.close()
                continue
            try:
                return await self._exchange(key, conn, request, reused=True)
            except _Stale:
                break  # its siblings are likely stale too: the second try is on a new one
        return await self._exchange(key, await self._connect(scheme, host), request, reused=False)

    async def _exchange(
        self, key: tuple[str, str], conn: _Connection, request: bytes, *, reused: bool
    ) -> Response:
        try:
            response = await conn.exchange(request, reused=reused)
        except BaseException:  # errors, cancellations, time limits: never reused
            conn.close()
            raise
        if not conn.usable or self._closed:
            conn.close()
            return response
        idle = self._idle.setdefault(key, [])
        if len(idle) < self._limit:
            idle.append(conn)
        else:
            conn.close()
        return response

    async def _connect(self, scheme: str, host: str) -> _Connection:
        if self._closed:
            raise BrokenResponse("the connection pool is closed")
        loop = asyncio.get_running_loop()
        name, port = _address(scheme, host)
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(loop), name, port, ssl=context,
                server_hostname=name if context is not None else None,
            )  # fmt: skip
        except OSError as exc:  # gaierror and SSLError too, which are no ConnectionError
            raise ConnectFailed(f"cannot connect to {host}: {exc}") from exc
        if self._closed:  # closed while connecting
            conn.close()
            raise BrokenResponse("the connection pool is closed")
        self._open.add(conn)
        conn.lost.add_done_callback(lambda _: self._open.discard(conn))
        return conn

    async def close(self) -> None:
        """Close every connection, idle or in use, and wait (a little) until they are gone."""
        self._closed = True
        self._idle.clear()
        conns = list(self._open)
        for conn in conns:
            conn.close()
        if conns:  # a TLS close waits for the server's goodbye: not for long
            _, pending = await asyncio.wait([conn.lost for conn in conns], timeout=2)
            for conn in conns:
                if conn.lost in pending:
                    conn.abort()
