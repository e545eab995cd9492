"""A small HTTP/1.1 keep-alive client for the S3 hot path's GETs: `Pool`.

aiohttp's per-request machinery (URL objects, header multidicts built and checked twice, the
request and response objects, the connector's bookkeeping) costs several times what a GET of
a small object needs. A `Pool` sends a request as bytes already built and reads the
answer with ``httptools`` (the llhttp parser) on an `asyncio.BufferedProtocol`, and the
caller gets it once the message is complete.

A body whose ``Content-Length`` is at least `DIRECT_FROM` is copied once: once the head is
parsed, the socket is read straight into the `bytes` object handed to the caller (a
`BodyBuffer`), so a large GET holds about one body's worth of memory, not two. A smaller body
is taken from the parser: one slice of the read when it comes with the head (the usual case),
its pieces joined otherwise, which costs less than setting up the direct read. A chunked body
is read through the parser in pieces and joined (bounded by ``max_body`` all the same).

A request may name where its body goes (``into``, a writable view, say the slice of a larger
buffer where one range of an object belongs): a 206 answer whose ``Content-Length`` is exactly
the view's length is received straight into it, whatever its size, and the `Response` says so
(``placed``, with an empty ``body``). Any other answer (an error, a 200, another length) is read
as usual. The view may hold part of a body when the exchange fails: its bytes count only
once a whole answer was placed.

Only GET is spoken (a HEAD answer's framing differs, a PUT has a body to send): everything else
stays on aiohttp. The rules that keep it as correct as aiohttp:

- a connection goes back to the idle list only after a complete message that allows keep-alive,
  with no stray bytes after it; any other outcome (an error, a cancellation or time limit while
  waiting, a parse error, ``Connection: close``) closes it;
- a body cut short, a connection reset or a malformed answer raise `BrokenResponse` (a
  ``ConnectionError``, so retried as transient): partial data is never returned; so does an
  answer with a body but neither ``Content-Length`` nor chunked framing (S3 always frames its
  bodies, and a body "until the close" cannot tell a cut from the end);
- every buffer has a bound: the head (64 KiB, lines of at most 8190 bytes, at most 128
  headers, about as aiohttp's parser allows) and the body (``max_body``: a larger announced
  length or chunked body raises `BodyTooLarge`, and the connection is dropped);
- a reused connection the server had already closed is noticed before use when its close has
  arrived, and otherwise when it closes before the first byte of the answer: the request is
  then sent once more on a new connection (GETs are idempotent);
- https endpoints use a default `ssl.SSLContext` (certificates and host names checked)
  unless the pool is given one;
- a request head holding a control character or a character outside Latin-1 is refused with
  ``ValueError`` before anything is sent.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from .buffers import BodyBuffer as _Sink
from .buffers import ViewSink

__all__ = ["BodyTooLarge", "BrokenResponse", "ConnectFailed", "Pool", "Response"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NO_BODY = (204, 304)
MAX_HEAD = 64 << 10  # bytes of status line and headers
MAX_FIELD = 8190  # bytes of one header (name and value), as aiohttp's parser
MAX_HEADERS = 128
_ORDINARY = bytes([*range(0x20, 0x7F), *range(0x80, 0x100)])  # all but control bytes
_SCRATCH = 64 << 10  # bytes read at a time while a head (or a chunked body) is parsed
_TAIL = 16 << 10  # the last bytes of a body read directly, read through the scratch buffer
#: Bodies of known length from this size on are read straight into their final buffer; smaller
#: ones are taken from the parser (one slice of the read when they come with the head), where
#: the sink's setup (a zero-filled buffer, a fresh parser for the next answer) costs more than
#: the second copy it saves.
DIRECT_FROM = 128 << 10


class BrokenResponse(ConnectionError):
    """The connection closed, or the answer was malformed, before a whole response arrived."""


class ConnectFailed(ConnectionError):
    """No connection could be made (name lookup, refusal, TLS handshake or certificate)."""


class BodyTooLarge(Exception):
    """The answer's body is larger than the pool reads (``size``: its length, if announced)."""

    def __init__(self, size: int | None) -> None:
        super().__init__(f"the body has {size if size is not None else 'more'} bytes")
        self.size = size


class _Stale(BrokenResponse):
    """A reused connection closed before any byte of the answer: safe to send again."""


@dataclass(frozen=True)
class _Request:
    """One GET to send: the bytes of its head, and how its answer's body is received.

    Attributes:
        head: the request, as `_request_head` builds it.
        max_body: lowers the pool's bound on the body for this request.
        into: where a 206 body of exactly its length goes.
    """

    head: bytes
    max_body: int | None = None
    into: memoryview | None = None


