"""The HTTP/1.1 client reads a body of known length once, into the buffer it returns.

A large answer must not cost two bodies' worth of memory (pieces kept, then joined), and the
direct read must keep every rule of the parser's path: exact length, a connection reused only
when clean, bytes beyond the body never part of it, the bound on the body.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore.raw._net.h1 import BodyTooLarge, BrokenResponse, Pool
from tests.hostile import Scripted

MiB = 1 << 20


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    pool = Pool(2)
    yield pool
    await pool.close()


def _body(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + b"z" * (size % 256)


def _pieces(size: int, *, first: int, step: int) -> Any:
    """A keep-alive server sending a ``size``-byte body: ``first`` bytes with the head, then
    ``step`` bytes at a time, each drained (so nothing piles up on the server's side)."""
    body = _body(size)

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + body[:first])
            view = memoryview(body)
            for at in range(first, size, step):
                writer.write(view[at : at + step])
                await writer.drain()

    return handler


async def _get(pool: Pool, server: Scripted, **options: Any) -> bytes:
    answer = await pool.get("http", server.authority, "/k", {"Host": server.authority}, **options)
    assert answer.status == 200
    return answer.body


async def test_a_large_body_costs_one_body_of_memory(pool: Pool) -> None:
    size = 32 * MiB
    async with Scripted(_pieces(size, first=1000, step=MiB)) as server:
        assert await _get(pool, server) == _body(size)  # a warm connection, pieces built
        gc.collect()
        tracemalloc.start()
        try:
            body = await _get(pool, server)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert type(body) is bytes and body == _body(size)
    assert peak < 1.25 * size, f"a {size}-byte GET peaked at {peak} bytes"


@pytest.mark.parametrize(
    ("size", "first", "step"),
    [(1, 0, 1), (1, 1, 1), (10, 3, 1), (70000, 0, 7), (70000, 65000, 4096), (300000, 300000, 1)],
)
async def test_bodies_in_any_split_are_whole_and_the_connection_is_reused(
    pool: Pool, size: int, first: int, step: int
) -> None:
    async with Scripted(_pieces(size, first=first, step=step)) as server:
        for _ in range(3):
            assert await _get(pool, server) == _body(size)
        assert server.connections == 1


async def test_bytes_after_a_directly_read_body_are_not_part_of_it(pool: Pool) -> None:
    async def extra(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"a" * 10)
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(b"b" * 99990 + b"HTTP/1.1 200 OK\r\n" + b"c" * 1000)
            await writer.drain()

    async with Scripted(extra) as server:
        assert await _get(pool, server) == b"a" * 10 + b"b" * 99990
        assert await _get(pool, server) == b"a" * 10 + b"b" * 99990
        assert server.connections == 2  # the first one carried stray bytes: never reused


async def test_a_body_cut_short_while_read_directly_is_an_error(pool: Pool) -> None:
    async def cut(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + b"x" * 100)
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.write(b"x" * 150000)
        await writer.drain()

    async with Scripted(cut) as server:
        with pytest.raises(BrokenResponse, match="before the answer was complete"):
            await _get(pool, server)


async def test_a_lower_bound_for_one_request_refuses_a_longer_body(pool: Pool) -> None:
    async with Scripted(_pieces(5000, first=0, step=5000)) as server:
        with pytest.raises(BodyTooLarge):
            await _get(pool, server, max_body=4999)
        assert await _get(pool, server, max_body=5000) == _body(5000)


async def test_memory_follows_the_bytes_received_not_the_length_announced() -> None:
    async def liar(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (256 * MiB) + b"x" * 1000)
        await writer.drain()
        for _ in range(10):
            writer.write(b"y" * MiB)
            await writer.drain()

    pool = Pool(1)
    try:
        async with Scripted(liar) as server:
            tracemalloc.start()
            try:
                with pytest.raises(BrokenResponse):
                    await _get(pool, server)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
    finally:
        await pool.close()
    assert peak < 64 * MiB, f"11 MiB received of 256 MiB announced took {peak} bytes"
