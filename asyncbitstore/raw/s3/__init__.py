"""``S3Raw``: blobs in Amazon S3 or any S3-compatible store, at ``s3://bucket/key`` URIs."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ..._core.bulk import map_list
from ..._core.bulk_api import Bulk
from ..._core.found import answers
from ..._core.put_attrs import PLAIN, PutAttrs

try:
    import aiobotocore  # noqa: F401
except ModuleNotFoundError as _missing:
    raise ImportError("S3Raw needs aiobotocore: pip install 'asyncbitstore[s3]'") from _missing

from botocore.exceptions import ClientError

from ..._core.data import PutData, check_chunk_size
from ..._core.deadline import within
from ..._core.forward import Forwarded
from ..._core.redact import redact, stand_in
from ..._core.renamed import NOT_GIVEN, renamed
from ..._core.resources import LoopLocal
from ...compression.content_encoding import (
    decode_content,
    decode_content_stream,
    refuse_range,
)
from ...compression.store_io import FRAME_KEY, Span
from ...errors import (
    BucketNotFound,
    InvalidDataFound,
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    ObjectChanged,
    StoreNotAvailable,
)
from ...meta import ObjectMeta
from ...retry import Retry, TransientError
from ...store import UriSource
from .._base import DEFAULT_MAX_CONCURRENCY, DEFAULT_PARALLEL_THRESHOLD, SpannedRaw
from .._net.checksums import ChecksumMismatch, md5_of
from .._net.responses import check_length, range_total, span_length
from .._signing import check_sign
from . import _copy, _multipart, _sizes
from ._client import (
    ANONYMOUS,
    DEFAULT_MAX_OBJECT_BYTES,
    Connection,
    Object,
    Options,
    Oversized,
    Read,
    object_info,
    read_chunk,
    too_large,
)
from ._credentials import normalize_credentials, open_accepted, secrets_of
from ._errors import error_code, exhausted, translate
from ._list import Page, list_page
from ._presign import presign

__all__ = ["S3Raw"]

R = TypeVar("R")

MiB = 1 << 20
MIN_PART_SIZE = 5 * MiB  # S3's minimum for every part but the last
MAX_PART_SIZE = 5 << 30
_URI = re.compile(r"s3://([A-Za-z0-9._-]{1,255})/(.+)", re.DOTALL)
_PREFIX = re.compile(r"s3://([A-Za-z0-9._-]{1,255})(?:/(.*))?", re.DOTALL)
_MAX_KNOWN_BUCKETS = 1024


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransientError)


def _mismatch(found: Object, md5: str) -> str | None:
    """Why a body with MD5 ``md5`` is not the object ``found`` announces, or None."""
    expected = found.md5()
    if expected is None or expected == md5:
        return None
    return (
        f"the body's MD5 {md5} does not match the ETag {found.etag} (damaged on the way, or "
        "stored corrupt; verify_checksums=False reads it unchecked)"
    )


def _first_span(found: Object, total: int | None) -> Span:
    """What the answer to an object's first range says: its bytes, ETag and whole length."""
    return Span(found.body, version=found.etag or None, total=total)


def _key_ok(key: str) -> bool:
    # S3 caps keys at 1024 bytes. "." and ".." segments are refused by some servers and
    # normalised away by HTTP clients (the request would then name another object).
    if len(key) > 1024:
        return False
    try:
        if len(key.encode("utf-8")) > 1024:
            return False
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 form to put in the request
        return False
    return "." not in key or not any(part in (".", "..") for part in key.split("/"))