class Response:
    """A complete answer: status, headers (case-insensitive) and the whole body.

    ``placed``: the body was received into the request's ``into`` view (``body`` is empty).
    """

    __slots__ = ("body", "headers", "placed", "status")

    def __init__(
        self, status: int, headers: CIMultiDict[str], body: bytes, placed: bool = False
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.placed = placed


class _Connection(asyncio.BufferedProtocol):
    """One connection: sends a request, parses its answer, and says whether it can be reused."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_body: int) -> None:
        self._loop = loop
        self._max_body = max_body  # the pool's bound
        self._bound = max_body  # the bound of the current answer
        self._error: BaseException | None = None  # raised by a callback, kept for the waiter
        self._head = 0  # bytes fed before the headers were complete; -1 once they are
        self._size = 0  # bytes of body so far
        self._length: bytes | None = None  # the Content-Length header's value
        self._expected = -1  # the body's length, once announced, if it is to be read directly
        self._chunked = False  # a Transfer-Encoding header came
        self._keep_alive = False
        self._parser = httptools.HttpResponseParser(self)
        self._spent = False  # the parser was left mid-body: the next answer needs a new one
        self._scratch: memoryview | None = None
        self._into_sink = False  # the last buffer given to the transport was the body's
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._sink: _Sink | ViewSink | None = None
        self._into: memoryview | None = None  # where the current answer's body may go
        self._placing = False  # the current answer's body goes into `_into`
        self._answered = False  # a byte of the current answer arrived
        self._complete = False  # the current answer is whole
        self._reused = False
        self.usable = False  # idle, open, and clean after a complete keep-alive answer
        self.lost: asyncio.Future[None] = loop.create_future()

    # -- asyncio.BufferedProtocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's is no subclass

    def get_buffer(self, sizehint: int) -> memoryview:
        sink = self._sink
        if sink is not None and not self._complete:
            # The body's last bytes come through the (larger) scratch buffer, where bytes after
            # the body (which must end reuse) show up in the same read as its end.
            direct = sink.missing - _TAIL
            if direct > 0:
                self._into_sink = True
                return sink.rest(direct)
        self._into_sink = False
        if self._scratch is None:
            self._scratch = memoryview(bytearray(_SCRATCH))
        return self._scratch

    def buffer_updated(self, nbytes: int) -> None:
        sink = self._sink
        if self._into_sink:
            assert sink is not None
            sink.received(nbytes)
            return
        assert self._scratch is not None
        data = self._scratch[:nbytes]
        if sink is None or self._complete:
            self._feed(data)
            return
        take = min(nbytes, sink.missing)
        sink.write(data[:take])
        if not sink.missing:
            self._done(self._keep_alive and take == nbytes)

    def _feed(self, data: memoryview) -> None:
        if self._waiter is None or self._complete:  # nothing was asked: the stream is corrupt
            self.usable = False
            self.close()
            return
        self._answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(self._error or BrokenResponse(f"malformed HTTP answer: {exc}"))
            return
        if self._head >= 0:
            self._head += len(data)
            if self._head > MAX_HEAD:
                self._fail(BrokenResponse(f"the answer's head exceeds {MAX_HEAD} bytes"))
        elif self._expected > 0 and not self._complete:
            self._read_direct()

    def _read_direct(self) -> None:
        """Read the rest of a body of known length into its final buffer, past the parser."""
        self._sink = self._filled_sink()
        self._spent = True

    def _filled_sink(self) -> _Sink | ViewSink:
        """The body's destination, holding the pieces the parser gave so far."""
        if self._placing:
            assert self._into is not None
            sink: _Sink | ViewSink = ViewSink(self._into)
        else:
            sink = _Sink(self._expected)
        for piece in self._body:
            sink.write(piece)
        self._body = []
        return sink

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        if not self.lost.done():
            self.lost.set_result(None)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._reused and not self._answered:
            waiter.set_exception(_Stale("the server had closed the idle connection"))
        else:
            what = "before the answer was complete" if self._answered else "without an answer"
            reason = f" ({exc})" if exc is not None else ""
            waiter.set_exception(BrokenResponse(f"connection closed {what}{reason}"))

    # -- httptools callbacks ----------------------------------------------------------------------

    def _refuse(self, exc: BaseException) -> None:
        """Fail the answer from inside a parser callback (the parser then stops)."""
        self._error = exc
        raise exc

    def on_message_begin(self) -> None:
        if self._complete:  # bytes after the whole answer: nothing more was asked for
            self._refuse(BrokenResponse("unrequested bytes after the answer"))

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) > MAX_FIELD:
            self._refuse(BrokenResponse(f"a header of the answer exceeds {MAX_FIELD} bytes"))
        if len(self._headers) >= MAX_HEADERS:
            self._refuse(BrokenResponse(f"the answer has more than {MAX_HEADERS} headers"))
        if len(name) == 14 and name.lower() == b"content-length":
            self._length = value
        elif len(name) == 17 and name.lower() == b"transfer-encoding":
            self._chunked = True
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self._status = status = self._parser.get_status_code()
        self._head = -1
        if status < 200 or status in _NO_BODY:
            return
        length = self._length
        if length is None:
            if not self._chunked:
                self._refuse(BrokenResponse("the answer has neither Content-Length nor chunking"))
        elif length.isdigit():  # llhttp checks its form
            size = int(length)
            if size > self._bound:
                self._refuse(BodyTooLarge(size))
            if self._chunked:
                return
            into = self._into
            self._placing = status == 206 and into is not None and size == into.nbytes
            if self._placing or size >= DIRECT_FROM:
                self._expected = size
                self._keep_alive = self._parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._bound:
            self._refuse(BodyTooLarge(None))
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            self._headers = []
            self._head, self._length, self._chunked = 0, None, False
            return
        self._done(self._parser.should_keep_alive())

    def _done(self, keep_alive: bool) -> None:
        self._complete = True
        self.usable = keep_alive
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- the exchange -----------------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        self.usable = False
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    async def exchange(self, request: _Request, *, reused: bool) -> Response:
        """Send ``request`` and wait for the whole answer (the connection must be idle); a
        206 body of exactly ``request.into``'s length is received into that view."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise _Stale("the connection is closed") if reused else BrokenResponse("closed")
        self.usable = False  # until this answer has been read whole
        if self._spent:
            self._parser, self._spent = httptools.HttpResponseParser(self), False
        self._status, self._headers, self._body, self._sink = 0, [], [], None
        self._answered = self._complete = False
        self._error, self._head, self._size, self._expected = None, 0, 0, -1
        self._length, self._chunked = None, False
        self._into, self._placing = request.into, False
        max_body = request.max_body
        self._bound = self._max_body if max_body is None else min(max_body, self._max_body)
        self._reused = reused
        self._waiter = waiter = self._loop.create_future()
        transport.write(request.head)
        try:
            await waiter
            sink = self._sink
            if sink is None and self._placing:  # the whole body came with the head
                sink = self._filled_sink()
        finally:
            # Whatever the outcome, no later read may write into the caller's view.
            self._waiter, self._sink, self._into = None, None, None
        if sink is not None:  # read by now, so the transport holds no view of it
            body = sink.value()
        else:
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._body = []
        return Response(self._status, CIMultiDict(self._headers), body, self._placing)

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


def _request_head(path: str, headers: dict[str, str]) -> bytes:
    """The bytes of a GET's head, refused if any part could change its meaning."""
    lines = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
    try:
        head = f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError("a header or the path holds a character outside Latin-1") from None
    # What is left once every ordinary byte is dropped must be the line ends alone.
    ends = b"\r\n" * (len(headers) + 2)  # the request line's, each header's, the blank line's
    if head.translate(None, _ORDINARY) != ends or " " in path:
        raise ValueError("a header or the path holds a line break or another control character")
    return head


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
        context: for https, instead of `ssl.create_default_context` (say, trusting a
            private CA); it should verify certificates and host names as the default does.
        max_body: the largest body read; a larger one raises `BodyTooLarge`.
    """

    def __init__(
        self, limit: int, context: ssl.SSLContext | None = None, *, max_body: int = 5 << 30
    ) -> None:
        self._limit = limit
        self._max_body = max_body
        self._idle: dict[tuple[str, str], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._ssl = context
        self._closed = False

    async def get(
        self,
        scheme: str,
        host: str,
        path: str,
        headers: dict[str, str],
        *,
        max_body: int | None = None,
        into: memoryview | None = None,
    ) -> Response:
        """GET ``path`` from ``host`` (the ``Host`` header, as signed) with ``headers``.

        ``headers`` must hold ``Host``; ``path`` must be percent-encoded (a query string
        included). ``max_body`` lowers the pool's bound on the body for this request.
        ``into``: where a 206 answer's body of exactly ``into.nbytes`` bytes goes (the
        answer is then ``placed``); it may hold part of a body if this raises.

        Raises:
            ValueError: a header or the path holds a line break, another control character,
                or a character outside Latin-1, or ``into`` is read-only or not contiguous
                (nothing is sent).
            BrokenResponse: no whole answer (the request may be sent again).
            ConnectFailed: no connection could be made.
            BodyTooLarge: the body is larger than ``max_body`` (nothing is returned).
        """
        request = _Request(_request_head(path, headers), max_body, into)
        if into is not None and (into.readonly or not into.c_contiguous):
            raise ValueError("into must be a writable, contiguous view")
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
        conn = await self._connect(scheme, host)
        return await self._exchange(key, conn, request, reused=False)

    async def _exchange(
        self, key: tuple[str, str], conn: _Connection, request: _Request, *, reused: bool
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
                lambda: _Connection(loop, self._max_body), name, port, ssl=context,
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
