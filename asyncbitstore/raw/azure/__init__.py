"""`AzureRaw`: Azure Blob Storage blobs, for ``az://container/blob`` URIs.

Built on ``azure.storage.blob.aio``, with one client (and one aiohttp session) per event loop.
Every call goes through `AzureRaw._do`: transient failures are retried by the store's
`Retry` (the SDK's own retries are off), and `_errors.translate` turns the rest into ours.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar

try:
    import azure.storage.blob.aio  # noqa: F401
except ModuleNotFoundError as _missing:
    _HINT = "AzureRaw needs azure-storage-blob: pip install 'asyncbitstore[azure]'"
    raise ImportError(_HINT) from _missing

from azure.core import MatchConditions

from ..._core.checks import positive_int, positive_number
from ..._core.data import PutData, check_chunk_size, chunks_of
from ..._core.forward import Forwarded
from ..._core.found import answers
from ..._core.put_attrs import PutAttrs
from ..._core.redact import scrub, stand_in
from ..._core.resources import LoopLocal
from ..._core.uris import parse_uri
from ...compression.store_io import FRAME_KEY, Span
from ...errors import InvalidDataFound, InvalidRange, NotFoundInStore, StoreNotAvailable
from ...meta import ObjectMeta
from ...retry import Retry, TransientError
from ...store import DEFAULT_CONCURRENCY
from .._base import DEFAULT_MAX_CONCURRENCY, DEFAULT_PARALLEL_THRESHOLD, SpannedRaw, check_str
from .._net.checksums import ChecksumMismatch, md5_of
from .._net.responses import range_total
from .._signing import check_sign
from . import _blocks
from . import _errors as az_errors
from ._client import ENV_VAR, Access, AzureClient, Credential, open_client, read_whole
from ._metadata import from_azure, to_azure
from ._names import split_blob, split_prefix

__all__ = ["AzureRaw"]

R = TypeVar("R")

_MiB = 1024 * 1024
#: The most blocks one blob may have (Azure's limit).
_MAX_BLOCKS = 50_000
_MAX_BLOCK_SIZE = 4000 * _MiB
_COPY_POLL = (0.05, 2.0)  # first and longest wait between looks at a pending copy
_MD5_DIFFERS = "the bytes read differ from the blob's Content-MD5"
_SAS_PERMISSIONS = {"GET": "r", "HEAD": "r", "PUT": "cw", "DELETE": "d"}


class AzureRaw(SpannedRaw):
    """Blobs in Azure Blob Storage containers, for ``az://<container>/<blob>`` URIs.

    Args:
        credential: the account key (a base64 string), a SAS token (a string holding
            ``sig=``), a dict with ``account_name`` and ``account_key``, or any azure-core
            credential object (``DefaultAzureCredential`` from azure-identity, say). None:
            anonymous access (public containers), or whatever ``connection_string`` carries.
        account_url: the blob endpoint, ``https://<account>.blob.core.windows.net`` (for
            Azurite, ``http://127.0.0.1:10000/devstoreaccount1``).
        connection_string: an Azure Storage connection string, instead of ``account_url``
            and ``credential``. With neither (and no ``credential``), the
            ``AZURE_STORAGE_CONNECTION_STRING`` variable is read; without it the first call
            raises `StoreNotAvailable`.
        max_connections: the connection pool size; give it the concurrency of your bulk calls.
        read_timeout: seconds a request may take to connect, and to go without receiving
            anything; None for no limit. Default 60.
        retry: the backoff policy for transient failures (connection errors, timeouts, 408,
            429, 5xx, ``ServerBusy``).
        verify_checksums: check whole-blob reads (``get`` and ``stream``) against the blob's
            ``Content-MD5`` when it has one. A ``get`` whose bytes differ is read again under
            ``retry`` and then raises `InvalidDataFound`; a ``stream`` raises it after its last
            chunk. Ranges are not checked. Default True.
        block_size: a put of at most this many bytes is one request; a larger one (or a
            stream that grows past it) is uploaded in blocks of this size. Default 8 MiB.
        max_concurrency: requests one blob's transfer keeps in flight: the blocks of a put
            (which holds about ``(max_concurrency + 1) * block_size`` bytes), the ranges of a
            large read. Default 8.
        parallel_threshold: a `get` (and `stream`, `local_path`) of a blob at least this many
            bytes reads it as ranges of ``block_size``, ``max_concurrency`` at a time, all
            pinned to the ETag the first answer named (``If-Match``: a blob replaced
            meanwhile raises `ObjectChanged`); the ``Content-MD5`` check covers the whole blob
            once assembled. While it is set, a `get` starts with a request for the first
            ``block_size`` bytes: a smaller blob comes whole in that answer, one below the
            threshold in one more request. ``None`` reads every blob as one download, which
            the SDK asks in sequential pieces of ``block_size`` (4 MiB at least). A ``stream``
            holds about one such piece, or ``max_concurrency`` ranges once they are read in
            parallel. Default 32 MiB.

    A put is atomic: the blob is replaced only when the whole upload is committed, so a failed
    or cancelled put leaves the previous blob (or none). Blocks staged by a failed put are
    never committed and Azure discards them. Every block is retried on its own, so a stream
    survives transient failures.

    A missing container raises [BucketNotFound][asyncbitstore.errors.BucketNotFound] on every
    call that names it; a missing blob raises `NotFoundInStore`. The account key, SAS tokens
    and the connection string never appear in ``name``, ``repr``, messages, logs or pickled
    errors; they are part of a pickled store (a worker process needs them).
    """

    uri_hint = "az://<container>/<blob>"
    _runtime_attrs = ("_clients",)
    _list_page_size = 1000

    def __init__(
        self,
        credential: Credential = None,
        *,
        account_url: str | None = None,
        connection_string: str | None = None,
        max_connections: int = DEFAULT_CONCURRENCY,
        read_timeout: float | None = 60.0,
        retry: Retry | None = None,
        verify_checksums: bool = True,
        block_size: int = 8 * _MiB,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        parallel_threshold: int | None = DEFAULT_PARALLEL_THRESHOLD,
    ) -> None:
        if account_url is None and connection_string is None and credential is None:
            connection_string = os.environ.get(ENV_VAR) or None
        self._access = Access(account_url, connection_string, credential)
        self.max_connections = positive_int("max_connections", max_connections, type_error=True)
        self.read_timeout = positive_number("read_timeout", read_timeout, allow_none=True)
        self.retry = retry if retry is not None else Retry()
        self.verify_checksums = bool(verify_checksums)
        self.block_size = check_chunk_size(block_size)
        if self.block_size > _MAX_BLOCK_SIZE:
            raise ValueError(f"block_size must be at most {_MAX_BLOCK_SIZE}, not {block_size}")
        self._set_parallel(max_concurrency, parallel_threshold)
        self._init_runtime()

    _range_part = Forwarded[int]("block_size")
    """Ranges of a parallel read are ``block_size`` bytes."""

    def _init_runtime(self) -> None:
        self._clients: LoopLocal[AzureClient] = LoopLocal(self._open, AzureClient.aclose)

    async def _open(self) -> AzureClient:
        try:
            return await open_client(
                self._access,
                max_connections=self.max_connections,
                read_timeout=self.read_timeout,
                block_size=self.block_size,
            )
        except Exception as exc:
            reason = scrub(f"cannot create the client: {exc}", self._secrets)
            cause = stand_in(exc, self._secrets)
        raise StoreNotAvailable(self, reason) from cause

    @property
    def _secrets(self) -> tuple[str, ...]:
        return self._access.secrets

    @property
    def name(self) -> str:
        return f"AzureRaw(account_url={self._access.shown_url!r})"

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is ``az://<container>/<blob>`` with valid container and blob names."""
        check_str(uri)
        return split_blob(uri) is not None

    def _locate(self, uri: object) -> tuple[str, str]:
        return parse_uri(self, uri, split_blob, self.uri_hint)

    async def _do(
        self,
        uri: str,
        container: str,
        op: Callable[[AzureClient], Awaitable[R]],
        *,
        pinned: str | None = None,
    ) -> R:
        """``await op(client)``, retried when transient; failures come out translated (with
        ``pinned``, the ETag ``op`` is conditioned on, a changed blob as `ObjectChanged`)."""
        secrets = self._secrets

        async def attempt() -> R:
            client = await self._clients.get()
            try:
                return await op(client)
            except Exception as exc:
                error = az_errors.translate(self, exc, uri, container, secrets, pinned)
                if error is exc:
                    raise
                cause = stand_in(exc, secrets)
            # Past the handler, so the SDK error (its request, headers) is not the context.
            raise error from cause

        try:
            return await self.retry.call(attempt, what=f"{self.name} {uri}")
        except ChecksumMismatch as exc:
            tries = self.retry.attempts
            raise InvalidDataFound(self, uri, f"{exc} in each of {tries} reads") from None
        except TransientError as exc:
            raise az_errors.exhausted(self, exc, uri, self.retry.attempts) from exc

    # -- reads ----------------------------------------------------------------------------------

    async def _get_stored(self, uri: str) -> bytes:
        """The whole blob, checked against its ``Content-MD5``.

        With parallel reads on (``parallel_threshold``), the first request asks for the first
        ``block_size`` bytes: a smaller blob comes whole in its answer, and a larger one is
        read on with `_assemble`, every range pinned to the first answer's ETag.
        """
        container, name = self._locate(uri)
        whole = partial(self._read, container=container, name=name)
        if not self._ranged_reads:
            return await self._do(uri, container, whole)
        try:
            head, props = await self._do(
                uri, container, partial(self._read_first, container=container, name=name)
            )
        except InvalidRange:  # 416: an empty blob has no first byte to send
            return await self._do(uri, container, whole)
        total = range_total(props.content_range)
        if total is None or total <= len(head):
            return head
        data = await self._assemble(uri, (container, name), Span(head, None, props.etag, total))
        if await self._differs(props, data):
            raise InvalidDataFound(self, uri, _MD5_DIFFERS)
        return data

    async def _read(self, client: AzureClient, container: str, name: str) -> bytes:
        """The whole blob in one buffer of its size (its later pieces pinned to the first's
        ETag by the SDK), checked against its ``Content-MD5``."""
        downloader = await client.blob(container, name).download_blob(max_concurrency=1)
        data = await read_whole(downloader)
        if await self._differs(downloader.properties, data):
            raise ChecksumMismatch(_MD5_DIFFERS)  # read again under retry
        return data

    async def _read_first(
        self, client: AzureClient, container: str, name: str
    ) -> tuple[bytes, Any]:
        """The first `_first_part` bytes of the blob (one request) and the answer's properties;
        when they are the whole blob, checked against its ``Content-MD5``."""
        blob = client.blob(container, name)
        downloader = await blob.download_blob(offset=0, length=self._first_part)
        head = await read_whole(downloader)
        props = downloader.properties
        total = range_total(props.content_range)
        if total is not None and total <= len(head) and await self._differs(props, head):
            raise ChecksumMismatch(_MD5_DIFFERS)
        return head, props

    def _md5_differs(self, props: Any, md5: bytes) -> bool:
        """Whether the checks are on and ``md5`` is not the ``Content-MD5`` in ``props``."""
        expected = props.content_settings.content_md5
        return self.verify_checksums and bool(expected) and bytes(expected) != md5

    async def _differs(self, props: Any, data: bytes) -> bool:
        """`_md5_differs` for ``data``, the whole blob of ``props`` (hashed only when checked,
        off the event loop when large)."""
        if not (self.verify_checksums and props.content_settings.content_md5):
            return False
        return self._md5_differs(props, (await md5_of(data)).digest())

    _frame_marks = True
    _pinned_ranges = True

    async def _stored_span(
        self, uri: str, where: Any, asked_start: int, asked_end: int, start: int, end: int
    ) -> Span:
        """A ranged download, with the blob's frame mark (its metadata comes with the bytes,
        so a marked blob's range costs one request), its ETag as ``version`` and its whole
        length as ``total``; a range holding no byte asks the blob's properties instead."""
        container, name = where
        if start < end:
            read = partial(self._read_span, container=container, name=name, start=start, end=end)
            with contextlib.suppress(InvalidRange):  # 416: start at or past the end
                span: Span = await self._do(uri, container, read)
                return span
        props = await self._properties(uri)
        size = int(props.size)
        if start > size:
            raise InvalidRange(self, uri, asked_start, asked_end, f"the blob has {size} bytes")
        return Span.of(b"", from_azure(props.metadata), props.etag or None, size)

    async def _pinned_range(
        self, uri: str, where: Any, first: int, last: int, version: str, /
    ) -> bytes:
        """Bytes ``[first, last)`` of the blob whose ETag is ``version`` (``If-Match``; fewer
        at the blob's end), retried under ``retry``.

        Raises:
            ObjectChanged: the blob was replaced or deleted since that ETag was read.
        """
        if first >= last:
            return b""
        container, name = where
        read = partial(self._read_span, container=container, name=name, start=first, end=last,
                       etag=version)  # fmt: skip
        span: Span = await self._do(uri, container, read, pinned=version)
        return span.data

    async def _read_span(
        self,
        client: AzureClient,
        container: str,
        name: str,
        start: int,
        end: int,
        etag: str | None = None,
    ) -> Span:
        """Bytes ``[start, end)`` and what the answer tells of the blob; with ``etag``, only
        from the blob of that ETag (412 otherwise)."""
        condition: dict[str, Any] = {}
        if etag is not None:
            condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        blob = client.blob(container, name)
        downloader = await blob.download_blob(offset=start, length=end - start, **condition)
        data = await read_whole(downloader)
        props = downloader.properties
        total = range_total(props.content_range)
        return Span.of(data, from_azure(props.metadata), props.etag or None, total)

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The blob in chunks of ``chunk_size``, checked against its ``Content-MD5`` after
        the last. The SDK fetches it in pieces of ``block_size`` (4 MiB at least), each pinned
        to the ETag of the first (a blob replaced meanwhile fails the stream rather than
        mixing two versions).

        A blob of at least ``parallel_threshold`` bytes is read that way only for its first
        piece; the rest comes as ranges pinned to the same ETag, up to ``max_concurrency`` of
        them read ahead of the consumer.
        """
        container, name = self._locate(uri)
        check_chunk_size(chunk_size)
        downloader = await self._do(
            uri, container, lambda c: c.blob(container, name).download_blob()
        )
        props = downloader.properties
        pieces = self._pieces(uri, container, downloader)
        if self._parallel_stream(downloader):
            async with contextlib.aclosing(pieces):
                head = await anext(pieces, b"")  # the first answer's, already received
            first = Span(head, None, props.etag, int(downloader.size))
            chunks = self._stream_ranges(uri, (container, name), first, chunk_size)
        else:
            chunks = _rechunked(pieces, chunk_size)
        checked = self.verify_checksums and props.content_settings.content_md5
        digest = hashlib.md5(usedforsecurity=False) if checked else None
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                if digest is not None:
                    digest.update(chunk)
                yield chunk
        if digest is not None and self._md5_differs(props, digest.digest()):
            raise InvalidDataFound(self, uri, "the bytes streamed differ from the Content-MD5")

    def _parallel_stream(self, downloader: Any) -> bool:
        """Whether the rest of the blob a download began goes by pinned ranges."""
        threshold, size = self.parallel_threshold, int(downloader.size)
        return (
            self._ranged_reads
            and threshold is not None
            and size >= threshold
            and size > self._first_part
            and bool(downloader.properties.etag)
        )

    async def _pieces(
        self, uri: str, container: str, downloader: Any
    ) -> AsyncGenerator[bytes, None]:
        """The SDK's pieces of a download, its failures translated (and not retried: the
        pieces before were handed out)."""
        pieces = downloader.chunks()
        while True:
            error: BaseException | None = None
            try:
                piece = await anext(pieces, None)
            except Exception as exc:
                error = az_errors.translate(self, exc, uri, container, self._secrets)
                if error is exc:
                    raise
                cause = stand_in(exc, self._secrets)
            if error is not None:  # raised past the handler, as in _do
                if isinstance(error, TransientError):
                    error = az_errors.exhausted(self, error, uri, 1)
                raise error from cause
            if piece is None:
                return
            yield piece

    async def _properties(self, uri: str) -> Any:
        container, name = self._locate(uri)
        return await self._do(
            uri, container, lambda c: c.blob(container, name).get_blob_properties()
        )

    async def exists(self, uri: str) -> bool:
        """Whether the blob exists (a missing container raises `BucketNotFound`)."""
        return await answers(self._properties(uri))

    async def size(self, uri: str) -> int:
        """The blob's size in bytes."""
        return int((await self._properties(uri)).size)

    async def head(self, uri: str) -> ObjectMeta:
        """The blob's size, ETag, last modification, content type, version id (accounts with
        versioning on) and metadata (without the frame mark this package keeps there)."""
        props = await self._properties(uri)
        return ObjectMeta(
            size=int(props.size),
            etag=props.etag or None,
            last_modified=props.last_modified,
            content_type=props.content_settings.content_type or None,
            version=props.version_id or None,
            metadata={k: v for k, v in from_azure(props.metadata).items() if k != FRAME_KEY},
        )

    # -- writes ---------------------------------------------------------------------------------

    async def _put_stored(
        self, uri: str, where: Any, data: PutData, attrs: PutAttrs, *options: Any
    ) -> None:
        """One request for a body of at most ``block_size``; blocks for anything larger.

        The content type, cache control and metadata of ``attrs`` are stored with the blob;
        ``mode="create"`` sends ``If-None-Match: *`` (on the upload, or on the block list's
        commit), so of concurrent creates exactly one wins.
        """
        container, name = where
        is_bytes = isinstance(data, (bytes, bytearray, memoryview))
        if is_bytes and memoryview(data).nbytes <= self.block_size:  # type: ignore[arg-type]
            await self._put_whole(uri, container, name, bytes(data), attrs)  # type: ignore[arg-type]
            return
        blocks = _blocks.blocks_of(chunks_of(data, self.block_size), self.block_size)
        try:
            first = await anext(blocks)
            second = await anext(blocks, None)
            if second is None:
                await self._put_whole(uri, container, name, first, attrs)
                return
            blocks = _chain(first, second, blocks)
            await self._put_blocks(uri, container, name, blocks, attrs)
        finally:
            await blocks.aclose()  # type: ignore[attr-defined]

    async def _put_whole(
        self, uri: str, container: str, name: str, body: bytes, attrs: PutAttrs
    ) -> None:
        """One ``Put Blob`` with a ``Content-MD5`` the service checks the body against (the
        digest is taken off the event loop for a large body)."""
        checked = {"Content-MD5": base64.b64encode((await md5_of(body)).digest()).decode()}

        async def upload(client: AzureClient) -> None:
            blob = client.blob(container, name)
            with az_errors.taken_as_exists(self, uri):
                await blob.upload_blob(
                    body, overwrite=not attrs.create, headers=checked, **_described(attrs, None)
                )

        await self._do(uri, container, upload)

    async def _put_blocks(
        self, uri: str, container: str, name: str, blocks: AsyncIterator[bytes], attrs: PutAttrs
    ) -> None:
        from azure.core import MatchConditions
        from azure.storage.blob import BlobBlock

        digest = hashlib.md5(usedforsecurity=False)
        count = 0

        async def hashed() -> AsyncIterator[bytes]:
            nonlocal count
            async for block in blocks:
                count += 1
                if count > _MAX_BLOCKS:
                    raise ValueError(
                        f"{self.name}: {uri} needs more than {_MAX_BLOCKS} blocks; raise block_size"
                    )
                digest.update(block)
                yield block

        async def stage(block_id: str, block: bytes) -> None:
            await self._do(
                uri, container, lambda c: c.blob(container, name).stage_block(block_id, block)
            )

        ids = await _blocks.stage_all(hashed(), stage, self.max_concurrency)
        listed = [BlobBlock(block_id=i) for i in ids]
        options = _described(attrs, bytearray(digest.digest()))
        if attrs.create:
            options |= {"etag": "*", "match_condition": MatchConditions.IfMissing}

        async def commit(client: AzureClient) -> None:
            blob = client.blob(container, name)
            with az_errors.taken_as_exists(self, uri):
                await blob.commit_block_list(listed, **options)

        await self._do(uri, container, commit)

    async def delete(self, uri: str) -> None:
        """Delete the blob and its snapshots; a missing blob is fine, a missing container
        is not."""
        container, name = self._locate(uri)
        with contextlib.suppress(NotFoundInStore):
            await self._do(
                uri,
                container,
                lambda c: c.blob(container, name).delete_blob(delete_snapshots="include"),
            )

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """A copy on the server (``Copy Blob``), waited for until Azure reports it done; no
        byte comes through the client. The source is read through a short-lived SAS when the
        store has the account key."""
        await self.size(src_uri)  # a missing source is NotFoundInStore, before anything else
        src, (container, name) = self._locate(src_uri), self._locate(dst_uri)

        async def start(client: AzureClient) -> Any:
            source = client.blob(*src).url
            key = client.signing_key()
            if key is not None:
                source += "?" + _sas(key, *src, "r", 3600)
            return await client.blob(container, name).start_copy_from_url(source)

        answer = await self._do(dst_uri, container, start)
        status, wait = answer.get("copy_status"), _COPY_POLL[0]
        while status == "pending":
            await asyncio.sleep(wait)
            wait = min(wait * 2, _COPY_POLL[1])
            status = (await self._properties(dst_uri)).copy.status
        if status != "success":
            raise StoreNotAvailable(self, f"the server-side copy ended {status!r}", uri=dst_uri)

    def _reach(self) -> object:
        """Another ``AzureRaw`` of the same account and credential reaches the same blobs."""
        return (self._access,)

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A SAS URL for ``method`` on ``uri``, signed with the account key.

        Anyone holding the URL may do ``method`` (``GET``, ``PUT``, ``HEAD`` or ``DELETE``) on
        the blob until ``expires_in`` seconds (1 to 604800) have passed; nothing is sent to
        Azure to make it. A ``PUT`` through it needs the header ``x-ms-blob-type: BlockBlob``.

        Raises:
            ValueError: an unsupported ``method`` or ``expires_in`` out of range.
            NotImplementedError: the store has no account key (a SAS token, a token
                credential or anonymous access cannot sign).
        """
        container, name = self._locate(uri)
        verb = check_sign(method, expires_in)
        client = await self._clients.get()
        key = client.signing_key()
        if key is None:
            raise NotImplementedError(f"{self.name} has no account key to sign URLs with")
        sas = _sas(key, container, name, _SAS_PERMISSIONS[verb], expires_in)
        return f"{client.blob(container, name).url}?{sas}"

    async def aclose(self) -> None:
        """Close this loop's client (a later call opens a new one)."""
        await self._clients.aclose()

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """``az://container/blob`` for every blob whose URI starts with ``prefix``, sorted.

        ``prefix`` is ``az://<container>`` or ``az://<container>/<name prefix>``; every page
        is read. With ``flat``, one level (delimiter ``/``): the blobs directly under
        ``prefix`` and its sub-prefixes as ``az://container/sub-prefix/``.

        Raises:
            BucketNotFound: the container does not exist.
        """
        hint = "az://<container>/<prefix>"
        container, name_prefix = parse_uri(self, prefix, split_prefix, hint, what="prefix")
        token: str | None = None
        while True:
            page = partial(_list_page, container=container, prefix=name_prefix, flat=flat,
                           token=token, size=self._list_page_size)  # fmt: skip
            names, token = await self._do(prefix, container, page)
            for name in sorted(names):
                yield f"az://{container}/{name}"
            if not token:
                return


