"""The S3 fast path's HTTP/1.1 client (``raw/_h1.py``) against servers on 127.0.0.1.

Framing (Content-Length, chunked, cut short), connection reuse and its failures (an idle
connection the server closed, a request cancelled mid-flight, stray bytes), the Host header for
non-default ports and IPv6 literals, and TLS verification. Most servers here are scripted
``asyncio.start_server`` handlers, so each byte on the wire is the test's choice; chunked
encoding comes from aiohttp's own server.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from asyncbitstore import S3Raw, StoreNotAvailable
from asyncbitstore.raw._net.h1 import BrokenResponse, ConnectFailed, Pool
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import HANG, RESET_BODY, TRUNCATE, FaultProxy
from tests.hostile import Scripted, keep_alive, ok
from tests.tls import self_signed


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    pool = Pool(4)
    yield pool
    await pool.close()


async def get(pool: Pool, server: Scripted, path: str = "/a") -> bytes:
    answer = await pool.get("http", server.authority, path, {"Host": server.authority})
    assert answer.status == 200
    return answer.body


# -- framing ------------------------------------------------------------------------------------


async def test_bodies_split_across_packets_are_whole_and_the_connection_is_kept(
    pool: Pool,
) -> None:
    async def slow(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            for part in (b"HTTP/1.1 200 OK\r\nConte", b"nt-Length: 6\r\nX-Amz-Id-2: i\r\n\r\nab",
                         b"cd", b"ef"):  # fmt: skip
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.01)

    async with Scripted(slow) as server:
        for _ in range(3):
            answer = await pool.get("http", server.authority, "/k", {"Host": server.authority})
            assert answer.body == b"abcdef"
            assert answer.headers["x-amz-id-2"] == answer.headers["X-AMZ-ID-2"] == "i"
        assert server.connections == 1
    assert server.requests[0].startswith(b"GET /k HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n".encode() in server.requests[0]


async def test_a_chunked_body_is_joined_and_the_connection_reused(pool: Pool) -> None:
    peers: set[Any] = set()

    async def chunked(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"first ", b"", b"second ", b"x" * 70000):
            await response.write(part)
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{name}", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        for _ in range(3):
            answer = await pool.get("http", f"127.0.0.1:{port}", "/c", {"Host": "x"})
            assert answer.status == 200 and "Content-Length" not in answer.headers
            assert answer.headers["transfer-encoding"] == "chunked"
            assert answer.body == b"first second " + b"x" * 70000
        assert len(peers) == 1
    finally:
        await pool.close()
        await runner.cleanup()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Len",
        b"",
    ],
    ids=["content-length", "chunked", "in-the-headers", "no-answer"],
)
async def test_an_answer_cut_short_is_an_error_never_partial_data(
    pool: Pool, answer: bytes
) -> None:
    async def cut(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(answer)
        await writer.drain()

    async with Scripted(cut) as server:
        with pytest.raises(BrokenResponse):
            await get(pool, server)


async def test_a_reset_mid_body_is_an_error(pool: Pool) -> None:
    async def reset(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 50)
        await writer.drain()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    async with Scripted(reset) as server:
        with pytest.raises(ConnectionError):
            await get(pool, server)


async def test_a_malformed_answer_is_an_error(pool: Pool) -> None:
    async def garbage(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"SPDY/9 hello\r\n\r\n")
        await server.head(reader)

    async with Scripted(garbage) as server:
        with pytest.raises(BrokenResponse, match="malformed"):
            await get(pool, server)


async def test_a_body_ending_with_the_connection_is_refused(pool: Pool) -> None:
    async def until_eof(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")

    async with Scripted(until_eof) as server:  # a cut could not be told from the end
        with pytest.raises(BrokenResponse, match="neither Content-Length nor chunking"):
            await get(pool, server)


# -- reuse --------------------------------------------------------------------------------------


async def test_connections_are_reused_up_to_the_idle_limit(pool: Pool) -> None:
    async with Scripted(keep_alive) as server:
        bodies = await asyncio.gather(*(get(pool, server, f"/{i}") for i in range(8)))
        assert bodies == [f"/{i}".encode() for i in range(8)]
        opened = server.connections
        await asyncio.gather(*(get(pool, server, f"/{i}") for i in range(4)))
        assert server.connections == opened  # four kept idle, and used again
        assert server.eofs == opened - 4  # the rest closed at once


async def test_connection_close_and_stray_bytes_end_reuse(pool: Pool) -> None:
    async def answers(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            if b"/close" in head:
                writer.write(ok(b"bye", "Connection: close\r\n"))
            elif b"/stray" in head:
                writer.write(ok(b"done") + b"HTTP/1.1 200 OK\r\n")
            else:
                writer.write(ok(b"kept"))

    async with Scripted(answers) as server:
        assert await get(pool, server, "/close") == b"bye"
        assert await get(pool, server, "/stray") == b"done"
        assert await get(pool, server, "/x") == b"kept"
        assert await get(pool, server, "/x") == b"kept"
        assert server.connections == 3


async def test_an_interim_100_answer_is_skipped(pool: Pool) -> None:
    async def interim(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(b"HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n" + ok(b"real"))

    async with Scripted(interim) as server:
        answer = await pool.get("http", server.authority, "/", {"Host": server.authority})
        assert answer.body == b"real" and "X-Early" not in answer.headers
        assert await get(pool, server) == b"real"
        assert server.connections == 1


async def test_an_idle_connection_the_server_closed_is_not_used(pool: Pool) -> None:
    async def once(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(ok(b"one"))  # keep-alive as far as the client can tell, then closed

    async with Scripted(once) as server:
        assert await get(pool, server) == b"one"
        await asyncio.sleep(0.1)  # the close arrives while the connection is idle
        assert await get(pool, server) == b"one"
        assert server.connections == 2 and len(server.requests) == 2


async def test_a_reused_connection_closed_before_any_answer_is_retried_once(pool: Pool) -> None:
    async def first_only(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        head = await server.head(reader)
        if b"/die" in head:
            return  # a fresh connection closed without an answer: no second retry
        writer.write(ok(b"first"))
        await server.head(reader)  # the next request on this connection: closed unanswered

    async with Scripted(first_only) as server:
        assert await get(pool, server) == b"first"
        assert await get(pool, server) == b"first"  # the reused one died: sent again, once
        assert server.connections == 2
        with pytest.raises(BrokenResponse, match="without an answer"):
            await get(pool, server, "/die")
        assert server.connections == 3  # the idle one (closed unanswered), one fresh, no more


async def test_a_cancelled_request_closes_its_connection(pool: Pool) -> None:
    async def hang(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            if b"/hang" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
            else:
                writer.write(ok(b"fine"))

    async with Scripted(hang) as server:
        assert await get(pool, server) == b"fine"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(get(pool, server, "/hang"), 0.2)
        for _ in range(50):
            if server.eofs:
                break
            await asyncio.sleep(0.01)
        assert server.eofs == 1  # the client closed the interrupted connection
        assert await get(pool, server) == b"fine"
        assert server.connections == 2


async def never_answer(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    while await server.head(reader):
        pass


async def test_close_ends_idle_and_busy_connections(pool: Pool) -> None:
    async with Scripted(keep_alive) as idle, Scripted(never_answer) as silent:
        await get(pool, idle)
        busy = asyncio.create_task(get(pool, silent))
        await asyncio.sleep(0.1)  # sent, and waiting for an answer
        assert silent.requests
        await pool.close()
        with pytest.raises(BrokenResponse):
            await busy
        with pytest.raises(BrokenResponse, match="closed"):
            await get(pool, idle)
        await asyncio.sleep(0.05)
        assert idle.eofs == 1 and silent.eofs == 1


# -- addresses and TLS --------------------------------------------------------------------------


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")
async def test_an_ipv6_literal_host_is_reached_and_sent_as_signed(pool: Pool) -> None:
    async with Scripted(keep_alive, host="::1") as server:
        assert server.authority == f"[::1]:{server.port}"
        assert await get(pool, server, "/v6") == b"/v6"
    assert f"Host: [::1]:{server.port}\r\n".encode() in server.requests[0]


async def test_a_refused_connection_is_a_connection_error(pool: Pool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectFailed):
        await pool.get("http", f"127.0.0.1:{port}", "/", {"Host": "h"})


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\r\nX-Evil: 1", "a\r\n\r\n"])
async def test_line_breaks_in_headers_are_refused(pool: Pool, value: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        await pool.get("http", "127.0.0.1:1", "/", {"Host": "h", "X-Amz-Security-Token": value})


async def test_https_certificates_are_verified(tmp_path: Path) -> None:
    server_context, cert = self_signed(tmp_path)
    scripted = Scripted(keep_alive)
    server = await asyncio.start_server(
        lambda r, w: keep_alive(scripted, r, w, 0), "127.0.0.1", 0, ssl=server_context
    )
    host = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        default = Pool(2)
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await default.get("https", host, "/", {"Host": host})
        await default.close()
        trusting = Pool(2, ssl.create_default_context(cafile=cert))
        for _ in range(2):
            answer = await trusting.get("https", host, "/tls", {"Host": host})
            assert answer.body == b"/tls"
        await trusting.close()
    finally:
        server.close()
        await server.wait_closed()


# -- through S3Raw ------------------------------------------------------------------------------


async def test_s3_gets_fail_over_cut_bodies_and_hangs_and_keep_their_connections(
    seaweed_server: Any,
) -> None:
    from asyncbitstore import Retry

    async with (
        fresh_bucket(seaweed_server.url) as (name, admin),
        FaultProxy(seaweed_server.url) as proxy,
    ):
        await admin.put_object(Bucket=name, Key="k", Body=b"0123456789" * 100)
        retry = Retry(attempts=4, base=0.01, cap=0.05)
        async with S3Raw(endpoint_url=proxy.url, retry=retry, request_timeout=0.5) as store:
            uri = f"s3://{name}/k"
            proxy.inject(TRUNCATE, first=1, methods={"GET"})
            proxy.inject(RESET_BODY, first=1, methods={"GET"})
            proxy.inject(HANG, first=1, methods={"GET"})
            assert await store.get(uri) == b"0123456789" * 100
            for _ in range(5):
                assert await store.get(uri) == b"0123456789" * 100
            assert proxy.faults == 3
            with pytest.raises(StoreNotAvailable):  # a cut body on every attempt: an outage
                proxy.inject(TRUNCATE, methods={"GET"})
                await store.get(uri)
