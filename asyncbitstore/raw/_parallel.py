"""One object read as several ranged requests, all of one version: `assemble` and `read_ahead`.

A backend learns the object's whole length and version from the answer to its first ranged
request (a `Span` with ``total`` and ``version``); the rest of the object is then asked range by
range through a ``fetch(first, last)`` callable that the backend pins to that version (S3
sends ``If-Match``), so bytes of two versions are never joined.

- `assemble` gathers every range into one buffer sized to the object: each range is written
  at its offset by a ``fetch_into(first, last, out)`` callable, ``out`` being the slice of the
  buffer where those bytes belong (a backend that can receives the body straight into it), and
  the buffer is handed out as `bytes` without a further copy, so a `get` holds about the
  object. A failed or retried range may leave anything in its slice: the buffer is returned
  only once every range was written whole, and dropped otherwise.
- `read_ahead` yields the ranges in order while up to ``concurrency`` later ones are already
  being read: a stream's memory stays at about ``concurrency`` ranges.

Both cancel every range still in flight when one fails or the caller is cancelled.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from .._core.bulk import cancel_and_wait, map_list
from ..errors import StoreNotAvailable

__all__ = ["Fetch", "FetchInto", "assemble", "checked", "in_chunks", "read_ahead", "spans"]

#: Reads bytes ``[first, last)`` of the pinned version.
Fetch = Callable[[int, int], Coroutine[Any, Any, bytes]]
#: Writes bytes ``[first, last)`` of the pinned version into its third argument, whole (or raises).
FetchInto = Callable[[int, int, memoryview], Coroutine[Any, Any, None]]


def spans(start: int, total: int, part: int) -> list[tuple[int, int]]:
    """``[start, total)`` cut into ``(first, last)`` pairs of ``part`` bytes (the last shorter)."""
    return [(offset, min(offset + part, total)) for offset in range(start, total, part)]


def checked(store: object, uri: str, first: int, last: int, data: bytes) -> bytes:
    """``data`` if it is exactly the range asked; a server answering otherwise is broken."""
    if len(data) != last - first:
        raise StoreNotAvailable(
            store,
            f"the range {first}-{last - 1} came back with {len(data)} bytes, not "
            f"{last - first}: the server answered ranges wrongly",
            uri=uri,
        )
    return data


async def assemble(
    store: object,
    uri: str,
    head: bytes,
    total: int,
    *,
    part: int,
    concurrency: int,
    fetch_into: FetchInto,
) -> bytes:
    """The object of ``total`` bytes whose first bytes are ``head``, the rest written by
    ``fetch_into`` in ranges of ``part`` bytes, ``concurrency`` at a time, into one buffer."""
    buffer = io.BytesIO()
    buffer.seek(total - 1)
    buffer.write(b"\0")  # the buffer now holds exactly `total` bytes
    view = buffer.getbuffer()
    try:
        view[: len(head)] = head

        async def one(span: tuple[int, int]) -> None:
            first, last = span
            # Released on the way out, so no late write can reach the buffer through it.
            with view[first:last] as out:
                await fetch_into(first, last, out)

        await map_list(one, spans(len(head), total, part), concurrency=concurrency)
    finally:
        view.release()  # with no view left, getvalue hands the buffer over uncopied
    return buffer.getvalue()


async def read_ahead(
    store: object,
    uri: str,
    start: int,
    total: int,
    *,
    part: int,
    concurrency: int,
    fetch: Fetch,
) -> AsyncGenerator[bytes, None]:
    """Bytes ``[start, total)`` in ranges of ``part`` bytes, in order, with up to
    ``concurrency`` ranges read ahead of the one the caller is at."""
    todo = iter(spans(start, total, part))
    ahead: collections.deque[tuple[int, int, asyncio.Task[bytes]]] = collections.deque()

    def schedule() -> None:
        while len(ahead) < concurrency:
            span = next(todo, None)
            if span is None:
                return
            ahead.append((*span, asyncio.create_task(fetch(*span))))

    try:
        schedule()
        while ahead:
            first, last, task = ahead[0]
            data = await task
            ahead.popleft()
            schedule()
            yield checked(store, uri, first, last, data)
    finally:
        await cancel_and_wait([task for _, _, task in ahead])


async def in_chunks(
    parts: AsyncGenerator[bytes, None], chunk_size: int
) -> AsyncGenerator[bytes, None]:
    """The bytes of ``parts`` again, in chunks of at most ``chunk_size`` bytes."""
    async with contextlib.aclosing(parts):  # its ranges in flight end with this stream
        async for data in parts:
            for offset in range(0, len(data), chunk_size):
                yield data[offset : offset + chunk_size]
