"""Single byte ranges (``Range: bytes=...``): parsing them, and 206 answers that read a plain
blob piecewise with ``get_range`` or skip through a compressed one as it is decoded."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi.responses import Response, StreamingResponse

from ..store import Store
from .statuses import logger

__all__ = [
    "Pieces",
    "decoded_pieces",
    "parse_range",
    "partial_answer",
    "relay",
    "stored_pieces",
    "unsatisfiable",
    "wanted",
]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.IGNORECASE)

#: A range as read so far: its first chunk (read before the answer starts, so that a failure
#: is still an error status) and an iterator of the rest.
Pieces = tuple[bytes, AsyncIterator[bytes]]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` asked for by a ``Range`` header, or None to send the whole blob.

    Only single byte ranges are honoured; anything else (several ranges, other units, bad
    syntax) is ignored, as RFC 9110 allows. A range that starts at or past ``size`` comes back
    with ``start >= size``: the caller answers 416.
    """
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if not first:  # "bytes=-N": the last N bytes ("bytes=-0" is unsatisfiable)
        return (max(size - int(last), 0) if int(last) else size), size
    start = int(first)
    if last and int(last) < start:
        return None
    end = min(int(last) + 1, size) if last else size
    return start, max(end, start)


def wanted(header: str | None) -> bool:
    """Whether ``header`` asks for a range this module serves (whatever the blob's size)."""
    return parse_range(header, sys.maxsize) is not None


def unsatisfiable(size: int, headers: dict[str, str]) -> Response:
    """The 416 answer for a blob of ``size`` bytes."""
    headers["Content-Range"] = f"bytes */{size}"
    return Response(status_code=416, headers=headers)


def partial_answer(
    key: str,
    pieces: Pieces,
    span: tuple[int, int],
    size: int,
    media_type: str,
    headers: dict[str, str],
) -> Response:
    """The 206 answer for ``span`` of a blob of ``size`` bytes, sent as ``pieces``."""
    start, end = span
    first, rest = pieces
    headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return StreamingResponse(
        relay(key, first, rest), status_code=206, media_type=media_type, headers=headers
    )


async def stored_pieces(store: Store, key: str, span: tuple[int, int], chunk_size: int) -> Pieces:
    """``span`` of a blob stored as it is, read ``chunk_size`` bytes at a time."""
    start, end = span
    first = await store.get_range(key, start, min(start + chunk_size, end))

    async def rest() -> AsyncIterator[bytes]:
        for offset in range(start + len(first), end, chunk_size):
            yield await store.get_range(key, offset, min(offset + chunk_size, end))

    return first, rest()


async def decoded_pieces(store: Store, key: str, span: tuple[int, int], chunk_size: int) -> Pieces:
    """``span`` of a blob stored compressed: its decoded stream, the bytes before ``start``
    skipped and those from ``end`` on never read (memory stays at a chunk)."""
    start, end = span
    chunks = _slice(store.stream(key, chunk_size), start, end)
    try:
        first = await anext(chunks, b"")
    except BaseException:
        await chunks.aclose()
        raise
    return first, chunks


async def _slice(chunks: AsyncIterator[bytes], start: int, end: int) -> AsyncGenerator[bytes, None]:
    """Bytes ``[start, end)`` of the stream ``chunks``."""
    offset = 0
    try:
        async for chunk in chunks:
            low, high = max(start - offset, 0), min(end - offset, len(chunk))
            offset += len(chunk)
            if low < high:
                yield chunk[low:high]
            if offset >= end:
                break
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def relay(key: str, first: bytes, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``first``, then the rest of ``chunks``; a failure is logged and aborts the response."""
    try:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk
    except Exception as exc:
        logger.warning("blob %s failed in mid-response: %s", key, exc)
        raise
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
