"""Which bodies the HTTP/1.1 client reads straight into their final buffer, and which it slices.

A body of known length below `DIRECT_FROM` is taken from the parser (the cheap path: a small
body arriving with the head is one slice of that read); from `DIRECT_FROM` on it is received
into one buffer of its size (one copy, one body of memory). Both paths must give the whole body
whatever the split of the bytes across reads, and keep the connection after a clean answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore.raw._net import h1
from asyncbitstore.raw._net.h1 import DIRECT_FROM, BrokenResponse, Pool
from tests.hostile import Scripted

_TAIL = h1._TAIL


class _CountedSink(h1._Sink):
    made = 0

    def __init__(self, size: int) -> None:
        type(self).made += 1
        super().__init__(size)


@pytest.fixture
def sinks(monkeypatch: pytest.MonkeyPatch) -> type[_CountedSink]:
    counted = type("Counted", (_CountedSink,), {"made": 0})
    monkeypatch.setattr(h1, "_Sink", counted)
    return counted


@pytest.fixture
async def pool() -> AsyncIterator[Pool]:
    pool = Pool(2)
    yield pool
    await pool.close()


def _body(size: int) -> bytes:
    return bytes(range(251)) * (size // 251) + b"q" * (size % 251)


def _two_writes(size: int, first: int) -> Any:
    """A keep-alive server sending the head with ``first`` bytes of the body, then the rest
    after a pause (so the client reads them apart)."""
    body = _body(size)

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + body[:first])
            await writer.drain()
            if first < size:
                await asyncio.sleep(0.005)
                writer.write(body[first:])
                await writer.drain()

    return handler


async def _get(pool: Pool, server: Scripted) -> bytes:
    answer = await pool.get("http", server.authority, "/k", {"Host": server.authority})
    assert answer.status == 200
    return answer.body


def _splits(size: int) -> list[int]:
    """Where the body is cut: at the head, one byte in, around a read of the scratch buffer
    and around the tail that is read through it, one byte short, and not at all."""
    points = {0, 1, 65535, 65536, size - _TAIL - 1, size - _TAIL, size - _TAIL + 1, size - 1, size}
    return sorted(p for p in points if 0 <= p <= size)


_CASES = [(size, first) for size in (DIRECT_FROM - 1, DIRECT_FROM, DIRECT_FROM + 1)
          for first in _splits(size)]  # fmt: skip


@pytest.mark.parametrize(("size", "first"), _CASES)
async def test_bodies_around_the_threshold_are_whole_in_any_split(
    pool: Pool, sinks: type[_CountedSink], size: int, first: int
) -> None:
    async with Scripted(_two_writes(size, first)) as server:
        for _ in range(2):
            body = await _get(pool, server)
            assert type(body) is bytes and body == _body(size)
        assert server.connections == 1  # clean after each answer: kept
    # A head read never holds a body this size whole (the scratch buffer is smaller).
    assert sinks.made == (2 if size >= DIRECT_FROM else 0)


@pytest.mark.parametrize("first", [0, 1, 100, 4095])
async def test_a_small_body_after_its_head_takes_the_parser_path(
    pool: Pool, sinks: type[_CountedSink], first: int
) -> None:
    async with Scripted(_two_writes(4096, first)) as server:
        for _ in range(3):
            assert await _get(pool, server) == _body(4096)
        assert server.connections == 1
    assert sinks.made == 0  # no buffer grown for it, and the parser kept for the next answer


@pytest.mark.parametrize("size", [DIRECT_FROM - 1, DIRECT_FROM])
async def test_a_body_cut_short_near_the_threshold_is_an_error(pool: Pool, size: int) -> None:
    async def cut(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        await server.head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * 10)
        await writer.drain()
        await asyncio.sleep(0.005)
        writer.write(b"x" * (size - 11))
        await writer.drain()

    async with Scripted(cut) as server:
        with pytest.raises(BrokenResponse, match="before the answer was complete"):
            await _get(pool, server)


@pytest.mark.parametrize("size", [DIRECT_FROM - 1, DIRECT_FROM])
async def test_stray_bytes_after_a_body_near_the_threshold_end_reuse(pool: Pool, size: int) -> None:
    async def extra(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"a")
            await writer.drain()
            await asyncio.sleep(0.005)
            writer.write(b"b" * (size - 1) + b"HTTP/1.1 200 OK\r\n")
            await writer.drain()

    async with Scripted(extra) as server:
        for _ in range(2):
            assert await _get(pool, server) == b"a" + b"b" * (size - 1)
        assert server.connections == 2  # stray bytes after each answer: never reused
