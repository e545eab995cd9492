"""A fault-injecting HTTP proxy on 127.0.0.1, put between a backend and its server.

It runs inside the test's event loop and forwards every request, headers and body unchanged
(``Host`` included, so signed requests stay valid), to one upstream server. Faults are injected
by rules, each for every matching request, for the first ``first`` of them, or for a seeded
random ``fraction`` of them::

    async with FaultProxy(server.url) as proxy:
        store = S3Raw(endpoint_url=proxy.url)
        errors = proxy.inject(STATUS, status=503, first=3)  # the next 3 requests get 503
        proxy.inject(STATUS, status=500, fraction=0.1, seed=1)  # 10 % of requests get 500
        proxy.inject(RESET)  # connection reset before any answer
        proxy.inject(RESET_BODY, methods={"GET"})  # reset after half of the body was sent
        proxy.inject(TRUNCATE, first=1)  # body closed short of its Content-Length
        proxy.inject(LATENCY, seconds=0.05)  # added to every request, combined with the rest
        proxy.inject(HANG)  # never answer (until the proxy stops)
        proxy.inject(CORRUPT, first=1)  # flip the first byte of the next non-empty body
        ...
        assert errors.injected == 3
        assert proxy.faults == 3 + ...  # every fault injected (latency not counted)

Rules are asked in the order added; latency rules all apply, then the first other rule that
fires decides. ``STATUS``, ``RESET`` and ``HANG`` act before the request is forwarded (the
server never sees it); ``TRUNCATE``, ``RESET_BODY`` and ``CORRUPT`` act on the server's answer
and fire only for non-empty bodies. Injected errors carry an S3-style XML body (``SlowDown``,
``InternalError``, ...); backends that read only the status work the same.

The older one-call helpers (``fail_next``, ``deny``, ``corrupt_next``, ``heal``, ``delay``) are
rules too; ``tests.faultproxy`` re-exports this module for the tests written against it.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from typing_extensions import Self

__all__ = [
    "CORRUPT",
    "HANG",
    "LATENCY",
    "RESET",
    "RESET_BODY",
    "STATUS",
    "TRUNCATE",
    "FaultProxy",
    "Rule",
    "Seen",
    "open_connections",
]

STATUS = "status"
RESET = "reset"
HANG = "hang"
LATENCY = "latency"
TRUNCATE = "truncate"
RESET_BODY = "reset-body"
CORRUPT = "corrupt"
_BEFORE = frozenset({STATUS, RESET, HANG})
_AFTER = frozenset({TRUNCATE, RESET_BODY, CORRUPT})
_KINDS = _BEFORE | _AFTER | {LATENCY}

_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "expect",
})  # fmt: skip
_CODES = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown", 429: "TooManyRequests"}


@dataclass
class Seen:
    """One request the proxy received, the status it answered with and the fault injected."""

    method: str
    path: str
    headers: dict[str, str]
    status: int = 0  # 0: no status was sent (reset, hung, or still in progress)
    fault: str | None = None

    @property
    def access_key(self) -> str | None:
        """The access key id of a SigV4 ``Authorization`` header (None when unsigned)."""
        auth = self.headers.get("Authorization", "")
        if "Credential=" not in auth:
            return None
        return auth.split("Credential=", 1)[1].split("/", 1)[0]


@dataclass
class Rule:
    """One kind of fault and the requests it applies to.

    Attributes:
        kind: ``STATUS``, ``RESET``, ``HANG``, ``LATENCY``, ``TRUNCATE``, ``RESET_BODY`` or
            ``CORRUPT``.
        status: the status answered by a ``STATUS`` rule.
        seconds: the delay of a ``LATENCY`` rule; how long a ``HANG`` lasts (None: until the
            proxy stops) before the connection is reset. Both end early when the proxy stops.
        first: fire for the first ``first`` requests this rule applies to only.
        fraction: fire for this fraction of them (drawn from ``random.Random(seed)``).
        methods: HTTP methods the rule applies to (None: all).
        path: a substring the request's path must contain (None: any path).
        keep: the fraction of a body sent before ``TRUNCATE`` or ``RESET_BODY`` cuts it.
        echo_headers: a ``STATUS`` answer quotes the request's headers in its message, as a
            careless server might (for tests that secrets are scrubbed from server messages).
        injected: how many times the rule fired.
    """

    kind: str
    status: int = 503
    seconds: float | None = None
    first: int | None = None
    fraction: float | None = None
    methods: Collection[str] | None = None
    path: str | None = None
    keep: float = 0.5
    echo_headers: bool = False
    seed: int | None = 0
    injected: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {sorted(_KINDS)}")
        if self.first is not None and self.fraction is not None:
            raise ValueError("give first= or fraction=, not both")
        if self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must be within [0, 1], not {self.fraction}")
        self._random = random.Random(self.seed)

    def applies(self, seen: Seen) -> bool:
        """Whether the request is one this rule is about (whether it fires is :meth:`fires`)."""
        if self.methods is not None and seen.method not in self.methods:
            return False
        return self.path is None or self.path in seen.path

    def fires(self) -> bool:
        """Decide for one applicable request; counts the fault when it fires."""
        if self.first is not None:
            fire = self.injected < self.first
        elif self.fraction is not None:
            fire = self._random.random() < self.fraction
        else:
            fire = True
        if fire:
            self.injected += 1
        return fire


class FaultProxy:
    """Forwards to ``upstream``, injecting the faults of its rules.

    Attributes:
        url: ``http://127.0.0.1:PORT`` of the proxy (valid between start and stop).
        port: its port.
        requests: every request received, in order.
        rules: the rules, in the order they are asked.
        delay: seconds each request waits before it is forwarded (or failed).
        max_in_flight: the most requests handled at once so far.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Seen] = []
        self.rules: list[Rule] = []
        self.delay = 0.0
        self.max_in_flight = 0
        self.url = ""
        self.port = 0
        self._in_flight = 0
        self._legacy: dict[str, Rule] = {}
        self._stopping = asyncio.Event()
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- rules ----------------------------------------------------------------------------------

    def inject(self, kind: str, **options: Any) -> Rule:
        """Add a :class:`Rule` of ``kind`` (options as its attributes) and return it."""
        rule = Rule(kind, **options)
        self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        """Stop applying ``rule`` (its count stays readable)."""
        if rule in self.rules:
            self.rules.remove(rule)

    def heal(self) -> None:
        """Stop injecting faults (the delay stays)."""
        self.rules.clear()
        self._legacy.clear()

    @property
    def faults(self) -> int:
        """Faults injected so far by every rule still in place, latency not counted."""
        return sum(r.injected for r in self.rules if r.kind != LATENCY)

    def count(self, method: str | None = None) -> int:
        """How many requests (of ``method``) the proxy received."""
        return sum(1 for r in self.requests if method is None or r.method == method)

    def count_faults(self, kind: str | None = None) -> int:
        """How many received requests met a fault (of ``kind``), whatever rule injected it."""
        return sum(1 for r in self.requests if r.fault and (kind is None or r.fault == kind))

    # The helpers of the first version, kept for the tests written against them.

    def _replace(self, name: str, rule: Rule) -> None:
        old = self._legacy.pop(name, None)
        if old is not None:
            self.remove(old)
        self._legacy[name] = rule
        self.rules.insert(0, rule)

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` instead of forwarding them."""
        self._replace("fail", Rule(STATUS, status=status, first=count))

    def deny(self, status: int = 403) -> None:
        """Answer every request with ``status`` until :meth:`heal`."""
        self._replace("deny", Rule(STATUS, status=status))

    def corrupt_next(self, count: int) -> None:
        """Flip the first byte of the next ``count`` non-empty response bodies."""
        self._replace("corrupt", Rule(CORRUPT, first=count))

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on a free 127.0.0.1 port (inside the running loop)."""
        self._stopping = asyncio.Event()
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.ServerRunner(web.Server(self._handle), handle_signals=False)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        """Release hung requests, stop listening and close the upstream connections."""
        self._stopping.set()
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

    # -- handling -------------------------------------------------------------------------------

    def _pick(self, seen: Seen, kinds: frozenset[str]) -> Rule | None:
        for rule in self.rules:
            if rule.kind in kinds and rule.applies(seen) and rule.fires():
                seen.fault = rule.kind
                return rule
        return None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        seen = Seen(request.method, request.path_qs, dict(request.headers))
        self.requests.append(seen)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if request.headers.get("Expect", "").lower() == "100-continue":
                # The low-level server leaves this to the handler; the client waits for it.
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await request.content.read()  # request.read() would refuse over 1 MiB
            delay = self.delay + sum(
                r.seconds or 0.0
                for r in self.rules
                if r.kind == LATENCY and r.applies(seen) and r.fires()
            )
            if delay and not await self._hang(delay):
                _reset(request)  # the proxy is stopping: do not keep it waiting
                return web.Response(status=599)  # never sent: the connection is gone
            response = await self._answer(request, seen, body)
            if seen.fault not in (RESET, HANG):
                seen.status = response.status
            return response
        finally:
            self._in_flight -= 1

    async def _answer(self, request: web.BaseRequest, seen: Seen, body: bytes) -> Any:
        rule = self._pick(seen, _BEFORE)
        if rule is not None and rule.kind == STATUS:
            return _error_response(rule, seen)
        if rule is not None:  # RESET or HANG
            if rule.kind == HANG:
                await self._hang(rule.seconds)
            _reset(request)
            return web.Response(status=599)  # never sent: the connection is gone
        status, headers, payload = await self._forward(request, body)
        if request.method == "HEAD" or not payload:
            return web.Response(status=status, headers=headers)
        rule = self._pick(seen, _AFTER)
        if rule is None:
            return web.Response(status=status, body=payload, headers=headers)
        if rule.kind == CORRUPT:
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
            return web.Response(status=status, body=payload, headers=headers)
        # TRUNCATE or RESET_BODY: promise the whole body, send part of it, then hang up.
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(payload)
        await response.prepare(request)
        await response.write(payload[: int(len(payload) * rule.keep)])
        if rule.kind == RESET_BODY:
            _reset(request)
        elif request.transport is not None:
            request.transport.close()  # a clean close, short of Content-Length
        return response

    async def _hang(self, seconds: float | None) -> bool:
        """Wait ``seconds`` (None: forever); False if the proxy began to stop meanwhile."""
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait([stopping], timeout=seconds)
        finally:
            stopping.cancel()
        return not self._stopping.is_set()

    async def _forward(
        self, request: web.BaseRequest, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
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
            reply = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
            }
            length = upstream.headers.get("Content-Length")
            if request.method == "HEAD" and length is not None:
                reply["Content-Length"] = length  # no body to measure: pass it through
            return upstream.status, reply, payload


def _error_response(rule: Rule, seen: Seen) -> web.Response:
    code = _CODES.get(rule.status, "InjectedFault")
    message = "injected by FaultProxy"
    if rule.echo_headers:
        message += "; request headers: " + "; ".join(f"{k}={v}" for k, v in seen.headers.items())
    xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=rule.status, text=xml, content_type="application/xml")


def _reset(request: web.BaseRequest) -> None:
    """Drop the client's connection with a TCP reset (RST), not an orderly close."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


_OPEN_STATES = {"01", "08"}  # ESTABLISHED, CLOSE_WAIT (the peer hung up, we did not close)


def open_connections(port: int) -> int:
    """How many TCP connections to 127.0.0.1:``port`` are still open on the client side.

    Read from ``/proc/net/tcp``: a connection counts while ESTABLISHED or in CLOSE_WAIT (the
    server closed it but the client never did, the mark of a leaked socket).
    """
    target = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        return sum(
            1
            for line in table
            if (fields := line.split())[2] == target and fields[3] in _OPEN_STATES
        )
