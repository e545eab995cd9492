"""HTTPRaw.list against hostile directory listings: bounded depth, bounded bodies, no leaks.

A scripted server plays nginx's JSON autoindex and lies: a folder that contains itself forever,
a listing body of 64 MiB (declared or streamed without a length), JSON nested past what the
parser's recursion allows. Each ends in a library error, with the body left unread past the
bound, memory bounded, and no connection left open once the store is closed.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest

from asyncbitstore import HTTPRaw, StoreNotAvailable
from tests.faults import open_connections
from tests.hostile import Scripted, ok

MiB = 1 << 20
ENTRY = b'{"name":"abcdefghij","type":"file","mtime":"Mon, 01 Jan 2024 00:00:00 GMT","size":1},'


async def _endless(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """Every folder holds a file and a sub-folder ``a/``, without end."""
    while await server.head(reader):
        body = b'[{"name":"a","type":"directory"},{"name":"f","type":"file"}]'
        writer.write(ok(body, "Content-Type: application/json\r\n"))


async def test_an_endlessly_nested_listing_stops_at_the_depth_bound() -> None:
    async with Scripted(_endless) as server:
        store = HTTPRaw(max_listing_depth=5)
        found: list[str] = []
        with pytest.raises(StoreNotAvailable, match="deeper than 5") as caught:
            found.extend([url async for url in store.list(f"http://{server.authority}/")])
        assert len(server.requests) == 6  # the top folder and five levels below it
        assert found == []  # "a/" sorts before "f": the walk goes down before it yields
        assert "max_listing_depth" in str(caught.value)
        assert server.connections == 1  # every response was released back to the pool
        await store.aclose()
        assert open_connections(server.port) == 0


async def test_the_default_depth_bound_holds_without_recursion_errors() -> None:
    async with Scripted(_endless) as server:
        async with HTTPRaw() as store:
            with pytest.raises(StoreNotAvailable, match="deeper than 64"):
                [u async for u in store.list(f"http://{server.authority}/", flat=True)]
        assert 60 < len(server.requests) <= 66
        assert open_connections(server.port) == 0


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_a_64_mib_listing_is_refused_early_in_bounded_memory(declared: bool) -> None:
    total = 64 * MiB
    sent = 0

    async def huge(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        nonlocal sent
        await server.head(reader)
        length = f"Content-Length: {total}\r\n" if declared else "Connection: close\r\n"
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n".encode())
        piece = b"[" + ENTRY * (MiB // len(ENTRY))
        while sent < total:
            writer.write(piece)
            await writer.drain()
            sent += len(piece)
            piece = ENTRY * (MiB // len(ENTRY))

    tracemalloc.start()
    try:
        async with Scripted(huge) as server:
            store = HTTPRaw()
            with pytest.raises(StoreNotAvailable, match="16 MiB") as caught:
                [u async for u in store.list(f"http://{server.authority}/")]
            _, peak = tracemalloc.get_traced_memory()
            await store.aclose()
            await asyncio.sleep(0.05)
            assert open_connections(server.port) == 0
    finally:
        tracemalloc.stop()
    assert "max_listing_bytes" in str(caught.value)
    assert sent < 40 * MiB  # the client hung up instead of reading on
    assert peak < 48 * MiB


async def test_json_nested_past_the_parsers_recursion_is_not_a_listing() -> None:
    async def deep(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(ok(b"[" * 200_000, "Content-Type: application/json\r\n"))

    async with Scripted(deep) as server, HTTPRaw() as store:
        with pytest.raises(NotImplementedError, match="JSON directory listing"):
            [u async for u in store.list(f"http://{server.authority}/")]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "64"])
def test_the_bounds_are_checked_when_the_store_is_built(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        HTTPRaw(max_listing_depth=bad)
    with pytest.raises((TypeError, ValueError)):
        HTTPRaw(max_listing_bytes=bad)
