"""Puts for ``S3Raw`` longer than one part: multipart uploads with several parts in flight.

Data of at most one part goes up in a single PUT. Longer data becomes a multipart upload: up to
``max_concurrency`` parts (``part_size`` bytes, a streamed part a little more) are sent at once,
and the next part is only taken from the data when a request slot is free, so an async iterable
is read ahead by no more than what may be in flight: memory stays at about
(``max_concurrency`` + 1) parts. Bytes-like data is cut into memoryview slices, never copied as a
whole; on the fast path (`FastConnection.upload_part`) a slice is sent as it is, with no copy
(botocore's path copies a part when its request starts). Each part is retried on its own under
the store's policy; the completion lists the parts in order with their ETags. If the producer
fails, a part fails for good, or the caller is cancelled, the parts still in flight are
cancelled and awaited, then the upload is aborted before the error propagates: S3 keeps neither
an object nor the uploaded parts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..._core.data import BytesLike, PutData, chunks_of
from ..._core.put_attrs import PutAttrs
from ...errors import AlreadyExists
from ._client import Connection, Upload
from ._put_headers import attr_kwargs, condition_kwargs

__all__ = ["MAX_PARTS", "Uploader", "abort", "upload"]

Operation = Callable[[Connection], Awaitable[Any]]

logger = logging.getLogger("asyncbitstore.s3")

#: S3 refuses part numbers above this.
MAX_PARTS = 10_000


@dataclass(frozen=True)
class Uploader:
    """What an upload needs of the store: its request runner, single PUT and settings."""

    #: ``request(uri, bucket, what, fn)``: ``await fn(connection)`` with retries and errors.
    request: Callable[[str | None, str, str, Operation], Awaitable[Any]]
    #: ``put_single(uri, bucket, key, data, attrs)``: the object in one PUT.
    put_single: Callable[[str, str, str, bytes, PutAttrs], Awaitable[None]]
    #: ``exists(uri)``: whether an object is at ``uri`` (asked before a create's parts go up).
    exists: Callable[[str], Awaitable[bool]]
    part_size: int
    verify_etag: bool
    #: The store, as errors name it.
    owner: object
    #: Parts of one upload sent at the same time.
    max_concurrency: int = 1


@dataclass(frozen=True)
class _Target:
    uri: str
    upload: Upload


async def _slices(view: memoryview, part_size: int) -> AsyncGenerator[BytesLike, None]:
    for offset in range(0, len(view), part_size):
        yield view[offset : offset + part_size]


async def _regrouped(data: PutData, part_size: int) -> AsyncGenerator[BytesLike, None]:
    """``data`` regrouped into parts of at least ``part_size`` bytes; only the last is shorter."""
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks_of(data, part_size):
        if not chunk:
            continue
        pending.append(chunk)
        size += len(chunk)
        if size >= part_size:
            yield b"".join(pending)
            pending.clear()
            size = 0
    if pending:
        yield b"".join(pending)


def _parts(data: PutData, part_size: int) -> AsyncGenerator[BytesLike, None]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        if not view.contiguous:
            view = memoryview(view.tobytes())
        return _slices(view.cast("B"), part_size)
    return _regrouped(data, part_size)


async def upload(
    store: Uploader, uri: str, bucket: str, key: str, data: PutData, attrs: PutAttrs
) -> None:
    """Store ``data`` at ``bucket``/``key``, in one PUT if it is short, else in parts.

    The attributes go with the CreateMultipartUpload. A create (``attrs.create``) first asks
    whether the key is taken, so that no part goes up for nothing, and then completes with
    ``If-None-Match: *``: the server's check at completion is what makes it atomic.
    """
    parts = _parts(data, store.part_size)
    try:
        first = await anext(parts, None)
        if first is None or len(first) < store.part_size:
            await store.put_single(uri, bucket, key, bytes(first or b""), attrs)
            return
        if attrs.create and await store.exists(uri):
            raise AlreadyExists(store.owner, uri)
        described = attr_kwargs(attrs)
        created = await store.request(
            uri, bucket, "create multipart upload",
            lambda c: c.client.create_multipart_upload(Bucket=bucket, Key=key, **described),
        )  # fmt: skip
        target = _Target(uri, Upload(bucket, key, created["UploadId"]))
        # Handed over in a list the part loop empties, so no frame keeps the first part alive.
        handover = [first]
        del first
        try:
            done = await _upload_parts(store, target, handover, parts)
            await store.request(
                uri, bucket, "complete multipart upload",
                lambda c: c.client.complete_multipart_upload(
                    Bucket=bucket,
                    Key=key,
                    UploadId=target.upload.upload_id,
                    MultipartUpload={"Parts": done},
                    **condition_kwargs(attrs),
                ),
            )  # fmt: skip
        except BaseException:
            # Shielded: a second cancellation must not leave the upload (and its parts) behind.
            await asyncio.shield(abort(store, uri, bucket, key, target.upload.upload_id))
            raise
    finally:
        await parts.aclose()


async def _next_part(parts: AsyncIterator[BytesLike]) -> BytesLike | None:
    return await anext(parts, None)


async def _upload_parts(
    store: Uploader, target: _Target, handover: list[BytesLike], rest: AsyncIterator[BytesLike]
) -> list[dict[str, Any]]:
    """Send every part, at most ``store.max_concurrency`` at once; their list, in order.

    The next part is read (in a task of its own, so that a failed part is noticed while the
    producer is still busy) only while fewer than ``max_concurrency`` parts are in flight.
    On any exception, this one's cancellation included, every task is cancelled and awaited
    before it propagates, so that no part lands after the abort.
    """
    sending: dict[asyncio.Task[str], int] = {}
    etags: dict[int, str] = {}
    ready: BytesLike | None = handover.pop()
    reading: asyncio.Task[BytesLike | None] | None = None
    exhausted = False
    number = 0
    try:
        while True:
            if ready is not None:
                number += 1
                if number > MAX_PARTS:
                    raise ValueError(
                        f"{target.uri!r} needs more than {MAX_PARTS} parts of "
                        f"{store.part_size} bytes; use a larger part_size"
                    )
                sending[asyncio.create_task(_upload_part(store, target, number, ready))] = number
                ready = None  # the task holds the part now
            if reading is None and not exhausted and len(sending) < store.max_concurrency:
                reading = asyncio.create_task(_next_part(rest))
            waiting: set[asyncio.Future[Any]] = set(sending)
            if reading is not None:
                waiting.add(reading)
            if not waiting:
                break
            finished, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if reading is not None and reading in finished:
                ready = reading.result()
                exhausted = ready is None
                reading = None
            for sent in finished.intersection(sending):
                etags[sending.pop(sent)] = sent.result()
    except BaseException:
        await _cancel([*sending, *([reading] if reading is not None else [])])
        raise
    return [{"ETag": etags[n], "PartNumber": n} for n in range(1, number + 1)]


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    # Shielded: a caller cancelled again must still wait until no part is on its way.
    await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))


async def _upload_part(store: Uploader, target: _Target, number: int, part: BytesLike) -> str:
    # The part goes to the connection as it is (a slice of the caller's bytes, or the stream's
    # part buffer): the fast path sends it without a copy, botocore's copies it when it sends.
    body = part if isinstance(part, (bytes, memoryview)) else memoryview(part)
    del part
    md5 = store.verify_etag
    etag: str = await store.request(
        target.uri, target.upload.bucket, f"upload part {number}",
        lambda c: c.upload_part(target.upload, number, body, md5=md5),
    )  # fmt: skip
    return etag


async def abort(store: Uploader, uri: str, bucket: str, key: str, upload_id: str) -> None:
    try:
        await store.request(
            uri, bucket, "abort multipart upload",
            lambda c: c.client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id),
        )  # fmt: skip
    except Exception as exc:
        # The original error matters more; an orphaned upload only costs storage until a
        # bucket lifecycle rule (AbortIncompleteMultipartUpload) removes it.
        logger.warning(
            "could not abort the multipart upload of %s (%s: %s)", uri, type(exc).__name__, exc
        )
