"""Parallel ranged reads of S3 against scripted servers: every answer is the test's choice.

A 412 to a pinned range is `ObjectChanged`; a range answered short is retried and never joined;
a failed range is retried; the MD5 ETag is checked over the assembled object; cancelling the
read ends every range in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Callable
from typing import Any

import pytest

from asyncbitstore import InvalidDataFound, ObjectChanged, Retry, S3Raw, StoreNotAvailable
from tests.hostile import Scripted

MiB = 1 << 20
PART = 5 * MiB
BODY = os.urandom(2 * PART + 1000)
ETAG = f'"{hashlib.md5(BODY, usedforsecurity=False).hexdigest()}"'
URI = "s3://bucket/key"
FAST = Retry(attempts=3, base=0.01, cap=0.02)
_RANGE = re.compile(rb"\r\nrange: bytes=(\d+)-(\d+)", re.IGNORECASE)
_IF_MATCH = re.compile(rb"\r\nif-match: ([^\r]*)", re.IGNORECASE)

#: What to answer a request (its head, and its number from 1), or None for the usual answer.
Fault = Callable[[bytes, int], "bytes | None"]


def partial(start: int, last: int, etag: str = ETAG, named: int | None = None) -> bytes:
    """A 206 with bytes ``[start, last]`` of `BODY` (its Content-Range may name ``named``
    bytes instead, to lie about the range)."""
    piece = BODY[start : last + 1]
    shown = start + (named if named is not None else len(piece)) - 1
    head = (
        f"HTTP/1.1 206 Partial Content\r\nContent-Length: {len(piece)}\r\n"
        f"Content-Range: bytes {start}-{shown}/{len(BODY)}\r\nETag: {etag}\r\n\r\n"
    )
    return head.encode() + piece


def whole(etag: str = ETAG) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\nETag: {etag}\r\n\r\n"
    return head.encode() + BODY


def status(code: int, reason: str) -> bytes:
    return f"HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n\r\n".encode()


def s3(fault: Fault | None = None, etag: str = ETAG) -> Scripted:
    """A server answering ranged GETs of `BODY` with ``etag``, unless ``fault`` answers."""
    count = 0

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        nonlocal count
        while head := await server.head(reader):
            count += 1
            found = _RANGE.search(head)
            answer = fault(head, count) if fault is not None else None
            if answer is None and found is None:  # a stream opens the whole object
                answer = whole(etag)
            if answer is None:
                assert found is not None
                answer = partial(int(found[1]), int(found[2]), etag)
            writer.write(answer)
            await writer.drain()

    return Scripted(handler)


def store(server: Scripted, **options: Any) -> S3Raw:
    options = {"part_size": PART, "parallel_threshold": PART, "retry": FAST, **options}
    return S3Raw.anonymous(endpoint_url=f"http://{server.authority}", **options)


def pinned(head: bytes) -> bool:
    return _IF_MATCH.search(head) is not None


async def test_every_range_after_the_first_is_pinned_to_the_first_etag() -> None:
    async with s3() as server, store(server) as raw:
        assert await raw.get(URI) == BODY
        assert b"".join([chunk async for chunk in raw.stream(URI)]) == BODY
    plain, first, *rest = server.requests[:4]  # the plain GET is refused: BODY is too large
    assert not _RANGE.search(plain)
    assert not pinned(first)
    assert [_IF_MATCH.search(head)[1] for head in rest] == [ETAG.encode()] * 2  # type: ignore[index]


async def test_a_412_to_a_pinned_range_is_object_changed() -> None:
    def changed(head: bytes, n: int) -> bytes | None:
        return status(412, "Precondition Failed") if pinned(head) else None

    async with s3(changed) as server, store(server) as raw:
        with pytest.raises(ObjectChanged) as raised:
            await raw.get(URI)
        assert raised.value.version == ETAG
        with pytest.raises(ObjectChanged):
            async for _ in raw.stream(URI):
                pass


async def test_a_range_of_another_etag_is_object_changed() -> None:
    def ignores_if_match(head: bytes, n: int) -> bytes | None:
        found = _RANGE.search(head)
        if found is None or not pinned(head):
            return None
        return partial(int(found[1]), int(found[2]), '"other"')

    async with s3(ignores_if_match) as server, store(server) as raw:
        with pytest.raises(ObjectChanged):
            await raw.get(URI)


async def test_a_short_range_is_retried_and_never_joined() -> None:
    def short(head: bytes, n: int) -> bytes | None:
        found = _RANGE.search(head)
        if found is None or not pinned(head):
            return None
        start, last = int(found[1]), int(found[2])
        return partial(start, last - 10, named=last - start + 1)

    async with s3(short) as server, store(server) as raw:
        with pytest.raises(StoreNotAvailable) as raised:
            await raw.get(URI)
        assert not isinstance(raised.value, ObjectChanged)
    assert sum(pinned(head) for head in server.requests) >= FAST.attempts


async def test_a_range_naming_other_bytes_is_retried_and_never_joined() -> None:
    def shifted(head: bytes, n: int) -> bytes | None:
        found = _RANGE.search(head)
        if found is None or not pinned(head):
            return None
        start, last = int(found[1]), int(found[2])
        return partial(start - 1, last - 1)

    async with s3(shifted) as server, store(server) as raw:
        with pytest.raises(StoreNotAvailable):
            await raw.get(URI)


async def test_a_failed_range_is_retried() -> None:
    failed: list[int] = []

    def flaky(head: bytes, n: int) -> bytes | None:
        if pinned(head) and not failed:
            failed.append(n)
            return status(503, "Slow Down")
        return None

    async with s3(flaky) as server, store(server) as raw:
        assert await raw.get(URI) == BODY
    assert failed


async def test_the_md5_etag_is_checked_over_the_assembled_object() -> None:
    wrong = f'"{hashlib.md5(b"another body", usedforsecurity=False).hexdigest()}"'
    async with s3(etag=wrong) as server, store(server) as raw:
        with pytest.raises(InvalidDataFound):
            await raw.get(URI)
        with pytest.raises(InvalidDataFound):
            async for _ in raw.stream(URI):
                pass
    async with s3(etag=wrong) as server, store(server, verify_checksums=False) as raw:
        assert await raw.get(URI) == BODY


async def test_cancelling_the_read_ends_every_range_in_flight() -> None:
    asked = asyncio.Event()

    async def hang(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            found = _RANGE.search(head)
            if found is None:  # the plain GET opening the read, refused for its length
                writer.write(whole())
                await writer.drain()
                continue
            if pinned(head):
                if sum(pinned(h) for h in server.requests) >= 2:
                    asked.set()
                await asyncio.sleep(3600)
            writer.write(partial(int(found[1]), int(found[2])))
            await writer.drain()

    async with Scripted(hang) as server, store(server, max_concurrency=2) as raw:
        read = asyncio.create_task(raw.get(URI))
        await asyncio.wait_for(asked.wait(), 30)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        ours = [
            task
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task() and "Scripted" not in task.get_coro().__qualname__  # type: ignore[union-attr]
        ]
        assert ours == []


async def test_max_object_bytes_bounds_a_ranged_get_but_not_a_stream() -> None:
    async with s3() as server, store(server, max_object_bytes=PART + 1) as raw:
        with pytest.raises(StoreNotAvailable, match="max_object_bytes"):
            await raw.get(URI)
        assert not any(pinned(head) for head in server.requests)
        assert b"".join([chunk async for chunk in raw.stream(URI)]) == BODY
