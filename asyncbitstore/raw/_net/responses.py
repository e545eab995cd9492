"""Reading HTTP answers safely: what counts as an answer, ranges, chunks and body lengths.

Shared by the S3, GCS and HTTP backends. A partial answer is used only when its Content-Range
names exactly the bytes asked for (shorter only at the object's end) and its body is that long;
anything else is a transient error, never data. A chunk is filled under one deadline, so a
peer trickling bytes cannot hold a stream open.
"""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from ..._core.deadline import within
from ...retry import TransientError

__all__ = [
    "body_length",
    "check_length",
    "content_range",
    "range_total",
    "read_chunk",
    "read_span",
    "slice_body",
    "span_length",
    "unexpected",
]


_CONTENT_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)


_CHUNK = 1 << 20


def _parse_range(header: str | None) -> tuple[int | None, int | None, int | None]:
    """``(first, last, total)`` of a Content-Range header; None where not given."""
    found = _CONTENT_RANGE.fullmatch((header or "").strip())
    if found is None:
        return None, None, None
    first, last, total = found.groups()
    return (
        int(first) if first else None,
        int(last) if last else None,
        int(total) if total and total != "*" else None,
    )


def content_range(response: aiohttp.ClientResponse) -> tuple[int | None, int | None]:
    """``(first byte, total size)`` from a Content-Range header; None where not given."""
    first, _, total = _parse_range(response.headers.get("Content-Range"))
    return first, total


def range_total(header: str | None) -> int | None:
    """The whole object's length a Content-Range header names, if it names one."""
    return _parse_range(header)[2]


def span_length(header: str | None, start: int, end: int) -> int:
    """How many bytes a partial answer to ``Range: bytes=start-(end - 1)`` must hold.

    ``header`` is its Content-Range: it must name bytes from ``start`` up to ``end``, or to an
    earlier end only where the object ends (its total size, when given, says where).

    Raises:
        TransientError: it names other bytes, or none.
    """
    first, last, total = _parse_range(header)
    if first is None or last is None:
        shown = (header or "")[:80]
        raise TransientError(f"a partial answer without a byte range (Content-Range {shown!r})")
    stop = end if total is None else min(end, total)
    if first != start or last != stop - 1:
        named = f"{first}-{last}/{'*' if total is None else total}"
        asked = f"{start}-{end - 1}"
        raise TransientError(f"the answer holds bytes {named}, not the bytes {asked} asked for")
    return last - first + 1


def check_length(received: int, expected: int) -> None:
    """Raise ``TransientError`` unless a partial answer's body holds the bytes it names."""
    if received != expected:
        raise TransientError(f"the answer's body holds {received} bytes, not the {expected} named")


async def read_span(content: Any, expected: int) -> bytes:
    """The body of a partial answer that must hold ``expected`` bytes (reading one more at most)."""
    data = await read_chunk(content, expected + 1, None)
    check_length(len(data), expected)
    return data


def unexpected(status: int, method: str) -> TransientError:
    """The error for a status that answers nothing asked (retried, then a store error).

    A 1xx surfacing as final, a 204 or an unusual 2xx would otherwise pass for an empty or
    wrong blob.
    """
    return TransientError(f"unexpected HTTP {status} answer to {method} (not the blob)")


async def read_chunk(body: Any, size: int, timeout: float | None) -> bytes:
    """``size`` bytes of ``body`` (anything with an async ``read(n)``), fewer only at its end.

    ``timeout`` bounds the whole chunk, not each read: a peer sending a byte at a time cannot
    make one chunk outlast it (``TimeoutError``).
    """
    return await within(timeout, _fill(body, size))


async def _fill(body: Any, size: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < size:
        more: bytes = await body.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def body_length(response: aiohttp.ClientResponse) -> int:
    """``Content-Length``, or the body's length counted without keeping it."""
    if response.content_length is not None:
        return response.content_length
    count = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        count += len(chunk)
    return count


async def slice_body(response: aiohttp.ClientResponse, start: int, end: int) -> tuple[bytes, int]:
    """``[start, end)`` of a whole body, and how many bytes were read (all, if ``end`` wasn't
    reached); read as it streams and stopped once past ``end``."""
    parts: list[bytes] = []
    offset = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        low, high = max(start - offset, 0), min(end - offset, len(chunk))
        if low < high:
            parts.append(chunk[low:high])
        offset += len(chunk)
        if offset >= end:
            break
    return b"".join(parts), offset
