"""Streaming puts for ``S3Raw``: multipart uploads from async iterables.

Data shorter than one part goes up in a single PUT. Longer data becomes a multipart upload, one
part (``part_size`` bytes or a little more) at a time, so memory stays at about one part. If the
producer fails, a request fails for good, or the caller is cancelled, the upload is aborted
before the error propagates: S3 then keeps neither an object nor the uploaded parts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..._core.data import PutData, chunks_of
from ..._core.put_attrs import PutAttrs
from ...errors import AlreadyExists
from ._client import Connection, content_md5
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


async def _parts(data: PutData, part_size: int) -> AsyncGenerator[bytes, None]:
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
            await store.put_single(uri, bucket, key, first or b"", attrs)
            return
        if attrs.create and await store.exists(uri):
            raise AlreadyExists(store.owner, uri)
        described = attr_kwargs(attrs)
        created = await store.request(
            uri, bucket, "create multipart upload",
            lambda c: c.client.create_multipart_upload(Bucket=bucket, Key=key, **described),
        )  # fmt: skip
        upload_id: str = created["UploadId"]
        # Handed over in a list the part loop empties, so no frame keeps the first part alive.
        handover = [first]
        del first
        try:
            await _upload_parts(store, uri, bucket, key, upload_id, handover, parts, attrs)
        except BaseException:
            # Shielded: a second cancellation must not leave the upload (and its parts) behind.
            await asyncio.shield(abort(store, uri, bucket, key, upload_id))
            raise
    finally:
        await parts.aclose()


async def _upload_parts(
    store: Uploader,
    uri: str,
    bucket: str,
    key: str,
    upload_id: str,
    handover: list[bytes],
    rest: AsyncIterator[bytes],
    attrs: PutAttrs,
) -> None:
    done: list[dict[str, Any]] = []
    part: bytes | None = handover.pop()
    while part is not None:
        number = len(done) + 1
        if number > MAX_PARTS:
            raise ValueError(
                f"{uri!r} needs more than {MAX_PARTS} parts of {store.part_size} bytes; "
                "use a larger part_size"
            )
        done.append(await _upload_part(store, uri, bucket, key, upload_id, number, part))
        part = None  # drop the reference before waiting for the next part
        part = await anext(rest, None)
    await store.request(
        uri, bucket, "complete multipart upload",
        lambda c: c.client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            **condition_kwargs(attrs),
        ),
    )  # fmt: skip


async def _upload_part(
    store: Uploader, uri: str, bucket: str, key: str, upload_id: str, number: int, part: bytes
) -> dict[str, Any]:
    kwargs = {"ContentMD5": content_md5(part)} if store.verify_etag else {}
    response = await store.request(
        uri, bucket, f"upload part {number}",
        lambda c: c.client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=part, **kwargs
        ),
    )  # fmt: skip
    return {"ETag": response["ETag"], "PartNumber": number}


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
