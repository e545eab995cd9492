"""``GSRaw``: Google Cloud Storage objects as blobs, for ``gs://bucket/object`` URIs.

Built on gcloud-aio-storage (tokens, metadata, simple uploads, deletes, listings) and on its
aiohttp session (ranged and streamed downloads, chunked resumable uploads). Every network call
goes through `GSRaw._do`: transient failures are retried by the store's
[`Retry`][asyncbitstore.retry.Retry], then `translate` turns what
is left into our errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from ..._core.forward import Forwarded
from ..._core.found import answers
from ..._core.put_attrs import PutAttrs

try:
    import gcloud.aio.storage  # noqa: F401
except ModuleNotFoundError as _missing:
    _HINT = "GSRaw needs gcloud-aio-storage: pip install 'asyncbitstore[gcs]'"
    raise ImportError(_HINT) from _missing

from ..._core.data import PutData, check_chunk_size
from ..._core.redact import redact, stand_in
from ..._core.renamed import NOT_GIVEN, renamed
from ..._core.resources import LoopLocal
from ..._core.uris import parse_uri
from ...compression.content_encoding import (
    DEFAULT_MAX_DECODED,
    UnknownCoding,
    codings,
    decode_content,
    decode_content_stream,
    transport_only,
)
from ...compression.store_io import Span
from ...errors import (
    BucketNotFound,
    CompressedRange,
    InvalidDataFound,
    InvalidRange,
    NotFoundInStore,
    ObjectChanged,
    StoreNotAvailable,
)
from ...meta import ObjectMeta
from ...retry import Retry, TransientError, is_transient
from ...store import DEFAULT_CONCURRENCY
from .._base import DEFAULT_MAX_CONCURRENCY, DEFAULT_PARALLEL_THRESHOLD, SpannedRaw, check_str
from .._net import responses
from .._net.checksums import ChecksumMismatch, md5_of
from .._signing import check_sign
from . import _copy as gs_copy
from . import _io as gsio
from . import _meta as gs_meta
from . import _sign as gs_sign
from ._client import Credentials, GSClient, create_client, md5_mismatch, read_whole
from ._span import GENERATION, STORED_ENCODING, SpanRead

__all__ = ["GSRaw"]

R = TypeVar("R")

_MAX_KNOWN_BUCKETS = 1024
_GENERATION_TRIES = 3  # reads of a pinned generation when writes keep replacing it


class GSRaw(SpannedRaw):
    """Objects in Google Cloud Storage buckets, for ``gs://<bucket>/<object>`` URIs.

    Args:
        credentials: a service-account (or other Google credentials) JSON file path, or its
            parsed dict. ``None`` uses Application Default Credentials.
        api_root: the JSON API root of an emulator (e.g. ``http://127.0.0.1:4443``); defaults to
            the ``STORAGE_EMULATOR_HOST`` variable. With either, no token is ever fetched.
        retry: the backoff policy for transient failures (connection errors, timeouts, 429, 5xx).
        max_connections: the connection pool size; give it the concurrency of your bulk calls.
            Requests beyond it wait for a connection, and that wait is not timed.
        read_timeout: seconds a request may go without progress (connecting, or between
            reads), or ``None``; ``stream`` also gets each chunk within it, so a peer trickling
            bytes cannot hold a stream open (the rest of the download is then resumed under
            ``retry``).
        verify_checksums: check whole-object reads (``get`` and ``stream``) against the md5
            of the answer's ``x-goog-hash`` header. A ``get`` whose bytes do not match is read
            again under ``retry`` and then raises `InvalidDataFound`; a ``stream`` raises it
            after its last chunk. Objects with no md5 (composite objects: crc32c only, which
            is not checked) and answers whose ``Content-Encoding`` differs from the
            object's stored one (decompressed or compressed on the way) are not checked;
            ranges never are. An object stored with a ``Content-Encoding`` is read as stored
            (``Accept-Encoding: gzip``, so GCS does not decompress it), checked, then decoded.
        verify_md5: turns the same check on whatever ``verify_checksums`` says (its older name).
        chunk_size: bodies up to this size are uploaded in one request; larger ones (and async
            iterables that grow past it) go through a resumable upload in chunks of this size,
            which keeps memory at about two chunks. A multiple of 256 KiB; default 8 MiB.
            A large read is asked in ranges of this size too.
        max_concurrency: requests one object's transfer keeps in flight (the ranges of a
            large read). Default 8.
        parallel_threshold: a `get` (and `stream`, `local_path`) of an object at least this
            many bytes reads it as ranges of ``chunk_size``, ``max_concurrency`` at a time, all
            of the generation the first answer named (``generation=``: an object replaced
            meanwhile raises `ObjectChanged`); ``None`` reads every object in one request.
            While it is set, a `get` starts with a GET of the first ``chunk_size`` bytes: a
            smaller object comes whole in that answer, one below the threshold in one more
            request, and one stored with a ``Content-Encoding`` in one more plain request.
            The md5 check covers the whole object once assembled. Default 32 MiB.

    Uploads are atomic: a failed or cancelled put leaves no object and keeps an older one.
    A bytes put is retried whole; an async iterable cannot be replayed, so a transient failure
    after its first chunk was sent ends the upload with ``StoreNotAvailable``.
    Credentials never appear in ``name``, ``repr``, messages or logs, but they are part of a
    pickled store (a worker process needs them).

    A missing bucket is not a missing object: every call on it raises
    [BucketNotFound][asyncbitstore.errors.BucketNotFound] naming it. GCS's 404 does not always say
    which of the two is missing (the emulator's never does), so the first 404 in a bucket is
    followed by one request for the bucket's metadata; a bucket found there (or one this store
    may not inspect) is remembered per store.
    """

    uri_hint = "gs://<bucket>/<object>"
    _runtime_attrs = ("_clients", "_buckets")
    _renamed_attrs = (("timeout", "read_timeout"),)
    _list_page_size = 1000
    verify_checksums: bool = True  # a store pickled before the option existed has it
    #: The most bytes ``get`` decodes an object stored with a ``Content-Encoding`` to (a
    #: larger one raises `StoreNotAvailable`; ``stream`` has no such bound).
    max_decoded_bytes: int = DEFAULT_MAX_DECODED

    def __init__(
        self,
        credentials: Credentials = None,
        *,
        api_root: str | None = None,
        retry: Retry | None = None,
        max_connections: int = DEFAULT_CONCURRENCY,
        read_timeout: float | None = 60.0,
        verify_md5: bool = False,
        verify_checksums: bool = True,
        chunk_size: int = 32 * gsio.UPLOAD_UNIT,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        parallel_threshold: int | None = DEFAULT_PARALLEL_THRESHOLD,
        timeout: Any = NOT_GIVEN,
    ) -> None:
        timeout = renamed("read_timeout", read_timeout, "timeout", timeout, 60.0)
        gsio.check_options(credentials, max_connections, timeout, chunk_size)
        self.api_root = gsio.emulator_root(api_root)
        self.retry = retry if retry is not None else Retry()
        self.max_connections = max_connections
        self.read_timeout = timeout
        self.verify_md5 = bool(verify_md5)
        self.verify_checksums = bool(verify_checksums)
        self.chunk_size = chunk_size
        self._set_parallel(max_concurrency, parallel_threshold)
        self._credentials = credentials
        self._anonymous = False
        self._init_runtime()

    @classmethod
    def anonymous(cls, **options: Any) -> GSRaw:
        """A store that sends no credentials, for public buckets (same options, but none)."""
        if "credentials" in options:
            raise TypeError("an anonymous store takes no credentials")
        store = cls(**options)
        store._anonymous = True
        return store

    _range_part = Forwarded[int]("chunk_size")
    """Ranges of a parallel read are ``chunk_size`` bytes."""

    def _init_runtime(self) -> None:
        self._clients: LoopLocal[GSClient] = LoopLocal(self._create_client, GSClient.aclose)
        self._buckets: set[str] = set()  # known to exist: a 404 there is a missing object

    async def _create_client(self) -> GSClient:
        return await create_client(
            api_root=self.api_root,
            anonymous=self._anonymous,
            credentials=self._credentials,
            limit=self.max_connections,
            timeout=self.read_timeout,
        )

    @property
    def name(self) -> str:
        details = [f"api_root={redact(self.api_root)!r}"] if self.api_root else []
        if self._anonymous:
            details.append("anonymous")
        return f"GSRaw({', '.join(details)})" if details else "GSRaw"

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is ``gs://<bucket>/<object>`` with valid bucket and object names."""
        check_str(uri)
        return gsio.split_object(uri) is not None

    def _parse(self, uri: object) -> tuple[str, str]:
        return parse_uri(self, uri, gsio.split_object, self.uri_hint)

    _locate = _parse

    async def _do(
        self,
        uri: str,
        op: Callable[[GSClient], Awaitable[R]],
        *,
        bucket: str | None = None,
        retry: bool = True,
        pinned: str | None = None,
    ) -> R:
        """``await op(client)``, retried when transient; failures come out translated.

        With ``bucket``, a "not found" whose bucket is missing raises `BucketNotFound`; with
        ``pinned`` (the generation ``op`` reads), one that is gone raises `ObjectChanged`.
        """

        async def attempt() -> R:
            return await op(await self._clients.get())

        try:
            return await (self.retry.call(attempt) if retry else attempt())
        except ChecksumMismatch as exc:
            tries = self.retry.attempts if retry else 1
            raise InvalidDataFound(self, uri, f"{exc.reason} in each of {tries} reads") from None
        except Exception as exc:
            error = gsio.translate(self, exc, uri, pinned)
            if error is exc:
                raise
            cause = stand_in(exc)
        # Past the handler, so the SDK error (its request info, headers) is not the context.
        if bucket is not None and type(error) is NotFoundInStore and not await self._has(bucket):
            error = BucketNotFound(self, bucket, uri=uri)
        raise error from cause

    async def _has(self, bucket: str) -> bool:
        if bucket not in self._buckets:
            with contextlib.suppress(Exception):
                if not await (await self._clients.get()).bucket_exists(bucket):
                    return False
            if len(self._buckets) >= _MAX_KNOWN_BUCKETS:
                self._buckets.clear()
            self._buckets.add(bucket)
        return True

    # -- reads ----------------------------------------------------------------------------------

    async def _read(
        self, client: GSClient, uri: str, bucket: str, name: str, generation: str | None = None
    ) -> tuple[bytes, Mapping[str, str]]:
        """The body as sent (checked against its md5) and the answer's headers."""
        response = await client.get_media(bucket, name, generation=generation)
        async with response:
            data = await read_whole(response)
        await self._check_whole(response.headers, data)
        return data, response.headers

    async def _check_whole(self, headers: Mapping[str, str], data: bytes) -> None:
        """Raise `ChecksumMismatch` (read again under ``retry``) if ``data``, the whole object
        as the answer with ``headers`` sent it, does not have its md5."""
        if self._checks_reads:
            reason = md5_mismatch(headers, (await md5_of(data)).digest())
            if reason is not None:
                raise ChecksumMismatch(reason)

    async def _read_first(
        self, client: GSClient, uri: str, bucket: str, name: str, generation: str | None = None
    ) -> tuple[bytes, Mapping[str, str], int | None] | None:
        """The answer to a GET of the object's first `_first_part` bytes: its body, its
        headers, and the object's whole length when there is more to read (None: the body is
        the whole object, checked against its md5). None for a part of an object stored with a
        ``Content-Encoding``, whose body is left unread: such an object is read whole."""
        part = self._first_part
        response = await client.get_media(bucket, name, f"bytes=0-{part - 1}", generation)
        async with response:
            headers, expected, total = response.headers, None, None
            if response.status == 206:  # a 200 is the whole object (the Range was ignored)
                header = headers.get("Content-Range")
                expected, total = (
                    responses.span_length(header, 0, part),
                    responses.range_total(header),
                )
                if total is None:
                    raise TransientError("a partial answer that does not name the object's length")
                if total > expected and _encoded(headers):
                    return None
            data = await read_whole(response)
        if expected is not None:
            responses.check_length(len(data), expected)
        if total is not None and total > len(data):
            return data, headers, total
        await self._check_whole(headers, data)
        return data, headers, None

    async def _as_stored(self, uri: str, data: bytes, headers: Mapping[str, str]) -> bytes:
        """``data`` with an encoding added on the way only undone (see `transport_only`)."""
        stored = headers.get(STORED_ENCODING)
        layer = transport_only(headers.get("Content-Encoding"), stored)
        return await self._undo(uri, data, layer)

    async def _undo(self, uri: str, data: bytes, encoding: str | None) -> bytes:
        bound = self.max_decoded_bytes
        return await decode_content(self, uri, data, encoding, bound, "max_decoded_bytes")

    @property
    def _checks_reads(self) -> bool:
        return self.verify_checksums or self.verify_md5

    async def _get_answer(
        self, uri: str, generation: str | None = None
    ) -> tuple[bytes, Mapping[str, str]]:
        """The whole object as sent, checked against its md5, and the headers of the (first)
        answer; of ``generation`` only, when given.

        With parallel reads on (``parallel_threshold``), the first request asks for the first
        ``chunk_size`` bytes: a smaller object comes whole in its answer, and a larger one is
        read on with `_assemble`, every range pinned to the first answer's generation. An
        object stored with a ``Content-Encoding`` is read again whole, as stored (its ranges
        would be ranges of the encoded bytes, which GCS may also decode on the way).
        """
        bucket, name = self._parse(uri)
        whole = partial(self._read, uri=uri, bucket=bucket, name=name, generation=generation)
        if not self._ranged_reads:
            return await self._do(uri, whole, bucket=bucket)
        first = partial(self._read_first, uri=uri, bucket=bucket, name=name, generation=generation)
        try:
            answer = await self._do(uri, first, bucket=bucket)
        except InvalidRange:  # 416: an empty object has no first byte to send
            return await self._do(uri, whole, bucket=bucket)
        if answer is None:
            return await self._do(uri, whole, bucket=bucket)
        head, headers, total = answer
        if total is None:
            return head, headers
        span = Span(head, version=headers.get(GENERATION), total=total)
        data = await self._assemble(uri, (bucket, name), span)
        if self._checks_reads:
            reason = md5_mismatch(headers, (await md5_of(data)).digest())
            if reason is not None:
                raise InvalidDataFound(self, uri, reason)
        return data, headers

    async def _get_stored(self, uri: str) -> bytes:
        return await self._as_stored(uri, *await self._get_answer(uri))

    async def _get_content(self, uri: str) -> bytes:
        """The object's bytes, its ``Content-Encoding`` undone (bounded by
        ``max_decoded_bytes``)."""
        data, headers = await self._get_answer(uri)
        return await self._undo(uri, data, headers.get("Content-Encoding"))

    _frame_marks = True
    _pinned_ranges = True

    async def _stored_span(
        self, uri: str, where: Any, asked_start: int, asked_end: int, start: int, end: int
    ) -> Span:
        """A range request (open-ended for a huge ``end``); the answer's ``x-goog-meta-*``
        headers carry the object's frame mark, so a marked object needs no second request to
        show it is not compressed. The span's ``version`` is the generation and its ``total``
        the object's length (from ``Content-Range``, or the resource's ``size`` when no byte
        was asked or there is none to send)."""
        bucket, name = where
        if start < end:
            read = SpanRead(self, uri, bucket, name, start, end, (asked_start, asked_end))
            try:
                return await self._do(uri, read, bucket=bucket)
            except CompressedRange:
                raise
            except InvalidRange:  # 416: start at or past the end
                pass
        resource = await self._do(uri, lambda c: c.metadata(bucket, name), bucket=bucket)
        size = int(resource["size"])
        if start > size:
            raise InvalidRange(self, uri, start, end, f"the blob has only {size} bytes")
        custom = resource.get("metadata")
        marks = custom if isinstance(custom, Mapping) else {}
        generation = resource.get("generation")
        version = None if generation is None else str(generation)
        return Span.of(b"", marks, version, size)

    async def _pinned_range(
        self, uri: str, where: Any, first: int, last: int, version: str, /
    ) -> bytes:
        """Bytes ``[first, last)`` of generation ``version`` only (``generation=`` on the
        media GET; fewer at the object's end), retried under ``retry``.

        Raises:
            ObjectChanged: that generation is no longer the object (replaced or deleted: GCS
                answers 404 for either, and both mean the read cannot be finished).
        """
        if first >= last:
            return b""
        bucket, name = where
        read = SpanRead(self, uri, bucket, name, first, last, (first, last), version)
        span = await self._do(uri, read, pinned=version)
        return span.data

    async def _stream_stored(
        self, uri: str, chunk_size: int, decode: bool = False
    ) -> AsyncIterator[bytes]:
        """The object as it arrives (with ``decode``, its ``Content-Encoding`` undone; the
        md5 check covers the bytes as sent). A connection lost mid-way, or a chunk not
        complete within ``read_timeout``, is resumed at the next byte of the same object
        generation, under the retry policy.

        An object of at least ``parallel_threshold`` bytes stored with no encoding is read
        that way only for its first ``chunk_size`` bytes; the rest comes as ranges of its
        generation, up to ``max_concurrency`` of them read ahead of the consumer.
        """
        bucket, name = self._parse(uri)
        check_chunk_size(chunk_size)
        response = await self._do(uri, lambda c: c.get_media(bucket, name), bucket=bucket)
        headers = response.headers
        if decode:
            layer = headers.get("Content-Encoding")
        else:
            layer = transport_only(headers.get("Content-Encoding"), headers.get(STORED_ENCODING))
        if self._parallel_stream(response):
            chunks = self._stream_parts(uri, (bucket, name), response, chunk_size)
        else:
            chunks = self._resumed(uri, bucket, name, response, chunk_size)
            if layer is not None:
                chunks = decode_content_stream(self, uri, chunks, layer, chunk_size)
        try:
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    yield chunk
        finally:
            response.release()  # in case `chunks` never started

    def _stream_content(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        return self._stream_stored(uri, chunk_size, decode=True)

    def _parallel_stream(self, response: Any) -> bool:
        """Whether the rest of the object a streamed answer began goes by pinned ranges."""
        threshold, size = self.parallel_threshold, response.content_length
        return (
            self._ranged_reads
            and threshold is not None
            and size is not None
            and size >= threshold
            and size > self._first_part
            and bool(response.headers.get(GENERATION))
            and not _encoded(response.headers)
        )

    async def _stream_parts(
        self, uri: str, where: tuple[str, str], response: Any, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        """The object whose whole answer ``response`` is: its first `_first_part` bytes read
        from it, the rest as ranges of its generation; checked against its md5 at the end."""
        headers = response.headers
        try:
            head = await responses.read_chunk(response.content, self._first_part, self.read_timeout)
        except Exception as exc:
            if not is_transient(exc):
                raise
            head = b""  # nothing was yielded yet: the ranges read it all, each under retry
        finally:
            response.release()  # the rest of its body is not read: its connection closes
        first = Span(head, version=headers[GENERATION], total=response.content_length)
        digest = hashlib.md5(usedforsecurity=False) if self._checks_reads else None
        async with contextlib.aclosing(
            self._stream_ranges(uri, where, first, chunk_size)
        ) as chunks:
            async for chunk in chunks:
                if digest is not None:
                    digest.update(chunk)
                yield chunk
        reason = md5_mismatch(headers, digest.digest()) if digest is not None else None
        if reason is not None:  # every chunk is out: nothing can be read again
            raise InvalidDataFound(self, uri, f"{reason} once streamed")

    async def _resumed(
        self, uri: str, bucket: str, name: str, response: Any, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        headers, offset, delays = response.headers, 0, self.retry.delays()
        generation = headers.get(GENERATION)
        digest = hashlib.md5(usedforsecurity=False) if self._checks_reads else None
        while True:
            try:
                async with response:
                    while chunk := await responses.read_chunk(
                        response.content, chunk_size, self.read_timeout
                    ):
                        offset += len(chunk)
                        if digest is not None:
                            digest.update(chunk)
                        yield chunk
                break
            except Exception as exc:
                delay = next(delays, None) if is_transient(exc) else None
                error = gsio.translate(self, exc, uri)
                if delay is None and error is exc:
                    raise
                cause = stand_in(exc)
            if delay is None:  # raised past the handler, as in _do
                raise error from cause
            await asyncio.sleep(delay)
            rest = partial(_resume, bucket=bucket, name=name, offset=offset, generation=generation)
            response = await self._do(uri, rest)
        reason = md5_mismatch(headers, digest.digest()) if digest is not None else None
        if reason is not None:  # every chunk is out: nothing can be read again
            raise InvalidDataFound(self, uri, f"{reason} once streamed")

    async def exists(self, uri: str) -> bool:
        """Whether the object exists (an error other than "not found" raises, a missing bucket
        included)."""
        bucket, name = self._parse(uri)
        return await answers(self._do(uri, lambda c: c.metadata(bucket, name), bucket=bucket))

    async def size(self, uri: str) -> int:
        """The object's size in bytes."""
        bucket, name = self._parse(uri)
        return int((await self._do(uri, lambda c: c.metadata(bucket, name), bucket=bucket))["size"])

    async def head(self, uri: str) -> ObjectMeta:
        """The object's size, ETag, update time, content type, generation (as ``version``)
        and custom metadata, from its JSON resource."""
        bucket, name = self._parse(uri)
        return gs_meta.from_resource(
            await self._do(uri, lambda c: c.metadata(bucket, name), bucket=bucket)
        )

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The object (decoded as `get` decodes it) and its meta: the resource first, then
        the bytes of exactly the generation it names, so the two always belong together."""
        meta = await self.head(uri)
        for _ in range(_GENERATION_TRIES - 1):
            with contextlib.suppress(NotFoundInStore, ObjectChanged):  # just replaced
                return await self._generation(uri, meta)
            meta = await self.head(uri)
        return await self._generation(uri, meta)

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """None while the object's generation (else its ETag) is the one ``known`` names, found
        from its JSON resource with no byte of the object sent; else the new bytes and meta."""
        if not isinstance(known, ObjectMeta):
            raise TypeError(f"known must be an ObjectMeta, not {type(known).__name__}")
        meta = await self.head(uri)
        if meta.same_content_as(known):
            return None
        with contextlib.suppress(NotFoundInStore, ObjectChanged):
            return await self._generation(uri, meta)
        return await self.get_with_meta(uri)

    async def _generation(self, uri: str, meta: ObjectMeta) -> tuple[bytes, ObjectMeta]:
        data, headers = await self._get_answer(uri, meta.version)
        data = await self._undo(uri, data, headers.get("Content-Encoding"))
        return await self._decoded(uri, data), meta

    # -- writes ---------------------------------------------------------------------------------

    async def _put_stored(self, uri: str, where: Any, data: PutData, attrs: PutAttrs) -> None:
        """Write the object: small bodies in one request, large ones by resumable upload.

        With ``compress``, the object holds the compressed frame; no ``Content-Encoding`` is
        set, so GCS never transcodes it and every reader gets the stored bytes. Attributes are
        the object's ``contentType``, ``cacheControl`` and ``metadata``; ``mode="create"``
        sends ``ifGenerationMatch=0`` and GCS's 412 becomes `AlreadyExists` (atomic).
        """
        bucket, name = where
        if not isinstance(data, (bytes, bytearray, memoryview)):
            await gsio.put_stream(self._do, uri, bucket, name, data, self.chunk_size, attrs)
        elif memoryview(data).nbytes <= self.chunk_size:
            body = bytes(data)
            await self._do(uri, lambda c: c.upload(bucket, name, body, attrs), bucket=bucket)
        else:
            size = self.chunk_size
            await self._do(
                uri,
                lambda c: gsio.upload_bytes(c, bucket, name, data, size, attrs),
                bucket=bucket,
            )

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """A copy on the server (``rewrite``, followed through its ``rewriteToken``s until
        GCS says it is done); no byte comes through the client. Metadata is kept."""
        src, dst = self._parse(src_uri), self._parse(dst_uri)
        token: str | None = None
        for _ in range(gs_copy.MAX_REWRITE_CALLS):
            step = partial(gs_copy.rewrite_step, src=src, dst=dst, token=token)
            try:
                token = await self._do(src_uri, step, bucket=src[0])
            except NotFoundInStore:
                if not await self._has(dst[0]):
                    raise BucketNotFound(self, dst[0], uri=dst_uri) from None
                raise
            if token is None:
                return
        raise StoreNotAvailable(
            self, f"the rewrite did not finish in {gs_copy.MAX_REWRITE_CALLS} calls", uri=src_uri
        )

    def _reach(self) -> object:
        """Another ``GSRaw`` on the same API root with the same credentials reaches the same
        objects (and may copy between them on the server)."""
        return (self.api_root, self._credentials, self._anonymous)

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A V4 signed URL for ``method`` on ``uri``, signed with the service-account key.

        Anyone holding the URL may do ``method`` (``GET``, ``PUT``, ``HEAD`` or ``DELETE``)
        on the object until ``expires_in`` seconds (1 to 604800) have passed; nothing is sent
        to Google to make it. The URL points at ``https://storage.googleapis.com`` (at
        ``api_root`` for an emulator). The key comes from ``credentials`` (a service-account
        JSON file or dict), or with ``credentials=None`` from the file that
        ``GOOGLE_APPLICATION_CREDENTIALS`` names.

        Raises:
            ValueError: an unsupported ``method`` or ``expires_in`` out of range.
            NotImplementedError: the store has no service-account key to sign with (anonymous,
                user or metadata-server credentials).
        """
        bucket, name = self._parse(uri)
        verb = check_sign(method, expires_in)
        if self._anonymous:
            raise NotImplementedError(f"{self.name} is anonymous: it has no key to sign URLs with")
        signer = await asyncio.to_thread(gs_sign.load_signer, self.name, self._credentials)
        base = self.api_root or gs_sign.SIGNING_HOST
        return gs_sign.signed_url(signer, base, bucket, name, verb, expires_in)

    async def delete(self, uri: str) -> None:
        """Delete the object; a missing one is fine, a missing bucket is not."""
        bucket, name = self._parse(uri)
        with contextlib.suppress(NotFoundInStore):
            await self._do(uri, lambda c: c.delete(bucket, name), bucket=bucket)

    async def aclose(self) -> None:
        """Close this loop's session (a later call opens a new one)."""
        await self._clients.aclose()

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """``gs://bucket/name`` for every object whose URI starts with ``prefix``, sorted.

        ``prefix`` is ``gs://<bucket>`` or ``gs://<bucket>/<name prefix>``; every page is read.
        With ``flat``, the server lists one level (``delimiter=/``): the objects directly under
        ``prefix`` and its ``prefixes`` as ``gs://bucket/sub-prefix/``, merged in order within
        each page.

        Raises:
            BucketNotFound: the bucket does not exist.
        """
        hint = "gs://<bucket>/<prefix>"
        bucket, name_prefix = parse_uri(self, prefix, gsio.split_prefix, hint, what="prefix")
        params = {"prefix": name_prefix, "maxResults": str(self._list_page_size),
                  "fields": "items(name),nextPageToken"}  # fmt: skip
        if flat:
            params["delimiter"] = "/"
            params["fields"] = "items(name),prefixes,nextPageToken"
        while True:
            try:
                ask = partial(GSClient.list_page, bucket=bucket, params=dict(params))
                page = await self._do(prefix, ask)
            except NotFoundInStore:  # a listing's 404 can only be the bucket's
                raise BucketNotFound(self, bucket, uri=prefix) from None
            names = [item["name"] for item in page.get("items", ())]
            if flat:
                names = sorted({*names, *page.get("prefixes", ())})
            for name in names:
                yield f"gs://{bucket}/{name}"
            if not page.get("nextPageToken"):
                return
            params["pageToken"] = page["nextPageToken"]


def _encoded(headers: Mapping[str, str]) -> bool:
    """Whether an answer was sent, or its object is stored, with a ``Content-Encoding``."""
    for value in (headers.get("Content-Encoding"), headers.get(STORED_ENCODING)):
        try:
            if codings(value):
                return True
        except UnknownCoding:
            return True
    return False


async def _resume(
    client: GSClient, bucket: str, name: str, offset: int, generation: str | None
) -> Any:
    """The object's bytes from ``offset`` on: a 206 from exactly there, else ``TransientError``."""
    response = await client.get_media(bucket, name, f"bytes={offset}-", generation)
    first, _ = responses.content_range(response)
    if response.status != 206 or first != offset:
        response.release()
        raise TransientError(f"a resumed download answered from byte {first}, not {offset}")
    return response
