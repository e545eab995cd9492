"""Checks and conversions for the data and byte ranges that stores accept."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from ..errors import InvalidRange
from .checks import positive_int

__all__ = [
    "BytesLike",
    "Capped",
    "PutData",
    "PutWriter",
    "check_put_data",
    "check_range",
    "chunks_of",
    "slice_range",
]

BytesLike = bytes | bytearray | memoryview
PutData = bytes | bytearray | memoryview | AsyncIterable[bytes]
#: A coroutine function that writes ``data`` at a key (what a traced chain's put hands over).
PutWriter = Callable[[str, PutData], Awaitable[None]]

DEFAULT_CHUNK_SIZE = 1 << 20


def check_put_data(data: object) -> None:
    """Raise ``TypeError`` unless ``data`` is bytes-like or an async iterable of bytes."""
    if isinstance(data, (bytes, bytearray, memoryview, AsyncIterable)):
        return
    raise TypeError(
        f"data must be bytes, bytearray, memoryview or an async iterable of bytes, "
        f"not {type(data).__name__}"
    )


def check_chunk_size(chunk_size: object) -> int:
    """Validate a ``chunk_size=`` argument."""
    return positive_int("chunk_size", chunk_size)


def check_range(store: object, uri: str, start: object, end: object, *, label: str = "") -> None:
    """Raise [`InvalidRange`][asyncbitstore.errors.InvalidRange] for anything but ints with ``0 <=
    start <= end`` (``label`` starts its reason: which range of several it is)."""
    for value in (start, end):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRange(store, uri, start, end, f"{label}start and end must be ints")  # type: ignore[arg-type]
    assert isinstance(start, int) and isinstance(end, int)
    if start < 0 or end < start:
        raise InvalidRange(store, uri, start, end, f"{label}need 0 <= start <= end")


def slice_range(store: object, uri: str, data: bytes, start: int, end: int) -> bytes:
    """``data[start:end]``, refusing a range that starts past the end of a non-empty blob."""
    if start > len(data):
        raise InvalidRange(store, uri, start, end, f"the blob has only {len(data)} bytes")
    return data[start:end]


async def as_bytes(data: PutData) -> bytes:
    """All of ``data`` as one ``bytes`` object (joins an async iterable)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    parts = [bytes(chunk) async for chunk in data]
    return b"".join(parts)


def bytes_chunk(chunk: object) -> bytes | bytearray | memoryview:
    """``chunk`` of a streamed put, or ``TypeError`` if it is not bytes-like."""
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"async iterable yielded {type(chunk).__name__}, expected bytes")
    return chunk


async def chunks_of(
    data: PutData, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> AsyncGenerator[bytes, None]:
    """Iterate ``data`` as chunks, whether it is bytes-like or already an async iterable."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])
        return
    async for chunk in data:
        yield bytes(bytes_chunk(chunk))


class Capped:
    """An async iterable of bytes that counts what passes and stops past a limit.

    Args:
        data: the chunks (anything but bytes-like is refused with ``TypeError``).
        limit: the most bytes let through, or None for no limit.
        refuse: builds the exception raised, given the size reached, when a chunk would pass
            the limit; that chunk is not yielded and nothing more is read.
    """

    def __init__(
        self,
        data: AsyncIterable[Any],
        limit: int | None = None,
        refuse: Callable[[int], BaseException] | None = None,
    ) -> None:
        self.data = data
        self.limit = limit
        self.refuse = refuse
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.data:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"async iterable yielded {type(chunk).__name__}, expected bytes")
            size = self.size + memoryview(chunk).nbytes
            if self.limit is not None and size > self.limit:
                assert self.refuse is not None
                raise self.refuse(size)
            self.size = size
            yield chunk  # type: ignore[misc]  # the writers take any bytes-like
