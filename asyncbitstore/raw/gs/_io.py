"""URI parsing, error translation and upload plumbing for ``GSRaw``."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import aiohttp

from ..._core.checks import positive_int, positive_number
from ..._core.data import PutData, check_chunk_size, chunks_of
from ..._core.put_attrs import PLAIN, PutAttrs
from ...errors import AlreadyExists, BitstoreError, ObjectChanged, StoreNotAvailable
from ...retry import TransientError, is_transient
from .._net.aiohttp import status_error
from ._client import AuthError, GSClient, short

__all__ = [
    "UPLOAD_UNIT",
    "check_options",
    "emulator_root",
    "pieces",
    "put_stream",
    "send_all",
    "split_object",
    "split_prefix",
    "translate",
    "upload_bytes",
]

R = TypeVar("R")

UPLOAD_UNIT = 256 << 10  # resumable upload chunks must be multiples of this

_BUCKET = r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]"
_OBJECT_URI = re.compile(rf"gs://({_BUCKET})/(.+)", re.DOTALL)
_PREFIX_URI = re.compile(rf"gs://({_BUCKET})(?:/(.*))?", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_options(
    credentials: object, max_connections: object, timeout: object, chunk_size: int
) -> None:
    """Raise ``TypeError``/``ValueError`` for unusable ``GSRaw`` options."""
    if credentials is not None and not isinstance(credentials, (str, os.PathLike, Mapping)):
        raise TypeError("credentials must be a file path, a dict or None")
    positive_int("max_connections", max_connections, type_error=True)
    positive_number("read_timeout", timeout, allow_none=True)
    if check_chunk_size(chunk_size) % UPLOAD_UNIT:
        raise ValueError(f"chunk_size must be a multiple of 256 KiB, not {chunk_size}")


def emulator_root(api_root: str | None) -> str | None:
    """``api_root``, else ``STORAGE_EMULATOR_HOST``, with a scheme and no trailing slash."""
    root = api_root or os.environ.get("STORAGE_EMULATOR_HOST") or None
    if root is None:
        return None
    return ("" if "://" in root else "http://") + root.rstrip("/")


def split_object(uri: str) -> tuple[str, str] | None:
    """``(bucket, object name)`` of a valid ``gs://`` object URI, else None."""
    match = _OBJECT_URI.fullmatch(uri)
    if match is None:
        return None
    bucket, name = match.groups()
    if name in (".", "..") or _CONTROL.search(name):
        return None
    try:
        if len(name.encode()) > 1024:
            return None
    except UnicodeEncodeError:  # lone surrogates
        return None
    return bucket, name


def split_prefix(prefix: str) -> tuple[str, str] | None:
    """``(bucket, name prefix)`` of ``gs://bucket`` or ``gs://bucket/prefix``, else None."""
    match = _PREFIX_URI.fullmatch(prefix)
    return None if match is None else (match.group(1), match.group(2) or "")


def translate(store: object, exc: Exception, uri: str, pinned: str | None = None) -> Exception:
    """Our exception for a failure of gcloud-aio-storage, aiohttp or the token source.

    The one place where their errors become ours: 404 → ``NotFoundInStore``, 401/403 and auth
    failures → ``StoreNotAvailable`` with the reason, 416 → ``InvalidRange``, and transient
    failures (429, 5xx, connection errors, timeouts) that outlived the retries →
    ``StoreNotAvailable``. Anything else is returned unchanged (a bug, or the caller's own error).

    For a read of one generation (``pinned``), 404 and 412 say that generation is no longer
    the live object (replaced or deleted): ``ObjectChanged``.
    """
    if isinstance(exc, BitstoreError):
        return exc
    if isinstance(exc, AuthError):
        return StoreNotAvailable(store, f"authentication failed: {exc}", uri=uri)
    status = getattr(exc, "status", None)
    if pinned is not None and status in (404, 412):
        return ObjectChanged(store, uri, pinned)
    if status == 412:  # only a create's ifGenerationMatch=0 sends a condition that fails
        return AlreadyExists(store, uri)
    if isinstance(status, int):  # aiohttp.ClientResponseError from gcloud, or HTTPStatusError
        detail = getattr(exc, "detail", None) or short(str(getattr(exc, "message", "")))
        error = status_error(store, uri, status, detail)
        if isinstance(error, TransientError):
            return StoreNotAvailable(store, str(error), uri=uri)
        return error
    if is_transient(exc):
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return StoreNotAvailable(store, text, uri=uri)
    if isinstance(exc, (aiohttp.ClientError, OSError, ValueError, KeyError)):
        return StoreNotAvailable(store, f"unexpected answer ({type(exc).__name__})", uri=uri)
    return exc


async def pieces(
    buffer: bytearray, rest: AsyncIterator[bytes], size: int
) -> AsyncIterator[tuple[bytes, bool]]:
    """``(chunk, is_last)``, every chunk ``size`` bytes but the last: what resumable uploads need.

    Starts with what ``buffer`` holds, then reads ``rest``; memory stays under two chunks.
    """
    async for piece in rest:
        buffer += piece
        while len(buffer) > size:
            yield bytes(buffer[:size]), False
            del buffer[:size]
    yield bytes(buffer), True


async def _direct(fn: Callable[[], Awaitable[R]]) -> R:
    return await fn()


async def send_all(
    client: GSClient,
    session_uri: str,
    chunks: AsyncIterator[tuple[bytes, bool]],
    guard: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]] = _direct,
) -> None:
    """Send every chunk through ``guard``; on any failure cancel the session, so that nothing
    becomes visible."""
    offset = 0
    try:
        async for chunk, last in chunks:
            await guard(partial(client.send_chunk, session_uri, chunk, offset, last))
            offset += len(chunk)
    except BaseException:
        # Shielded: a cancelled put must still abandon its upload session.
        await asyncio.shield(client.cancel_upload(session_uri))
        raise


async def put_stream(
    do: Callable[..., Awaitable[Any]],
    uri: str,
    bucket: str,
    name: str,
    data: AsyncIterable[bytes],
    chunk_size: int,
    attrs: PutAttrs = PLAIN,
) -> None:
    """Upload an async iterable through ``do`` (``GSRaw._do``): in one request if it fits in a
    chunk, else by resumable upload, whose session start is retried but not its chunks."""
    chunks = chunks_of(data)
    try:
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) > chunk_size:
                break
        else:
            body = bytes(buffer)
            await do(
                uri,
                partial(GSClient.upload, bucket=bucket, name=name, data=body, attrs=attrs),
                bucket=bucket,
            )
            return
        client = await do(uri, _itself)
        start = partial(GSClient.start_upload, bucket=bucket, name=name, attrs=attrs)
        session_uri = await do(uri, start, bucket=bucket)

        async def once(send: Callable[[], Awaitable[None]]) -> None:
            await do(uri, lambda _: send(), retry=False)

        await send_all(client, session_uri, pieces(buffer, chunks, chunk_size), once)
    finally:
        await chunks.aclose()


async def _itself(client: GSClient) -> GSClient:
    return client


async def upload_bytes(
    client: GSClient,
    bucket: str,
    name: str,
    data: PutData,
    chunk_size: int,
    attrs: PutAttrs = PLAIN,
) -> None:
    """One resumable upload of a bytes-like body; failures propagate raw, for the retry policy."""
    session_uri = await client.start_upload(bucket, name, attrs)
    await send_all(
        client, session_uri, pieces(bytearray(), chunks_of(data, chunk_size), chunk_size)
    )
