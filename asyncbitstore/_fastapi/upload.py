"""`write_response`: a request body stored as it arrives, with an optional size limit."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Protocol, TypeAlias, runtime_checkable

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from .. import errors
from .._core.checks import non_negative_int
from ..store import Store
from .statuses import error_response, too_large

__all__ = ["Body", "write_response"]

#: What `write_response` stores: bytes, an async iterable of bytes (``request.stream()``),
#: or the request itself.
Body: TypeAlias = "bytes | bytearray | memoryview | AsyncIterable[bytes] | Request"


@runtime_checkable
class _Writer(Protocol):
    async def write(self, data: Any) -> str: ...


class _BodyTooLarge(Exception):
    """Raised into a write to abandon it: the body grew past the limit."""


class _Limit:
    """Passes a body's chunks on, and stops it once it grows past ``max_size`` bytes."""

    def __init__(self, max_size: int | None) -> None:
        self.max_size = max_size
        self.exceeded = False

    def refusal(self) -> Response:
        """The 413 answer."""
        assert self.max_size is not None
        return too_large(self.max_size)

    def over(self, size: int) -> bool:
        """Note a body of ``size`` bytes; whether that is past the limit."""
        if self.max_size is not None and size > self.max_size:
            self.exceeded = True
        return self.exceeded

    async def chunks(self, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in body:
            seen += len(chunk)
            if self.over(seen):
                raise _BodyTooLarge(f"the body is longer than {self.max_size} bytes")
            yield chunk


def _declared(request: Request) -> int | None:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


async def write_response(
    store: Store, data: Body, *, key: str | None = None, max_size: int | None = None
) -> Response:
    """Store a request body; 201 with ``{"key": ...}``.

    The body is stored as it arrives, in bounded memory: pass the request (or
    ``request.stream()``) rather than ``await request.body()``. Without ``key`` it is stored
    under its digest with ``store.write`` (a content-addressed store or chain, which spools
    it to a temporary file while hashing it); with ``key``, with ``store.put(key, ...)``.

    Args:
        store: where to store the body.
        data: the request, an async iterable of bytes, or bytes.
        key: the name to store it under (None: its digest, through ``store.write``).
        max_size: the most bytes taken (None: no limit). A longer body, announced by its
            ``Content-Length`` or found as it streams, is answered 413 and nothing is stored:
            the write is abandoned and no partial blob is visible.

    Raises:
        TypeError: ``key`` is None and the store has no ``write`` (it is not
            content-addressed).
        ValueError: ``max_size`` is negative.
    """
    non_negative_int("max_size", max_size, allow_none=True)
    if key is None and not isinstance(store, _Writer):
        raise TypeError(f"{store.name} has no write(); use a content-addressed store or pass key")
    limit = _Limit(max_size)
    if isinstance(data, Request):
        declared = _declared(data)
        if declared is not None and limit.over(declared):
            return limit.refusal()
        data = data.stream()
    if isinstance(data, (bytes, bytearray, memoryview)):
        if limit.over(len(data)):
            return limit.refusal()
        body: Any = data
    else:
        body = limit.chunks(data)
    try:
        if key is None:
            key = await store.write(body)  # type: ignore[attr-defined]
        else:
            await store.put(key, body)
    except errors.BitstoreError as exc:
        if limit.exceeded:
            return limit.refusal()
        return error_response(exc)
    except Exception:
        if limit.exceeded:
            return limit.refusal()
        raise
    return JSONResponse({"key": key}, status_code=201)
