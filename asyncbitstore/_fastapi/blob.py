"""`blob_response`: the answer to a GET or HEAD of one blob."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from .. import errors
from .._core.data import DEFAULT_CHUNK_SIZE
from ..meta import ObjectMeta
from ..store import Store
from .lengths import counted_length, plain_length, stored_plainly, streamed_length
from .ranges import (
    decoded_pieces,
    parse_range,
    partial_answer,
    relay,
    stored_pieces,
    unsatisfiable,
    wanted,
)
from .statuses import error_response
from .validators import Validators, asks_existence, fixed_validators, not_modified

__all__ = ["MEDIA_TYPE", "blob_response"]

MEDIA_TYPE = "application/octet-stream"


@dataclasses.dataclass
class _Asked:
    """What one request asks of a blob, and how to answer it."""

    store: Store
    key: str
    range_header: str | None
    head: bool
    if_none_match: str | None
    if_modified_since: str | None
    redirect: bool
    expires_in: int
    chunk_size: int
    media_type: str

    @property
    def conditional(self) -> bool:
        return bool(self.if_none_match or self.if_modified_since)

    def not_modified(self, validators: Validators) -> bool:
        return not_modified(validators, self.if_none_match, self.if_modified_since)


async def blob_response(
    store: Store,
    key: str,
    range_header: str | None = None,
    *,
    head: bool = False,
    request: Request | None = None,
    if_none_match: str | None = None,
    if_modified_since: str | None = None,
    redirect: bool = False,
    expires_in: int = 3600,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    media_type: str = MEDIA_TYPE,
) -> Response:
    """The answer to ``GET`` (or ``HEAD``, with ``head=True``) for the blob at ``key``.

    A whole blob is streamed from ``store.stream`` (memory bounded by ``chunk_size``), with
    ``Content-Length`` when the data's length is known cheaply: when a tier that answers
    ``exists`` without downloading has the blob and it is not stored compressed. A blob
    only an API source has is streamed without it (chunked), so that it is fetched once.

    A content-addressed blob (the store has a ``key_algorithm``) carries ``ETag: "<digest>"``
    and ``Cache-Control: public, max-age=31536000, immutable``; other blobs carry the ETag and
    ``Last-Modified`` their store's ``head`` reports. ``If-None-Match`` (a list, ``*``, weak
    comparison) and, without it, ``If-Modified-Since`` are answered 304 without reading the
    blob: for a content-addressed blob without any I/O (its digest is its content), else
    after ``head``.

    A single byte ``Range`` gets 206 with ``Content-Range``; an unsatisfiable one 416. A blob
    stored as it is is read piecewise with ``get_range``. A blob stored compressed is decoded
    instead, in bounded memory: once to learn its length (the total ``Content-Range`` names),
    then again, skipping to the start and stopping at the end of the range.

    ``HEAD`` sends the headers of a ``GET``, with ``Content-Length`` the data's length, or
    none when that is unknown (a blob stored compressed): never the stored size.

    Errors before the first byte become an error status
    ([`error_response`][asyncbitstore.fastapi.error_response]); a failure in
    mid-stream aborts the connection, so a client never mistakes a cut body for a whole one.

    Args:
        store: the store to read.
        key: the blob's key or name.
        range_header: the ``Range`` header (default: the request's, when ``request`` is given).
        head: answer a ``HEAD`` (also when ``request`` is a ``HEAD``).
        request: the request, whose ``Range``, ``If-None-Match`` and ``If-Modified-Since``
            headers are used where the arguments are None.
        if_none_match: the ``If-None-Match`` header.
        if_modified_since: the ``If-Modified-Since`` header.
        redirect: answer a ``GET`` with ``307 Temporary Redirect`` to a presigned URL
            (``store.sign``) when the tier holding the blob can sign one and stores the blob
            as it is (not compressed); otherwise serve it as usual. The client then downloads
            straight from the backend (S3, GCS), unverified by this service.
        expires_in: seconds a presigned URL stays valid (default 3600).
        chunk_size: the most bytes read at a time.
        media_type: the ``Content-Type`` of the blob.
    """
    if request is not None:
        headers = request.headers
        range_header = range_header if range_header is not None else headers.get("range")
        if_none_match = if_none_match if if_none_match is not None else headers.get("if-none-match")
        if if_modified_since is None:
            if_modified_since = headers.get("if-modified-since")
        head = head or request.method == "HEAD"
    asked = _Asked(
        store,
        key,
        range_header,
        head,
        if_none_match,
        if_modified_since,
        redirect,
        expires_in,
        chunk_size,
        media_type,
    )
    try:
        return await _answer(asked)
    except errors.BitstoreError as exc:
        return error_response(exc)


async def _answer(asked: _Asked) -> Response:
    store, key = asked.store, asked.key
    validators = fixed_validators(store, key)
    unchanged = asked.conditional and not asks_existence(asked.if_none_match)
    if validators.immutable and unchanged and asked.not_modified(validators):
        return Response(status_code=304, headers=validators.headers())  # the digest is the data
    meta = None
    if asked.head or asked.conditional or wanted(asked.range_header):
        meta = await store.head(key)
        validators = validators.with_meta(meta)
        if asked.conditional and asked.not_modified(validators):
            return Response(status_code=304, headers=validators.headers())
    if asked.redirect and not asked.head:
        url = await _signed_url(store, key, asked.expires_in)
        if url is not None:
            return RedirectResponse(url, status_code=307, headers=validators.headers())
    headers = {"Accept-Ranges": "bytes", **validators.headers()}
    if meta is not None and asked.head:
        return await _head(asked, meta, headers)
    if meta is not None and wanted(asked.range_header):
        return await _ranged(asked, meta, headers)
    return await _whole(asked, validators, headers, meta)


async def _signed_url(store: Store, key: str, expires_in: int) -> str | None:
    """A presigned URL of the blob, or None when its tier cannot sign or would hand out
    stored bytes that are not the data (a compressed frame)."""
    try:
        url = await store.sign(key, expires_in=expires_in)
    except NotImplementedError:
        return None
    return url if await stored_plainly(store, key) else None


async def _head(asked: _Asked, meta: ObjectMeta, headers: dict[str, str]) -> Response:
    length = await plain_length(asked.store, asked.key, meta)
    if length is not None:
        headers["Content-Length"] = str(length)
    response = Response(headers=headers, media_type=asked.media_type)
    if length is None:  # Starlette would announce the empty body's length
        del response.headers["content-length"]
    return response


async def _ranged(asked: _Asked, meta: ObjectMeta, headers: dict[str, str]) -> Response:
    store, key, chunk_size = asked.store, asked.key, asked.chunk_size
    length = await plain_length(store, key, meta)
    read = stored_pieces
    if length is None:
        length = await counted_length(store, key, chunk_size)
        read = decoded_pieces
    span = parse_range(asked.range_header, length)
    assert span is not None  # `wanted` said so
    if span[0] >= length:
        return unsatisfiable(length, headers)
    pieces = await read(store, key, span, chunk_size)
    return partial_answer(key, pieces, span, length, asked.media_type, headers)


async def _whole(
    asked: _Asked, validators: Validators, headers: dict[str, str], meta: ObjectMeta | None
) -> Response:
    """The whole blob, streamed; described (unless ``meta`` already does) only once its
    stream is open: a chain then fetches it once, and is not sent a range read that would
    fetch it again to fill caches."""
    store, key = asked.store, asked.key
    chunks = store.stream(key, asked.chunk_size)
    first = await anext(chunks, b"")
    try:
        if meta is None:
            meta = await _cheap_meta(store, key)
        length = None if meta is None else await streamed_length(store, key, meta, first)
    except errors.BitstoreError:
        meta = length = None
    except BaseException:
        await chunks.aclose()  # type: ignore[attr-defined]
        raise
    if meta is not None:
        headers.update(validators.with_meta(meta).headers())
    if length is not None:
        headers["Content-Length"] = str(length)
    body: AsyncIterator[bytes] = relay(key, first, chunks)
    return StreamingResponse(body, media_type=asked.media_type, headers=headers)


async def _cheap_meta(store: Store, key: str) -> ObjectMeta | None:
    """``head`` of the blob when a tier that checks blobs cheaply has it, else None (an API
    source's ``head`` would download it)."""
    if not store.exists_is_cheap or not await store.exists(key):
        return None
    return await store.head(key)