class S3Raw(SpannedRaw):
    """Blobs in S3 (or an S3-compatible server), addressed as ``s3://bucket/key``.

    Args:
        credentials: ``None`` for botocore's default chain (environment, config files, instance
            role); a dict with any of ``aws_access_key_id``, ``aws_secret_access_key``,
            ``aws_session_token``, ``profile_name``; ``"anonymous"`` for unsigned requests; or a
            list of these, tried in order when the client is created (the first whose keys the
            server accepts wins; a key refused only for listing buckets counts as accepted).
        endpoint_url: an S3-compatible server, e.g. ``http://127.0.0.1:9000``; requests then
            use path-style addressing.
        region: the signing region (default: botocore's, from the environment or config).
        max_connections: size of the connection pool. More concurrent requests wait for a slot
            before they are signed, so none times out in the pool or carries a stale signature.
        retry: backoff for transient failures (connection errors, timeouts, 5xx, throttling);
            botocore's own retries are off.
        request_timeout: seconds one request attempt may take, body included (for ``stream``:
            to open, then per chunk); ``None`` for no limit.
        part_size: bytes per part of a multipart upload, at least 5 MiB (S3's minimum). Data
            of up to one part is written with a single PUT; objects up to 10,000 parts.
            A large read is asked in ranges of this size too.
        max_concurrency: requests one object's transfer keeps in flight: the parts of a
            multipart upload, the ranges of a large read. Memory grows by about this many
            parts. Default 8.
        parallel_threshold: a `get` (and `stream`, `local_path`) of an object at least this
            many bytes reads it as ranges of ``part_size``, ``max_concurrency`` at a time, all
            pinned to the version the first answer named (``If-Match``: an object replaced
            meanwhile raises `ObjectChanged`); ``None`` reads every object in one request.
            While it is set, a `get` on the fast path starts with a plain GET whose body is
            read only when shorter than the threshold (one request for such an object); a
            longer one is refused from its announced length, unread, and read as ranges.
            Botocore's path starts with a GET of the first ``part_size`` bytes instead (an
            object below the threshold then takes one more request). Default 32 MiB.
        verify_checksums: check whole-object reads (``get`` and ``stream``) against the ETag
            when it is the body's MD5: 32 hex digits with no ``-N`` multipart suffix, on an
            object not encrypted with SSE-KMS or SSE-C. A ``get`` whose bytes do not match is
            read again under ``retry`` and then raises `InvalidDataFound`; a ``stream`` raises
            it after its last chunk (it cannot be read again). Ranges are never checked.
            The bytes checked are those sent, which no client here decodes.
        verify_etag: send ``Content-MD5`` on writes so the server checks what it receives;
            it also turns the read check on whatever ``verify_checksums`` says.
        fast_path: send GET, ranged GET, HEAD, single-part PUT, the parts of a multipart
            upload and listing pages without botocore's request pipeline (signed here with the
            credentials botocore resolved, on a plain aiohttp session): about three times the
            throughput for small objects, and parts sent from the caller's bytes without a copy.
            Results, errors, retries, timeouts and the connection bound are the same either
            way; ``False``
            sends everything through aiobotocore. When botocore would reach the endpoint
            through a proxy (``HTTPS_PROXY``/``HTTP_PROXY``, its ``proxies`` setting), every
            request goes through aiobotocore.
        max_object_bytes: the largest object ``get`` and ``get_range`` read whole (default
            5 GiB, S3's largest single PUT); a larger one raises `StoreNotAvailable` without
            its body being read (``stream`` has no such bound). It also bounds what ``get``
            decodes an object stored with a ``Content-Encoding`` to.

    An object another tool stored with ``Content-Encoding: gzip``, ``br``, ``zstd`` or
    ``deflate`` (several, such as ``gzip, br``, are undone in turn) is decoded by ``get`` and
    ``stream``, after the ETag check of its bytes as stored; ``stored=True`` returns those
    bytes, ``size`` and ``head`` their size, and ``get_range`` raises `CompressedRange`. An
    encoding not decodable here (``compress``, ...) raises `InvalidDataFound`.

    No redirect is followed to another host: S3's answers naming the bucket's region are
    signed again for that region, and any other redirect raises `StoreNotAvailable` naming
    its ``Location``.

    ``list`` yields keys in the server's order: lexicographic (UTF-8 bytes) on AWS S3 and moto,
    but not on every S3-compatible server (SeaweedFS lists folder by folder).

    A missing bucket is not a missing key: every call on it (``get``, ``get_range``,
    ``stream``, ``size``, ``exists``, ``put``, ``list``, ``delete``) raises
    [BucketNotFound][asyncbitstore.errors.BucketNotFound], a kind of `StoreNotAvailable`,
    naming it. A HEAD answer (``exists``, ``size``) has no body to tell the two apart, so the
    first 404 of one in a bucket is followed by one ``HeadBucket``; a bucket found there is
    remembered by the store, and one it may not inspect (403) counts as existing.
    """

    uri_hint = "s3://bucket/key"
    _runtime_attrs = ("_connections", "_buckets")
    _renamed_attrs = (("timeout", "request_timeout"),)
    # A class-level default: a store pickled before this option existed still has it.
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    verify_checksums: bool = True
    #: Keys asked for per ``list_objects_v2`` page.
    list_page_size = 1000
    # What `RawStore` reads by ranges with.
    _range_part = Forwarded[int]("part_size")
    _assembly_limit = Forwarded[int]("max_object_bytes")

    def __init__(
        self,
        credentials: Any = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_connections: int = 64,
        retry: Retry = Retry(),  # noqa: B008 - frozen, so one shared default is safe
        request_timeout: float | None = 60.0,
        part_size: int = 8 * MiB,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        parallel_threshold: int | None = DEFAULT_PARALLEL_THRESHOLD,
        verify_etag: bool = False,
        verify_checksums: bool = True,
        fast_path: bool = True,
        max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES,
        timeout: Any = NOT_GIVEN,
    ) -> None:
        timeout = renamed("request_timeout", request_timeout, "timeout", timeout, 60.0)
        self._credentials = normalize_credentials(credentials)
        self._secrets = secrets_of(self._credentials)
        self._options = Options(
            endpoint_url, region, max_connections, timeout, bool(fast_path), max_object_bytes
        )
        if not isinstance(retry, Retry):
            raise TypeError(f"retry must be a Retry, not {type(retry).__name__}")
        if not isinstance(part_size, int) or not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be an int from 5 MiB to 5 GiB, not {part_size!r}")
        self.endpoint_url = endpoint_url
        self.region = region
        self.max_connections = max_connections
        self.retry = retry
        self.request_timeout = timeout
        self.part_size = part_size
        self._set_parallel(max_concurrency, parallel_threshold)
        self.verify_etag = bool(verify_etag)
        self.verify_checksums = bool(verify_checksums)
        self.fast_path = bool(fast_path)
        self.max_object_bytes = max_object_bytes
        self._init_runtime()

    @classmethod
    def anonymous(cls, **options: Any) -> S3Raw:
        """A store making unsigned requests, for public buckets (same keyword options)."""
        return cls(ANONYMOUS, **options)

    def _init_runtime(self) -> None:
        self._connections: LoopLocal[Connection] = LoopLocal(self._open, Connection.close)
        self._buckets: set[str] = set()  # known to exist (or not ours to inspect)

    @property
    def name(self) -> str:
        """``S3Raw``, with the endpoint and ``anonymous`` when set; never a secret."""
        details = [redact(self.endpoint_url)] if self.endpoint_url else []
        if self._credentials == (ANONYMOUS,):
            details.append("anonymous")
        return f"S3Raw({', '.join(details)})" if details else "S3Raw"

    # -- URIs -----------------------------------------------------------------------------------

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is ``s3://bucket/key`` with a usable bucket name and key."""
        if not isinstance(uri, str):
            raise TypeError(f"a URI must be a str, not {type(uri).__name__}")
        match = _URI.fullmatch(uri)
        return match is not None and _key_ok(match[2])

    def _split(self, uri: object) -> tuple[str, str]:
        match = _URI.fullmatch(self.check_uri(uri))
        assert match is not None
        return match[1], match[2]

    _locate = _split

    # -- the request path -----------------------------------------------------------------------

    async def _request(
        self,
        uri: str | None,
        bucket: str,
        what: str,
        fn: Callable[[Connection], Awaitable[R]],
        *,
        connection: Connection | None = None,
        slotted: bool = True,
    ) -> R:
        """``await fn(connection)`` with a slot, a deadline, error translation and retries."""
        conn = connection or await self._connections.get()

        async def attempt() -> R:
            try:
                if not slotted:
                    return await within(self.request_timeout, fn(conn))
                async with conn.slots:
                    return await within(self.request_timeout, fn(conn))
            except Exception as exc:
                mapped = translate(self, exc, uri=uri, bucket=bucket, secrets=self._secrets)
                if mapped is exc:
                    raise
                cause = stand_in(exc, self._secrets)
            raise mapped from cause  # outside the handler: the SDK error is not its context

        try:
            return await self.retry.call(attempt, transient=_retryable, what=what)
        except ChecksumMismatch as exc:
            tries = f"in each of {self.retry.attempts} reads" if self.retry.attempts > 1 else ""
            raise InvalidDataFound(self, uri or bucket, f"{exc.reason} {tries}".strip()) from None
        except TransientError as exc:
            raise exhausted(self, exc, uri, self.retry.attempts) from exc

    async def _open(self) -> Connection:
        return await open_accepted(
            self,
            self._credentials,
            self._options,
            secrets=self._secrets,
            request=self._request,
        )

    # -- reads ----------------------------------------------------------------------------------

    @property
    def _checks_reads(self) -> bool:
        return self.verify_checksums or self.verify_etag

    async def _get_object(self, uri: str) -> Object:
        """The object, its bytes as stored checked against an MD5 ETag (a mismatch in one
        answer is read again).

        With parallel reads on (``parallel_threshold``), see `_first_answer`: an object that
        does not come whole in it is read on with `_assemble`, every range pinned to the ETag
        of the first ranged answer.
        """
        bucket, key = self._split(uri)
        if not self._ranged_reads:
            return await self._request(uri, bucket, "get", self._fetch(bucket, key, None))
        found, total = await self._first_answer(uri, bucket, key)
        if total is None or total <= len(found.body):
            return found
        if total > self.max_object_bytes:
            exc = too_large(total, self.max_object_bytes)
            raise translate(self, exc, uri=uri, bucket=bucket, secrets=self._secrets)
        body = await self._assemble(uri, (bucket, key), _first_span(found, total))
        whole = dataclasses.replace(found, body=body, size=total, content_range=None)
        if self._checks_reads and whole.md5() is not None:
            reason = _mismatch(whole, (await md5_of(body)).hexdigest())
            if reason is not None:
                raise InvalidDataFound(self, uri, reason)
        return whole

    def _fetch(
        self, bucket: str, key: str, part: int | None, below: int | None = None
    ) -> Callable[[Connection], Awaitable[Object]]:
        """One GET (of the first ``part`` bytes, if given), checked against an MD5 ETag when
        the answer holds the whole object. With ``below``, a connection that can refuse a
        body unread (`Connection.plain_first`) sends a plain GET instead, which raises
        `Oversized` for an object of ``below`` bytes or more."""
        check = self._checks_reads
        byte_range = f"bytes=0-{part - 1}" if part is not None else None

        async def fetch(conn: Connection) -> Object:
            if below is not None and conn.plain_first:
                found = await conn.get(Read(bucket, key, below=below))
            else:
                found = await conn.get(Read(bucket, key, byte_range))
            if part is not None and found.content_range is not None:
                check_length(len(found.body), span_length(found.content_range, 0, part))
                if range_total(found.content_range) != len(found.body):
                    return found  # a part: checked once the object is assembled
            if check and found.md5() is not None:
                reason = _mismatch(found, (await md5_of(found.body)).hexdigest())
                if reason is not None:
                    raise ChecksumMismatch(reason)
            return found

        return fetch

    async def _first_answer(self, uri: str, bucket: str, key: str) -> tuple[Object, int | None]:
        """The first answer of a whole-object read, and the object's whole length when the
        answer is a range naming it.

        On the fast path that is a plain GET whose body is read only when shorter than
        ``parallel_threshold``: such an object comes whole in one request. A longer one (and
        every object on botocore's path) is asked for its first `_first_part` bytes (an empty
        object, of which S3 serves no range, is read with a plain GET). The length is not
        bounded here beyond ``max_object_bytes`` on the fast path's plain GET.
        """
        below = self.parallel_threshold
        try:
            try:
                found = await self._request(
                    uri, bucket, "get", self._fetch(bucket, key, self._first_part, below)
                )
            except Oversized:  # refused unread: read as ranges from the start
                found = await self._request(
                    uri, bucket, "get", self._fetch(bucket, key, self._first_part)
                )
        except InvalidRange:
            return await self._request(uri, bucket, "get", self._fetch(bucket, key, None)), None
        total = range_total(found.content_range) if found.content_range is not None else None
        return found, total

    async def _pinned_range(
        self, uri: str, where: Any, first: int, last: int, version: str, /
    ) -> bytes:
        """A ``Range`` GET with ``If-Match: version``: S3's 412 (or an answer of another
        ETag, or a 404) means the object was replaced or deleted."""
        found = await self._pinned_get(uri, where, first, last, version, None)
        assert not found.placed
        return found.body

    async def _pinned_range_into(
        self, uri: str, where: Any, first: int, last: int, version: str, out: memoryview, /
    ) -> None:
        """`_pinned_range` into ``out``: the fast path receives the body straight into it; an
        answer it could not place there (a 200, botocore's path) is copied in."""
        found = await self._pinned_get(uri, where, first, last, version, out)
        if not found.placed:
            self._fill(uri, first, last, found.body, out)

    async def _pinned_get(
        self,
        uri: str,
        where: Any,
        first: int,
        last: int,
        version: str,
        out: memoryview | None,
    ) -> Object:
        """The answer to a pinned ``Range`` GET, its body that of ``[first, last)`` unless
        it was placed whole in ``out``. Every attempt starts writing ``out`` from its start."""
        bucket, key = where
        read = Read(bucket, key, f"bytes={first}-{last - 1}", if_match=version, into=out)

        async def fetch(conn: Connection) -> Object:
            try:
                found = await conn.get(read)
            except ClientError as exc:
                code, status = error_code(exc)
                if status == 412 or code == "PreconditionFailed":
                    raise ObjectChanged(self, uri, version) from None
                raise
            if found.etag and found.etag != version:  # a server that ignores If-Match
                raise ObjectChanged(self, uri, version)
            if found.content_range is None:  # a 200: the server ignored the Range header
                return dataclasses.replace(found, body=found.body[first:last])
            received = found.size if found.placed else len(found.body)
            check_length(received, span_length(found.content_range, first, last))
            return found

        try:
            return await self._request(uri, bucket, "get_range", fetch)
        except NotFoundInStore:
            raise ObjectChanged(self, uri, version) from None

    async def _get_stored(self, uri: str) -> bytes:
        """The object's bytes as stored (see `_get_object`)."""
        return (await self._get_object(uri)).body

    async def _get_content(self, uri: str) -> bytes:
        """The object's bytes, its ``Content-Encoding`` undone (once checked as stored)."""
        return await self._undo_encoding(uri, await self._get_object(uri))

    async def _undo_encoding(self, uri: str, found: Object) -> bytes:
        bound = self.max_object_bytes
        return await decode_content(
            self, uri, found.body, found.encoding, bound, "max_object_bytes"
        )

    _frame_marks = True
    _pinned_ranges = True

    async def _stored_span(
        self, uri: str, where: Any, asked_start: int, asked_end: int, start: int, end: int
    ) -> Span:
        """A ``Range`` request; the answer's ``x-amz-meta-*`` headers carry the object's frame
        mark, so a marked object needs no second request to show it is not compressed."""
        bucket, key = where
        if start == end:
            return Span(self._short_range(uri, start, end, await self.size(uri)))
        read = Read(bucket, key, f"bytes={start}-{end - 1}")

        async def fetch(conn: Connection) -> Object:
            found = await conn.get(read)
            if found.content_range is not None:
                check_length(len(found.body), span_length(found.content_range, start, end))
            return found

        try:
            found = await self._request(uri, bucket, "get_range", fetch)
        except InvalidRange:  # 416: S3 serves no empty range, even at the very end
            return Span(self._short_range(uri, start, end, await self.size(uri)))
        refuse_range(self, uri, found.encoding, asked_start, asked_end)
        data = found.body
        if found.content_range is None:  # a 200: the server ignored the Range header
            if start > len(found.body):
                raise InvalidRange(self, uri, start, end, f"the blob has {len(found.body)} bytes")
            data = found.body[start:end]
        return Span.of(data, found.metadata, found.etag or None)

    def _short_range(self, uri: str, start: int, end: int, size: int) -> bytes:
        if start > size:
            raise InvalidRange(self, uri, start, end, f"the blob has only {size} bytes")
        if start in (end, size):
            return b""
        raise InvalidRange(self, uri, start, end, "the server refused the range")

    async def _stream_stored(
        self, uri: str, chunk_size: int, decode: bool = False
    ) -> AsyncGenerator[bytes, None]:
        """The object as its response arrives (with ``decode``, its ``Content-Encoding``
        undone; the MD5 check covers the bytes as stored). The connection is held until the
        iterator is exhausted or closed (use ``contextlib.aclosing`` when stopping early).

        An object of at least ``parallel_threshold`` bytes is read that way only for its first
        ``part_size`` bytes; the rest comes as ranges pinned to the answer's ETag, up to
        ``max_concurrency`` of them read ahead of the consumer.
        """
        bucket, key = self._split(uri)
        check_chunk_size(chunk_size)
        conn = await self._connections.get()
        async with conn.slots:
            response = await self._request(
                uri, bucket, "stream", lambda c: c.open(bucket, key), connection=conn, slotted=False
            )
            async with response["Body"] as body:
                found = object_info(response, b"")
                if self._parallel_stream(found):
                    head = await self._read_chunk(body, self._first_part, uri, bucket)
                else:
                    chunks = self._checked_body(uri, bucket, response, body, chunk_size)
                    if decode:
                        chunks = decode_content_stream(
                            self, uri, chunks, found.encoding, chunk_size
                        )
                    async with contextlib.aclosing(chunks):
                        async for chunk in chunks:
                            yield chunk
                    return
        # The first answer is closed (and its slot free) before the ranges take theirs.
        first = Span(head, version=found.etag, total=found.size)
        chunks = self._stream_ranges(uri, (bucket, key), first, chunk_size)
        if self._checks_reads and found.md5() is not None:
            chunks = self._checked_chunks(uri, found, chunks)
        if decode:
            chunks = decode_content_stream(self, uri, chunks, found.encoding, chunk_size)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    def _parallel_stream(self, found: Object) -> bool:
        """Whether the rest of the object a streamed answer began goes by pinned ranges."""
        threshold = self.parallel_threshold
        return (
            self._ranged_reads
            and threshold is not None
            and found.size >= threshold
            and found.size > self._first_part
            and bool(found.etag)
        )

    async def _checked_chunks(
        self, uri: str, found: Object, chunks: AsyncGenerator[bytes, None]
    ) -> AsyncGenerator[bytes, None]:
        """``chunks``, checked against the MD5 ETag of ``found`` after the last one."""
        digest = hashlib.md5(usedforsecurity=False)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                digest.update(chunk)
                yield chunk
        reason = _mismatch(found, digest.hexdigest())
        if reason is not None:
            raise InvalidDataFound(self, uri, f"{reason} once streamed")

    def _stream_content(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        return self._stream_stored(uri, chunk_size, decode=True)

    async def _checked_body(
        self, uri: str, bucket: str, response: Any, body: Any, chunk_size: int
    ) -> AsyncGenerator[bytes, None]:
        """The body's chunks, checked against an MD5 ETag after the last one."""
        digest = hashlib.md5(usedforsecurity=False) if self._checks_reads else None
        while chunk := await self._read_chunk(body, chunk_size, uri, bucket):
            if digest is not None:
                digest.update(chunk)
            yield chunk
        if digest is not None:
            reason = _mismatch(object_info(response, b""), digest.hexdigest())
            if reason is not None:  # every chunk is out: nothing can be read again
                raise InvalidDataFound(self, uri, f"{reason} once streamed")

    async def _read_chunk(self, body: Any, size: int, uri: str, bucket: str) -> bytes:
        try:
            return await read_chunk(body, size, self.request_timeout)
        except Exception as exc:  # mid-stream: the bytes already yielded cannot be retried
            mapped = translate(self, exc, uri=uri, bucket=bucket, secrets=self._secrets)
            if isinstance(mapped, TransientError):
                mapped = exhausted(self, mapped, uri, 1)
            if mapped is exc:
                raise
            cause = stand_in(exc, self._secrets)
        raise mapped from cause

    async def exists(self, uri: str) -> bool:
        """Whether the object exists (HEAD); refused access or a missing bucket raises."""
        return await answers(self._head(uri, "exists"))

    async def size(self, uri: str) -> int:
        """The object's size (HEAD)."""
        return (await self._head(uri, "size")).size

    async def _head(self, uri: str, what: str) -> Object:
        """HEAD the object; a 404 in a bucket not yet seen checks that the bucket exists."""
        bucket, key = self._split(uri)
        try:
            return await self._request(uri, bucket, what, lambda c: c.head(bucket, key))
        except NotFoundInStore:
            await self._check_bucket(uri, bucket)
            raise

    async def _size_many(
        self, uris: UriSource, bulk: Bulk
    ) -> dict[str, int | BaseException | None]:
        """Sizes of many objects: a folder holding many of them is listed, the rest HEADed.

        For a list or tuple of URIs without ``progress``, the URIs are grouped by bucket and
        folder (the key up to its last ``/``). A folder with at least `_sizes.MIN_KEYS` asked
        keys is listed one level deep (``ListObjectsV2``, delimiter ``/``, from just before its
        smallest asked key, stopping once every asked key was shown or the listing is past
        the largest): each key's size is the ``<Size>`` the page shows (the stored size, as
        `size` gives it), and a key the listing went past without showing is missing (S3
        listings are strongly consistent). A key the listing could not settle (it failed, or
        stopped after a page that settled fewer than `_sizes.HEADS_PER_PAGE` asked keys: a
        sparse folder costs less in HEADs) and every other URI is HEADed, as
        `Store.size_many` does. A missing bucket raises (or, with ``return_exceptions``, gives
        each of its URIs) `BucketNotFound`.

        `head_many` stays one HEAD per URI: a listing has no content type or user metadata.
        """
        if bulk.progress or isinstance(uris, str) or not isinstance(uris, Sequence):
            return await super()._size_many(uris, bulk)
        folders, rest = _sizes.plan(uris, self._bucket_key, _sizes.MIN_KEYS)
        found: dict[str, int | BaseException | None] = {}

        async def list_folder(folder: _sizes.Folder) -> None:
            bucket, where = folder.bucket, f"s3://{folder.bucket}/{folder.prefix}"

            async def fetch(prefix: str, token: str | None, start: str | None) -> Page:
                page = functools.partial(
                    list_page, bucket=bucket, prefix=prefix, delimiter="/", token=token,
                    max_keys=self.list_page_size, start_after=start, sizes=True,
                )  # fmt: skip
                return await self._request(where, bucket, "list", page)

            try:
                settled = await _sizes.settle(folder, fetch, _sizes.HEADS_PER_PAGE)
            except BucketNotFound:
                for key in sorted(folder.keys):
                    uri = f"s3://{bucket}/{key}"
                    if not bulk.return_exceptions:
                        raise BucketNotFound(self, bucket, uri=uri) from None
                    found[uri] = BucketNotFound(self, bucket, uri=uri)
                return
            except Exception:  # any failure leaves the keys to their HEADs
                settled = _sizes.Settled(unsettled=folder.keys)
            found.update((f"s3://{bucket}/{key}", n) for key, n in settled.sizes.items())
            found.update((f"s3://{bucket}/{key}", None) for key in settled.missing)
            rest.extend(f"s3://{bucket}/{key}" for key in settled.unsettled)

        await map_list(list_folder, folders, concurrency=bulk.concurrency)
        if rest:
            found.update(await super()._size_many(rest, bulk))
        return {uri: found[uri] for uri in uris}

    def _bucket_key(self, uri: str) -> tuple[str, str] | None:
        """A valid URI's bucket and key; None for anything else."""
        if not isinstance(uri, str) or not self.is_valid(uri):
            return None
        return self._split(uri)

    async def _check_bucket(self, uri: str, bucket: str) -> None:
        """Raise `BucketNotFound` if a ``HeadBucket`` says ``bucket`` does not exist."""
        if bucket in self._buckets:
            return
        try:
            await self._request(
                uri, bucket, "head_bucket", lambda c: c.client.head_bucket(Bucket=bucket)
            )
        except NotFoundInStore:
            raise BucketNotFound(self, bucket, uri=uri) from None
        except StoreNotAvailable as exc:
            if error_code(exc.__cause__)[1] not in (401, 403):
                return  # unknown for now (an outage): asked again next time
        if len(self._buckets) >= _MAX_KNOWN_BUCKETS:
            self._buckets.clear()
        self._buckets.add(bucket)

    async def head(self, uri: str) -> ObjectMeta:
        """The object's size, ETag, ``Last-Modified``, ``Content-Type``, version id (on a
        versioned bucket) and ``x-amz-meta-*`` user metadata, from one HEAD."""
        bucket, key = self._split(uri)
        try:
            found = await self._request(uri, bucket, "head", lambda c: c.head_meta(bucket, key))
        except NotFoundInStore:  # as for size: a missing bucket is no missing object
            await self._check_bucket(uri, bucket)
            raise
        return found[1]

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The object (decoded as `get` decodes it) and its meta, from one GET's answer."""
        answer = await self._get_meta(uri, None)
        assert answer is not None  # only a conditional GET answers "not modified"
        return answer

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """A GET with ``If-None-Match: known.etag``: None when S3 answers 304 (no body sent),
        else the new bytes and meta. Without an ETag in ``known``, the object is fetched."""
        if not isinstance(known, ObjectMeta):
            raise TypeError(f"known must be an ObjectMeta, not {type(known).__name__}")
        return await self._get_meta(uri, known.etag)

    async def _get_meta(self, uri: str, etag: str | None) -> tuple[bytes, ObjectMeta] | None:
        bucket, key = self._split(uri)
        check = self._checks_reads

        async def fetch(conn: Connection) -> tuple[Object, ObjectMeta] | None:
            answer = await conn.get_meta(bucket, key, etag)
            if answer is not None and check and answer[0].md5() is not None:
                reason = _mismatch(answer[0], (await md5_of(answer[0].body)).hexdigest())
                if reason is not None:
                    raise ChecksumMismatch(reason)
            return answer

        answer = await self._request(uri, bucket, "get", fetch)
        if answer is None:
            return None
        found, meta = answer
        return await self._decoded(uri, await self._undo_encoding(uri, found)), meta

    async def list(self, prefix: str = "s3://", flat: bool = False) -> AsyncIterator[str]:
        """Every ``s3://bucket/key`` under ``prefix`` (``s3://bucket/`` or ``s3://bucket/key-prefix``).

        Every page of ``list_objects_v2`` is followed; see the class docstring for the order.
        On the fast path the pages are signed by the store and only their keys, common
        prefixes and continuation tokens are read (a page over 32 MiB, or one that is not the
        XML S3 sends, raises `StoreNotAvailable`); otherwise botocore lists.
        With ``flat``, the server lists one level (``Delimiter="/"``): the objects directly under
        ``prefix`` and its ``CommonPrefixes`` as ``s3://bucket/sub-prefix/``, merged in order
        within each page (so sorted wherever the server lists in key order).
        """
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        match = _PREFIX.fullmatch(prefix)
        if match is None:
            raise InvalidURI(self, prefix, "s3://bucket/ or s3://bucket/key-prefix")
        bucket, key_prefix = match[1], match[2] or ""
        delimiter = "/" if flat else None
        token: str | None = None
        while True:
            fetch = functools.partial(
                list_page, bucket=bucket, prefix=key_prefix, delimiter=delimiter, token=token,
                max_keys=self.list_page_size,
            )  # fmt: skip
            page = await self._request(prefix, bucket, "list", fetch)
            keys = sorted({*page.keys, *page.prefixes}) if flat else page.keys
            for key in keys:
                yield f"s3://{bucket}/{key}"
            if page.token is None:
                return
            token = page.token

    # -- writes ---------------------------------------------------------------------------------

    async def _put_stored(self, uri: str, where: Any, data: PutData, attrs: PutAttrs) -> None:
        """Write the object; data longer than ``part_size`` goes up as a multipart upload,
        ``max_concurrency`` parts at a time.

        With ``compress``, the object holds the compressed frame (no ``Content-Encoding`` is
        set: the frame says it all, and every client gets the same bytes). A failed or
        cancelled put leaves no object and no pending multipart upload.

        Attributes are stored natively (``Content-Type``, ``Cache-Control``, ``x-amz-meta-*``).
        ``mode="create"`` sends ``If-None-Match: *`` (on the PutObject, or on the
        CompleteMultipartUpload of a multipart upload, which first checks that the key is
        free); the server's 412 becomes `AlreadyExists`. A server that ignores the header
        overwrites.
        """
        bucket, key = where
        if (
            isinstance(data, (bytes, bytearray, memoryview))
            and memoryview(data).nbytes <= self.part_size
        ):
            await self._put_single(uri, bucket, key, bytes(data), attrs)
            return
        uploader = _multipart.Uploader(
            self._request, self._put_single, self.exists, self.part_size, self.verify_etag, self,
            max_concurrency=self.max_concurrency,
        )  # fmt: skip
        await _multipart.upload(uploader, uri, bucket, key, data, attrs)

    async def _put_single(
        self, uri: str, bucket: str, key: str, data: bytes, attrs: PutAttrs = PLAIN
    ) -> None:
        md5 = self.verify_etag
        await self._request(
            uri, bucket, "put", lambda c: c.put(bucket, key, data, md5=md5, attrs=attrs)
        )

    #: The largest object copied with one ``CopyObject`` (S3's limit); larger ones are copied
    #: part by part with ``UploadPartCopy`` (parts of ``part_size`` bytes or more).
    _copy_single_max = MAX_PART_SIZE

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """A copy on the server (no byte comes through the client): ``CopyObject``, or a
        multipart copy above 5 GiB. Content type and user metadata are kept, the frame mark
        too (a multipart copy is told them again, and `head` does not show the mark)."""
        src_bucket, src_key = self._split(src_uri)
        dst_bucket, dst_key = self._split(dst_uri)
        found, meta = await self._request(
            src_uri, src_bucket, "head", lambda c: c.head_meta(src_bucket, src_key)
        )
        mark = {FRAME_KEY: found.metadata[FRAME_KEY]} if FRAME_KEY in found.metadata else {}
        meta = dataclasses.replace(meta, metadata={**meta.metadata, **mark})
        uploader = _multipart.Uploader(
            self._request, self._put_single, self.exists, self.part_size, self.verify_etag, self
        )
        job = _copy.Copy(src_uri, src_bucket, src_key, dst_bucket, dst_key, meta)
        await _copy.copy_object(uploader, job, self._copy_single_max)

    def _reach(self) -> object:
        """Another ``S3Raw`` on the same endpoint with the same credentials reaches the same
        objects (and may copy between them on the server)."""
        return (self.endpoint_url, self._credentials)

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A presigned URL (SigV4, in the query string) for ``method`` on ``uri``.

        Anyone holding the URL may do ``method`` (``GET``, ``PUT``, ``HEAD`` or ``DELETE``)
        on the object until ``expires_in`` seconds (1 to 604800) have passed, with the
        store's credentials; nothing is sent to S3 to make it. A URL made with temporary
        credentials stops working when they expire.

        Raises:
            ValueError: an unsupported ``method`` or ``expires_in`` out of range.
            NotImplementedError: an anonymous store (it has no keys to sign with).
        """
        bucket, key = self._split(uri)
        verb = check_sign(method, expires_in)
        if self._credentials == (ANONYMOUS,):
            raise NotImplementedError(f"{self.name} has no credentials to sign URLs with")
        conn = await self._connections.get()
        return await presign(conn.client, bucket, key, verb, expires_in)

    async def delete(self, uri: str) -> None:
        """Remove the object; a missing object (or bucket) is not an error."""
        bucket, key = self._split(uri)
        with contextlib.suppress(NotFoundInStore):
            await self._request(
                uri, bucket, "delete", lambda c: c.client.delete_object(Bucket=bucket, Key=key)
            )

    async def aclose(self) -> None:
        """Close this loop's client and its connections (a later call opens new ones)."""
        await self._connections.aclose()
