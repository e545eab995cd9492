"""A partial answer must hold the bytes asked for: a wrong span is a failure, never data.

A scripted peer holds a 100-byte blob and answers ranged GETs. When its 206 names other bytes
than asked (shifted, longer), carries no Content-Range, or a body of another length than its
Content-Range names, ``get_range`` retries under the policy and then raises
``StoreNotAvailable`` on every backend and both S3 paths. Legitimate answers still work: a
range running past the end comes back short, and a 200 with the whole blob (a server that
ignores ``Range``) is sliced.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from asyncbitstore import InvalidRange, StoreNotAvailable
from tests.reliability.hostile_http import KINDS, Request, answer, peer, store_for

DATA = bytes(range(100))
SIZE = len(DATA)


def span(first: int, last: int, body: bytes | None = None) -> bytes:
    """A 206 naming bytes ``first``-``last`` (with their bytes, unless ``body`` is given)."""
    body = DATA[first : last + 1] if body is None else body
    return answer(206, body, Content_Range=f"bytes {first}-{last}/{SIZE}")


def blob(ranged: Callable[[int, int], bytes]) -> Callable[[Request], bytes]:
    """The blob's metadata and whole body; ranged GETs answered by ``ranged(first, last)``."""

    def reply(request: Request) -> bytes:
        if request.metadata:
            meta = json.dumps({"name": "key", "size": str(SIZE)}).encode()
            return answer(200, meta, Content_Type="application/json")
        asked = request.range
        if asked is None:
            return answer(200, DATA, ETag='"x"')
        first, last = asked
        if first >= SIZE:
            return answer(416, b"", Content_Range=f"bytes */{SIZE}")
        return ranged(first, min(SIZE - 1 if last is None else last, SIZE - 1))

    return reply


WRONG = {
    "shifted": lambda first, last: span(first + 1, last + 1),
    "longer": lambda first, last: span(first, last + 5),
    "without-content-range": lambda first, last: answer(206, DATA[first : last + 1]),
    "body-longer-than-named": lambda first, last: span(first, last, DATA[first : last + 4]),
    "body-shorter-than-named": lambda first, last: span(first, last, DATA[first:last]),
    "unparsable-content-range": lambda first, last: answer(
        206, DATA[first : last + 1], Content_Range="bytes x-y/z"
    ),
}


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("kind", KINDS)
async def test_a_wrong_span_is_retried_then_unavailable(kind: str, wrong: str) -> None:
    async with peer(blob(WRONG[wrong])) as server:
        store, uri = store_for(kind, server)
        async with store:
            with pytest.raises(StoreNotAvailable) as caught:
                found = await store.get_range(uri, 0, 10)
                pytest.fail(f"get_range returned {found!r}")
    ranged = [head for head in server.requests if b"\r\nrange:" in head.lower()]
    assert len(ranged) == 3, "every attempt of the retry policy was made"
    assert "answer" in str(caught.value)


def honest(first: int, last: int) -> bytes:
    return span(first, last)


def ignoring(first: int, last: int) -> bytes:
    return answer(200, DATA)


@pytest.mark.parametrize("ranged", [honest, ignoring])
@pytest.mark.parametrize("kind", KINDS)
async def test_short_ranges_at_the_end_and_ignored_ranges_still_read(
    kind: str, ranged: Callable[[int, int], bytes]
) -> None:
    async with peer(blob(ranged)) as server:
        store, uri = store_for(kind, server)
        async with store:
            assert await store.get_range(uri, 0, 10) == DATA[:10]
            assert await store.get_range(uri, 20, 30) == DATA[20:30]
            assert await store.get_range(uri, 90, 120) == DATA[90:]
            assert await store.get_range(uri, SIZE, SIZE + 5) == b""
            with pytest.raises(InvalidRange):
                await store.get_range(uri, SIZE + 1, SIZE + 5)