async def _list_page(
    client: AzureClient, container: str, prefix: str, flat: bool, token: str | None, size: int
) -> tuple[list[str], str | None]:
    """One page of blob names (and, when ``flat``, prefixes) and the next page's token."""
    box = client.container(container)
    if flat:
        pager = box.walk_blobs(name_starts_with=prefix or None, delimiter="/",
                               results_per_page=size).by_page(continuation_token=token)  # fmt: skip
    else:
        pager = box.list_blobs(name_starts_with=prefix or None,
                               results_per_page=size).by_page(continuation_token=token)  # fmt: skip
    page = await anext(pager, None)
    names = [] if page is None else [item.name async for item in page]
    return names, pager.continuation_token or None


async def _rechunked(
    pieces: AsyncGenerator[bytes, None], chunk_size: int
) -> AsyncGenerator[bytes, None]:
    """The bytes of ``pieces`` again, in chunks of ``chunk_size`` (the last one shorter)."""
    buffer = bytearray()
    async with contextlib.aclosing(pieces):
        async for piece in pieces:
            buffer += piece
            while len(buffer) >= chunk_size:
                yield bytes(buffer[:chunk_size])
                del buffer[:chunk_size]
    if buffer:
        yield bytes(buffer)


async def _chain(*heads_and_rest: Any) -> AsyncIterator[bytes]:
    """The given blocks, then the rest of the last argument (an async iterator)."""
    *heads, rest = heads_and_rest
    for head in heads:
        yield head
    async for block in rest:
        yield block


def _sas(key: tuple[str, str], container: str, name: str, permission: str, expires_in: int) -> str:
    from azure.storage.blob import generate_blob_sas

    account, secret = key
    expiry = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    sas = generate_blob_sas(
        account, container, name, account_key=secret, permission=permission, expiry=expiry
    )
    return str(sas)


def _described(attrs: PutAttrs, md5: bytearray | None) -> dict[str, Any]:
    """The upload keywords that store ``attrs``' content settings and metadata (and ``md5``)."""
    from azure.storage.blob import ContentSettings

    settings = ContentSettings(
        content_type=attrs.content_type,
        cache_control=attrs.cache_control,
        content_md5=md5,
    )
    return {"content_settings": settings, "metadata": to_azure(attrs.metadata)}
