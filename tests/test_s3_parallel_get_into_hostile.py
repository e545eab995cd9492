"""A parallel S3 `get` receives its ranges straight into the object's buffer, and scripted
servers spoil the first answer of a range: cut short, too long, broken by a 5xx mid-body.

Each spoilt answer may leave wrong bytes in the range's slice; the retry must rewrite the slice
from its start, and the `get` returns exactly the object or raises, never a mix.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest

from asyncbitstore import ObjectChanged, Retry, S3Raw, StoreNotAvailable
from tests.hostile import Scripted

MiB = 1 << 20
PART = 5 * MiB
BODY = os.urandom(3 * PART + 1000)  # ranges: the first (unpinned), two of PART, one of 1000
ETAG = '"some-etag"'
URI = "s3://bucket/key"
FAST = Retry(attempts=3, base=0.01, cap=0.02)
_RANGE = re.compile(rb"\r\nrange: bytes=(\d+)-(\d+)", re.IGNORECASE)
_PINNED = re.compile(rb"\r\nif-match: ", re.IGNORECASE)

#: What to send for a pinned range ``[first, last]`` asked the ``nth`` time (from 1), and
#: whether to close the connection after it; None: the right answer.
Spoil = Callable[[int, int, int], "tuple[bytes, bool] | None"]
#: A spoilt answer to the pinned range ``[first, last]``, and whether to close after it.
Spoiler = Callable[[int, int], "tuple[bytes, bool]"]


def _head(first: int, last: int, length: int, status: str = "206 Partial Content") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Length: {length}\r\nETag: {ETAG}\r\n"
        f"Content-Range: bytes {first}-{last}/{len(BODY)}\r\n\r\n"
    ).encode()


def _right(first: int, last: int) -> bytes:
    return _head(first, last, last + 1 - first) + BODY[first : last + 1]


def _server(spoil: Spoil) -> Scripted:
    asked: dict[int, int] = {}

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            found = _RANGE.search(head)
            if found is None:  # the plain GET opening a read: refused from its length alone
                writer.write(_head(0, len(BODY) - 1, len(BODY), "200 OK") + BODY)
                await writer.drain()
                continue
            first, last = int(found[1]), int(found[2])
            answer = None
            if _PINNED.search(head):
                asked[first] = asked.get(first, 0) + 1
                answer = spoil(first, last, asked[first])
            data, close = answer if answer is not None else (_right(first, last), False)
            writer.write(data)
            await writer.drain()
            if close:
                return

    return Scripted(handler)


async def _get(spoil: Spoil) -> tuple[bytes | BaseException, Scripted]:
    """What the `get` returned (or raised), and the server."""
    async with _server(spoil) as server:
        store = S3Raw.anonymous(
            endpoint_url=f"http://{server.authority}", part_size=PART,
            parallel_threshold=PART, max_concurrency=3, retry=FAST,
        )  # fmt: skip
        async with store:
            try:
                return await store.get(URI), server
            except StoreNotAvailable as exc:
                return exc, server


def _garbage(count: int) -> bytes:
    return b"\xee" * count


def cut_short(first: int, last: int) -> tuple[bytes, bool]:
    """The right head, then most of the body, of wrong bytes, then the connection closes."""
    size = last + 1 - first
    return _head(first, last, size) + _garbage(size - 100), True


def too_long(first: int, last: int) -> tuple[bytes, bool]:
    """A body of more bytes than the range asked (the Content-Range naming the range)."""
    size = last + 1 - first
    return _head(first, last, size + 10) + _garbage(size + 10), False


def five_xx_mid_body(first: int, last: int) -> tuple[bytes, bool]:
    """Half the body, then an error answer in its middle, then the connection closes."""
    size = last + 1 - first
    error = b"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n\r\n"
    return _head(first, last, size) + _garbage(size // 2) + error, True


SPOILERS = [cut_short, too_long, five_xx_mid_body]


@pytest.mark.parametrize("spoiler", SPOILERS)
async def test_a_spoilt_first_answer_is_rewritten_by_the_retry(spoiler: Spoiler) -> None:
    got, server = await _get(lambda first, last, nth: spoiler(first, last) if nth == 1 else None)
    assert got == BODY
    assert sum(bool(_PINNED.search(head)) for head in server.requests) == 6  # 3 ranges, twice


@pytest.mark.parametrize("spoiler", SPOILERS)
async def test_one_range_spoilt_every_time_raises(spoiler: Spoiler) -> None:
    def middle(first: int, last: int, nth: int) -> tuple[bytes, bool] | None:
        return spoiler(first, last) if first == 2 * PART else None

    got, _ = await _get(middle)
    assert isinstance(got, StoreNotAvailable) and not isinstance(got, ObjectChanged)
    assert "s3://bucket/key" in str(got)


@pytest.mark.parametrize("spoiler", SPOILERS)
async def test_a_200_of_the_whole_object_after_a_spoilt_answer_is_copied_in(
    spoiler: Spoiler,
) -> None:
    """The retry's answer cannot be placed (a server ignoring Range): its bytes are copied."""

    def then_whole(first: int, last: int, nth: int) -> tuple[bytes, bool] | None:
        if nth == 1:
            return spoiler(first, last)
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\nETag: {ETAG}\r\n\r\n"
        return head.encode() + BODY, False

    got, _ = await _get(then_whole)
    assert got == BODY


async def test_wrong_bytes_of_the_right_length_then_another_etag_is_object_changed() -> None:
    def other_version(first: int, last: int, nth: int) -> tuple[bytes, bool] | None:
        size = last + 1 - first
        head = _head(first, last, size).replace(ETAG.encode(), b'"other"')
        return head + _garbage(size), False

    got, _ = await _get(other_version)
    assert isinstance(got, ObjectChanged)
