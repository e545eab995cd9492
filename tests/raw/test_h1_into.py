"""The HTTP/1.1 client receives a 206 body straight into a view the caller gives (``into``).

Only a 206 whose length is exactly the view's is placed there, whether it comes with the head
or after it; every other answer is read as usual and leaves the view alone; a body cut short
raises, and the connection is reused only when clean.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore.raw._net.h1 import DIRECT_FROM, BrokenResponse, Pool
from tests.hostile import Scripted

MiB = 1 << 20


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    pool = Pool(2)
    yield pool
    await pool.close()


def _body(size: int, salt: int = 0) -> bytes:
    return bytes((i * 7 + salt) % 251 for i in range(251)) * (size // 251) + b"q" * (size % 251)


def _answer(status: str, body: bytes, *, length: int | None = None, step: int = 0) -> Any:
    """A keep-alive server answering every request with ``body`` (announcing ``length``),
    sent whole or ``step`` bytes at a time."""
    announced = len(body) if length is None else length

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: {announced}\r\n\r\n".encode())
            for at in range(0, len(body), step or len(body) or 1):
                writer.write(body[at : at + (step or len(body))])
                await writer.drain()
            if announced != len(body):
                return  # cut short: the connection closes

    return handler


async def _get(pool: Pool, server: Scripted, into: memoryview) -> Any:
    return await pool.get("http", server.authority, "/k", {"Host": server.authority}, into=into)


@pytest.mark.parametrize("size", [10, DIRECT_FROM - 1, DIRECT_FROM, 3 * MiB + 5])
@pytest.mark.parametrize("step", [0, 4096])
async def test_a_206_of_the_views_length_is_placed_in_the_view(
    pool: Pool, size: int, step: int
) -> None:
    body = _body(size)
    buffer = bytearray(b"-" * (size + 20))
    async with Scripted(_answer("206 Partial Content", body, step=step)) as server:
        with memoryview(buffer)[10 : 10 + size] as into:
            for _ in range(2):  # the second on the same connection, reused once clean
                buffer[10 : 10 + size] = b"-" * size
                answer = await _get(pool, server, into)
                assert answer.status == 206 and answer.placed and answer.body == b""
                assert bytes(buffer[10 : 10 + size]) == body
    assert bytes(buffer[:10]) == bytes(buffer[-10:]) == b"-" * 10  # nothing beside the slice
    assert server.connections == 1


@pytest.mark.parametrize(
    ("status", "length"),
    [("200 OK", 5000), ("206 Partial Content", 4999), ("206 Partial Content", 5001),
     ("503 Slow Down", 5000), ("412 Precondition Failed", 5000)],
)  # fmt: skip
async def test_any_other_answer_is_read_as_usual_and_leaves_the_view_alone(
    pool: Pool, status: str, length: int
) -> None:
    body = _body(length, salt=3)
    buffer = bytearray(b"-" * 5000)
    async with Scripted(_answer(status, body)) as server:
        answer = await _get(pool, server, memoryview(buffer))
    assert not answer.placed
    assert answer.body == body
    assert buffer == b"-" * 5000


@pytest.mark.parametrize("size", [1000, DIRECT_FROM + 10, 2 * MiB])
async def test_a_body_cut_short_raises_and_is_not_placed(pool: Pool, size: int) -> None:
    body = _body(size)
    sent = body[: size // 2]
    async with Scripted(_answer("206 Partial Content", sent, length=size, step=4096)) as server:
        with pytest.raises(BrokenResponse):
            await _get(pool, server, memoryview(bytearray(size)))


async def test_bytes_after_a_placed_body_end_the_connection_not_the_answer(pool: Pool) -> None:
    size = DIRECT_FROM * 2
    body = _body(size)

    async def junk_after(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            head = f"HTTP/1.1 206 Partial Content\r\nContent-Length: {size}\r\n\r\n".encode()
            writer.write(head + body + b"HTTP/1.1 200 OK\r\n\r\nnot asked for")
            await writer.drain()

    buffer = bytearray(size)
    async with Scripted(junk_after) as server:
        for _ in range(2):
            answer = await _get(pool, server, memoryview(buffer))
            assert answer.placed and buffer == body
    assert server.connections == 2  # the first connection was not trusted again


async def test_a_read_only_view_is_refused_before_anything_is_sent(pool: Pool) -> None:
    async with Scripted(_answer("206 Partial Content", b"x")) as server:
        with pytest.raises(ValueError, match="writable"):
            await _get(pool, server, memoryview(b"x"))
    assert server.requests == []


async def test_a_cancelled_read_writes_nothing_more_into_the_view(pool: Pool) -> None:
    size = 4 * MiB
    started = asyncio.Event()

    async def slow(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(f"HTTP/1.1 206 Partial Content\r\nContent-Length: {size}\r\n\r\n".encode())
        writer.write(b"a" * MiB)
        await writer.drain()
        started.set()
        await asyncio.sleep(0.2)
        writer.write(b"b" * MiB)
        await writer.drain()
        await asyncio.sleep(3600)

    buffer = bytearray(size)
    async with Scripted(slow) as server:
        read = asyncio.create_task(_get(pool, server, memoryview(buffer)))
        await asyncio.wait_for(started.wait(), 30)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        await asyncio.sleep(0.5)  # the server's second MiB has been sent by now
    assert b"b" not in buffer
