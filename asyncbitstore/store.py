"""The [`Store`][asyncbitstore.store.Store] contract that every tier, wrapper and chain implements.

A store answers for a set of URIs (``is_valid``) and serves blobs through coroutine methods. A
subclass must implement [`Store.is_valid`][asyncbitstore.store.Store.is_valid] and
[`Store.get`][asyncbitstore.store.Store.get]; everything else has a
working default built on ``get`` (``exists``, ``size``, ``get_range``, ``stream``) or a clear
refusal (``put``/``delete`` raise [`NotWritable`][asyncbitstore.errors.NotWritable], ``list`` raises
``NotImplementedError``). Backends override what they can do better (``stream`` and ``put``
through the hooks `Store` names: ``_stream``, ``_put`` and ``_put_or_raise``).

Rules every method follows:

- a non-``str`` URI raises ``TypeError``; a ``str`` that ``is_valid`` rejects raises
  [`InvalidURI`][asyncbitstore.errors.InvalidURI] with a hint of the expected form;
- a missing blob raises [`NotFoundInStore`][asyncbitstore.errors.NotFoundInStore] (``exists``
  returns
  ``False`` and ``delete`` does nothing instead);
- a store that cannot answer raises [`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable];
- concurrent calls on one store are safe.

Compression: ``put(uri, data, compress="gzip" | "br" | "zstd", level=None)`` stores the data
compressed, behind a short header that names the codec (see `asyncbitstore.compression`);
``get`` and ``stream`` decode it, so callers get back the bytes they put, while
``get(uri, stored=True)`` and ``stream(uri, stored=True)`` give the stored form and
``put(uri, blob, stored=True)`` writes such a stored form back verbatim (a copy that keeps the
encoding). ``raw=`` is the deprecated old name of ``stored=`` (it warns). ``size`` is the stored
size. ``get_range`` of a compressed blob raises `CompressedRange`. Content-addressed keys are
always digests of the uncompressed bytes. Every backend applies the frame in one place,
`asyncbitstore.raw._base.RawStore`.

Lifecycle: clients, sessions and pools are created lazily inside the running event loop.
``aclose()`` releases them, is safe to call twice, and a store used after it quietly creates them
again. Stores pickle without their runtime state (see `Store._init_runtime`), so they can
be shipped to worker processes.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import functools
import json
import logging
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from typing_extensions import Unpack

from ._core import bulk as _bulk
from ._core.bulk_api import DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY
from ._core.bulk_api import Bulk, OverItems, OverUris, StreamOverUris, check_keywords, typed_as
from ._core.bulk_api import BulkOptions as BulkOptions  # public: the bulk keywords
from ._core.bulk_api import PutItems as PutItems  # the bulk types keep their old import path
from ._core.bulk_api import StreamOptions as StreamOptions
from ._core.bulk_api import UriSource as UriSource
from ._core.data import (
    DEFAULT_CHUNK_SIZE,
    PutData,
    check_chunk_size,
    check_put_data,
    check_range,
    slice_range,
)
from ._core.found import answers
from ._core.pinning import LocalFile, pin
from ._core.put_attrs import (
    PLAIN,
    PutAttrs,
    PutKeywords,
    PutOptions,
    attrs_hook,
    attrs_keywords,
    put_attrs,
)
from ._core.ranges import DEFAULT_RANGES_CONCURRENCY, read_ranges
from ._core.temp import temporary_copy
from .compression.codecs import MAGIC
from .compression.store_io import check_options, stored_flag
from .errors import AlreadyExists, InvalidURI, NotFoundInStore, NotWritable
from .freshness import FRESH, CopyRecord, CopyState
from .meta import ObjectMeta
from .stats import ChainStats

__all__ = ["DEFAULT_CONCURRENCY", "BulkOptions", "PutKeywords", "Store", "StreamOptions"]

_PUT_KEYWORDS = PutKeywords.__optional_keys__

T = TypeVar("T")

logger = logging.getLogger("asyncbitstore")

#: One result of a bulk read with ``return_exceptions=True``: the blob, ``None`` for a missing
#: one, or the exception its fetch raised.
Fetched = bytes | BaseException | None
# The results of the bulk methods with ``return_exceptions=True``.
Failures = dict[str, BaseException]
Checked = dict[str, bool | BaseException]
Sized = dict[str, int | BaseException | None]
Headed = dict[str, ObjectMeta | BaseException | None]


def _none_if_missing(ask: Callable[[str], Awaitable[T]]) -> Callable[[str], Awaitable[T | None]]:
    """``ask`` that answers ``None`` for a missing blob instead of raising `NotFoundInStore`."""

    async def call(uri: str) -> T | None:
        try:
            return await ask(uri)
        except NotFoundInStore:
            return None

    return call


class Store(abc.ABC):
    """Abstract base of every store: a raw backend, a keyed store, a wrapper or a chain.

    Extension points: `stream`, `put` and `put_or_raise` keep the public signature and resolve
    the deprecated ``raw=`` into ``stored`` (warning, or ``TypeError`` with both), then call a
    protected hook that a subclass overrides to change what they do:

    - `_stream(uri, chunk_size, stored) -> AsyncIterator[bytes]`: the chunks (default: read
      the whole blob with `get` and cut it up);
    - `_put(uri, data, compress, level, stored, *, attrs=PLAIN) -> None`: the write (default:
      `NotWritable`); ``attrs`` (a `PutAttrs`: the mode and the attributes, already checked)
      is passed only when it is not the plain default, so older overrides keep working for
      plain writes;
    - `_put_or_raise(uri, data, options) -> None`: the write that raises (default: the public
      `put`); ``options`` (a `PutOptions`) holds the compression options and the attributes,
      the attributes already checked.

    Each hook checks its own arguments (``uri``, ``chunk_size``, ``data``, the options), in
    whatever order suits it. A subclass may still override the public `stream`, `put` or
    `put_or_raise` directly, as before the hooks existed; that keeps working (it then handles
    ``raw=`` itself, and the default `_put_or_raise` calls its ``put``).
    """

    #: Shown in [`InvalidURI`][asyncbitstore.errors.InvalidURI] messages: the URI form expected.
    uri_hint: ClassVar[str | None] = None
    #: Attributes holding runtime state (clients, pools, locks) that are dropped on pickling and
    #: rebuilt by `_init_runtime`.
    _runtime_attrs: ClassVar[tuple[str, ...]] = ()
    #: Attributes renamed since an older version, ``(old, new)``: applied on unpickling.
    _renamed_attrs: ClassVar[tuple[tuple[str, str], ...]] = ()

    @property
    def name(self) -> str:
        """A short, secret-free description used in messages, logs and stats."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name}>"

    # -- the contract ---------------------------------------------------------------------------

    @abc.abstractmethod
    def is_valid(self, uri: str) -> bool:
        """Whether this store answers for ``uri``. Synchronous and cheap; never raises for a str.

        Raises:
            TypeError: ``uri`` is not a ``str``.
        """

    @abc.abstractmethod
    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The whole blob, decoded if it was stored compressed.

        Args:
            uri: the blob's URI.
            stored: return the stored form instead: a compressed blob's header and payload, as
                ``put(..., stored=True)`` takes it back.
            raw: deprecated name of ``stored`` (emits a ``DeprecationWarning``).

        Raises:
            InvalidDataFound: a compressed blob whose frame cannot be decoded.
            ImportError: the blob's codec needs ``pip install 'asyncbitstore[compression]'``.
            NotFoundInStore: no blob at ``uri``.
            StoreNotAvailable: the store could not answer.
            InvalidURI: ``is_valid(uri)`` is false.
        """

    def check_uri(self, uri: object) -> str:
        """Return ``uri`` if this store accepts it, else raise ``TypeError`` or ``InvalidURI``."""
        if not isinstance(uri, str):
            raise TypeError(f"{self.name}: a URI must be a str, not {type(uri).__name__}")
        if not self.is_valid(uri):
            raise InvalidURI(self, uri, self.uri_hint)
        return uri

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the blob (fewer when it ends sooner).

        Backends that read ranges of the stored bytes refuse a blob stored compressed (offsets
        into it would not be the data's); this default, which reads the whole blob through
        ``get``, slices the decoded data.

        Raises:
            CompressedRange: the blob is stored compressed (an
                [`InvalidRange`][asyncbitstore.errors.InvalidRange]).
            InvalidRange: not ``0 <= start <= end``, or ``start`` past the end of the blob.
            NotFoundInStore: no blob at ``uri``.
        """
        self.check_uri(uri)
        check_range(self, uri, start, end)
        return slice_range(self, uri, await self.get(uri), start, end)

    async def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Bytes of several ranges of one blob, in the order asked, in few requests.

        Each ``(start, end)`` pair is what `get_range` takes, and each result what it returns
        for that pair. Ranges that overlap, touch or lie at most 1 MiB apart are read as one;
        the rest in parallel (as many at a time as `max_concurrency` where the store has
        it, else 8). A chain reads all of them from one tier.

        Raises:
            InvalidRange: a pair that is malformed (its message names its position) or starts
                past the end of the blob.
            CompressedRange: the blob is stored compressed.
            NotFoundInStore: no blob at ``uri``.
        """
        self.check_uri(uri)
        read = functools.partial(self.get_range, uri)
        return await read_ranges(self, uri, ranges, read, concurrency=self._range_concurrency)

    @property
    def _range_concurrency(self) -> int:
        """Ranges one `get_ranges` call reads at a time."""
        return DEFAULT_RANGES_CONCURRENCY

    def stream(
        self,
        uri: str,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        stored: bool = False,
        raw: bool | None = None,
    ) -> AsyncIterator[bytes]:
        """The blob as chunks of at most ``chunk_size`` bytes, decoded as it streams.

        A missing blob raises [`NotFoundInStore`][asyncbitstore.store.NotFoundInStore] before the
        first chunk. With ``stored``,
        the stored form is streamed (``raw`` is its deprecated name). The default reads the
        whole blob first; stores that can stream override `_stream` to bound memory (and
        decode a compressed blob step by step).

        Raises:
            TypeError: ``stored=True`` together with ``raw=`` (raised by this call, before any
                chunk).
        """
        if raw is not None:
            stored = stored_flag(stored, raw)
        return self._stream(uri, chunk_size, stored)

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """What `stream` returns, once ``raw=`` is resolved into ``stored``.

        Checks ``uri`` and ``chunk_size`` itself (typically when the first chunk is asked for).
        """
        self.check_uri(uri)
        check_chunk_size(chunk_size)
        view = memoryview(await (self.get(uri, stored=True) if stored else self.get(uri)))
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])

    async def put(
        self,
        uri: str,
        data: PutData,
        *,
        mode: str = "overwrite",
        content_type: str | None = None,
        cache_control: str | None = None,
        metadata: Mapping[str, str] | None = None,
        compress: str | None = None,
        level: int | None = None,
        stored: bool = False,
        raw: bool | None = None,
    ) -> None:
        """Store ``data`` (bytes-like, or an async iterable of bytes) at ``uri``.

        A failed or interrupted put leaves no partial blob visible. An async iterable is
        compressed chunk by chunk as it is written, in bounded memory.

        Args:
            uri: where to store it.
            data: the bytes, or an async iterable of bytes.
            mode: ``"overwrite"`` (the default) replaces what is stored at ``uri``;
                ``"create"`` writes only if nothing is, and raises `AlreadyExists` otherwise
                (atomically where the backend can: see each backend).
            content_type: a media type to store with the blob (`head` reports it).
            cache_control: a ``Cache-Control`` value to store with the blob.
            metadata: user metadata to store with the blob: lowercase ASCII keys (letters,
                digits, ``-``, ``_``, ``.``), printable ASCII values, 2 KiB at most in all.
                Backends without a place for these attributes drop them (their `head`
                then reports none).
            compress: ``"gzip"``, ``"br"`` or ``"zstd"`` to store the data compressed with
                that codec (``get`` decodes it); None stores it as given.
            level: the codec's level (gzip 0-9, default 6; br 0-11, default 5; zstd -7-22,
                default 3); needs ``compress``.
            stored: ``data`` is a stored form, as ``get(uri, stored=True)`` returned it: write
                it verbatim (no ``compress``).
            raw: deprecated name of ``stored`` (emits a ``DeprecationWarning``).

        Raises:
            AlreadyExists: ``mode="create"`` and a blob is stored at ``uri``.
            NotWritable: this store does not implement put.
            ValueError: an unknown codec (the message lists the valid ones) or a bad level; an
                unknown ``mode``; an attribute that breaks the rule above.
            ImportError: ``"br"``/``"zstd"`` without ``pip install 'asyncbitstore[compression]'``.
            TypeError: ``stored=True`` together with ``raw=``; an attribute that is not a str.
        """
        attrs = put_attrs(mode, content_type, cache_control, metadata)
        await self._put(uri, data, compress, level, stored_flag(stored, raw), **attrs_hook(attrs))

    async def _put(
        self,
        uri: str,
        data: PutData,
        compress: str | None,
        level: int | None,
        stored: bool,
        *,
        attrs: PutAttrs = PLAIN,
    ) -> None:
        """What `put` does, once ``raw=`` is resolved into ``stored`` and the mode and
        attributes into ``attrs`` (passed only when they are not `PLAIN`, so that overrides
        written before them keep working for plain writes).

        Checks ``uri``, ``data`` and the options itself; the default refuses the write.
        """
        self.check_uri(uri)
        raise NotWritable(self, "put")

    async def exists(self, uri: str) -> bool:
        """Whether a blob is at ``uri``. Never raises for a missing blob."""
        return await answers(self.get(uri))

    async def size(self, uri: str) -> int:
        """The blob's size in bytes.

        Raises:
            NotFoundInStore: no blob at ``uri``.
        """
        return len(await self.get(uri))

    async def head(self, uri: str) -> ObjectMeta:
        """What the store knows about the blob, without reading it where the backend can.

        ``size`` is the stored size, the number `size` gives. The default builds the answer
        from `size` alone; backends fill in what they keep (ETag, modification time, content
        type, version, user metadata).

        Raises:
            NotFoundInStore: no blob at ``uri``.
        """
        return ObjectMeta(size=await self.size(uri))

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The blob (decoded, as `get` gives it) together with its `ObjectMeta`.

        Backends that can take both from one response do. The default asks `head` first and
        then `get`: if the blob is replaced in between, the answer pairs new bytes with the old
        meta, and the next revalidation sees a change and fetches again. The other order could
        pair old bytes with the new meta, and a cache would then keep stale bytes as current.

        Raises:
            NotFoundInStore: no blob at ``uri``.
        """
        meta = await self.head(uri)
        return await self.get(uri), meta

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """The blob and its meta if it no longer matches ``known``; None while it still does.

        A cache's revalidation: ``known`` is the meta of the copy it holds. Backends that can
        ask conditionally (S3, GCS, HTTP) send no body when nothing changed. The default asks
        `head` and compares with `ObjectMeta.same_content_as`; when that cannot tell, the blob
        counts as changed and is fetched.

        Raises:
            NotFoundInStore: no blob at ``uri`` any more.
            TypeError: ``known`` is not an `ObjectMeta`.
        """
        if not isinstance(known, ObjectMeta):
            raise TypeError(f"known must be an ObjectMeta, not {type(known).__name__}")
        meta = await self.head(uri)
        if meta.same_content_as(known):
            return None
        return await self.get(uri), meta

    async def delete(self, uri: str) -> None:
        """Remove the blob; deleting a missing blob is not an error.

        Raises:
            NotWritable: this store does not implement delete.
        """
        self.check_uri(uri)
        raise NotWritable(self, "delete")

    def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """Every URI that starts with ``prefix``, following every page.

        Args:
            prefix: the URIs listed start with it.
            flat: list one "directory" level instead: the URIs directly under ``prefix`` (no
                further ``/``) and the sub-prefixes one level down (ending in ``/``), sorted,
                each once, as S3's ``Delimiter="/"`` does (see `asyncbitstore.listing`).

        Raises:
            NotImplementedError: this store cannot list.
        """
        raise NotImplementedError(f"{self.name} cannot list its blobs")

    # -- bulk operations ------------------------------------------------------------------------

    async def _get_or_none(self, uri: str) -> bytes | None:
        try:
            return await self.get(uri)
        except NotFoundInStore:
            return None

    @typed_as[
        OverUris[builtins.list[bytes | None], builtins.list[Fetched], builtins.list[Fetched]]
    ]()
    async def get_many(
        self, uris: UriSource, **options: Unpack[BulkOptions]
    ) -> builtins.list[bytes | None] | builtins.list[Fetched]:
        """Fetch many blobs; the result keeps the order of ``uris``, ``None`` for a missing blob.

        With ``return_exceptions``, a failed fetch's exception takes its place in the list.
        Stores that read a batch faster than one blob at a time override `_get_many`. The
        keywords are those of [`BulkOptions`][asyncbitstore.BulkOptions].
        """
        return await self._get_many(uris, Bulk.of("get_many", options))

    async def _get_many(self, uris: UriSource, bulk: Bulk) -> builtins.list[Fetched]:
        """The work of `get_many`, with its options checked."""
        if isinstance(uris, AsyncIterable):
            fetched = self.iter_get(
                uris,
                concurrency=bulk.concurrency,
                ordered=True,
                progress=bulk.progress,
                return_exceptions=bulk.return_exceptions,
            )
            return [data async for _, data in fetched]
        if isinstance(uris, (str, bytes)):
            raise TypeError("uris must be an iterable of URIs, not a single str")
        items = uris if isinstance(uris, Sequence) else list(uris)
        with bulk.bar(items, "get") as bar:
            fetch = bulk.attempt(self._get_or_none)
            return await _bulk.map_list(fetch, items, concurrency=bulk.concurrency, progress=bar)

    @typed_as[StreamOverUris[bytes | None, Fetched]]()
    async def iter_get(
        self, uris: UriSource, **options: Unpack[StreamOptions]
    ) -> AsyncIterator[tuple[str, Fetched]]:
        """Yield ``(uri, data or None)`` as fetches finish (or in input order with ``ordered``).

        ``uris`` may be endless: at most ``concurrency`` fetches are in flight and at most about
        ``2 * concurrency`` results wait for the consumer, whose pace sets the producer's.
        Wrap in ``contextlib.aclosing`` to cancel pending fetches promptly when stopping early.
        With ``return_exceptions``, a failed fetch yields ``(uri, exception)``. The keywords
        are those of [`StreamOptions`][asyncbitstore.StreamOptions].
        """
        ordered = options.pop("ordered", False)
        bulk = Bulk.of("iter_get", options)
        with bulk.bar(uris, "get") as bar:
            pairs = _bulk.imap(
                bulk.attempt(self._get_or_none),
                uris,
                concurrency=bulk.concurrency,
                ordered=ordered,
                progress=bar,
            )
            async with contextlib.aclosing(pairs):  # closing us closes it: workers stop now
                async for pair in pairs:
                    yield pair

    @typed_as[OverItems[int, Failures, int | Failures]]()
    async def put_many(self, items: PutItems, **options: Unpack[BulkOptions]) -> int | Failures:
        """Store many ``(uri, data)`` pairs, given by any iterable or async iterable.

        The keywords are those of [`BulkOptions`][asyncbitstore.BulkOptions].

        Returns:
            How many pairs were written; with ``return_exceptions``, ``{uri: exception}`` for the
            writes that failed (empty when all went well; a URI given twice keeps its last
            failure).
        """

        async def put_pair(pair: tuple[str, PutData]) -> None:
            await self.put(pair[0], pair[1])

        bulk = Bulk.of("put_many", options)
        return await self._drain_or_failures(put_pair, lambda pair: pair[0], items, bulk, "put")

    @typed_as[OverUris[dict[str, bool], Checked, Checked]]()
    async def exists_many(
        self, uris: UriSource, **options: Unpack[BulkOptions]
    ) -> dict[str, bool] | Checked:
        """``{uri: exists}`` for every URI.

        With ``return_exceptions``, a failed check's exception stands in place of its answer.
        The keywords are those of [`BulkOptions`][asyncbitstore.BulkOptions].
        """
        return await self._answer_many(self.exists, uris, Bulk.of("exists_many", options), "exists")

    @typed_as[OverUris[int, Failures, int | Failures]]()
    async def delete_many(self, uris: UriSource, **options: Unpack[BulkOptions]) -> int | Failures:
        """Delete many blobs (missing ones are fine).

        The keywords are those of [`BulkOptions`][asyncbitstore.BulkOptions].

        Returns:
            How many URIs were processed; with ``return_exceptions``, ``{uri: exception}`` for
            the deletes that failed (empty when all went well).
        """
        bulk = Bulk.of("delete_many", options)
        return await self._drain_or_failures(self.delete, lambda uri: uri, uris, bulk, "delete")

    @typed_as[OverUris[dict[str, int | None], Sized, Sized]]()
    async def size_many(
        self, uris: UriSource, **options: Unpack[BulkOptions]
    ) -> dict[str, int | None] | Sized:
        """``{uri: size}`` for every URI: the stored size `size` gives, ``None`` for a miss.

        Where only sizes are wanted this can cost less than `head_many`: stores that answer a
        batch at once override `_size_many` (S3 lists a folder that holds many of the URIs).
        With ``return_exceptions``, a failed lookup's exception stands in place of its size.
        The keywords are those of [`BulkOptions`][asyncbitstore.BulkOptions].
        """
        return await self._size_many(uris, Bulk.of("size_many", options))

    async def _size_many(self, uris: UriSource, bulk: Bulk) -> Sized:
        """The work of `size_many`: `size` per URI."""
        return await self._answer_many(_none_if_missing(self.size), uris, bulk, "size")

    @typed_as[OverUris[dict[str, ObjectMeta | None], Headed, Headed]]()
    async def head_many(
        self, uris: UriSource, **options: Unpack[BulkOptions]
    ) -> dict[str, ObjectMeta | None] | Headed:
        """``{uri: meta}`` for every URI: the `ObjectMeta` `head` gives, ``None`` for a miss.

        With ``return_exceptions``, a failed lookup's exception stands in place of its meta.
        The keywords are those of [`BulkOptions`][asyncbitstore.BulkOptions].
        """
        return await self._head_many(uris, Bulk.of("head_many", options))

    async def _head_many(self, uris: UriSource, bulk: Bulk) -> Headed:
        """The work of `head_many`: `head` per URI, unless a store reads a batch at once."""
        return await self._answer_many(_none_if_missing(self.head), uris, bulk, "head")

    async def _answer_many(
        self, ask: Callable[[str], Awaitable[T]], uris: UriSource, bulk: Bulk, description: str
    ) -> dict[str, T | BaseException]:
        """``{uri: await ask(uri)}`` through `_drain`; with ``return_exceptions``, a failed
        call's exception is its answer."""
        answers: dict[str, T | BaseException] = {}
        attempt = bulk.attempt(ask)

        async def one(uri: str) -> None:
            answers[uri] = await attempt(uri)

        await self._drain(one, uris, bulk, description)
        return answers

    async def _drain_or_failures(
        self,
        fn: Callable[[Any], Awaitable[object]],
        uri_of: Callable[[Any], str],
        items: Any,
        bulk: Bulk,
        description: str,
    ) -> int | Failures:
        """`_drain`; with ``return_exceptions``, carry on past failures and return them by the
        URI ``uri_of`` gives for the item instead of the count."""
        if not bulk.return_exceptions:
            return await self._drain(fn, items, bulk, description)
        failures: Failures = {}
        attempt = _bulk.capture(fn)

        async def one(item: Any) -> None:
            outcome = await attempt(item)
            if isinstance(outcome, BaseException):
                failures[uri_of(item)] = outcome

        await self._drain(one, items, bulk, description)
        return failures

    async def _drain(self, fn: Any, items: Any, bulk: Bulk, description: str) -> int:
        """Apply ``fn`` to every item under ``bulk``'s bound and bar; return the count."""
        with bulk.bar(items, description) as bar:
            return await _bulk.drain(fn, items, concurrency=bulk.concurrency, progress=bar)

    # -- capabilities: defaults that stores override where they differ --------------------

    #: The hashlib algorithm whose hex digests are this store's keys; None where keys are names.
    key_algorithm: str | None = None
    #: Whether ``exists`` costs less than ``get``. A chain asks ``exists`` of a store only where
    #: it does (an API source without a cheap check would download the blob).
    exists_is_cheap: bool = True

    async def get_key(self, key: str) -> bytes:
        """``get`` for a key already in this store's normal form; the default is ``get``.

        Content-addressed stores (``key_algorithm`` set) skip checking the key again.
        """
        return await self.get(key)

    @property
    def verifies_keys(self) -> bool:
        """Whether this store checks that each blob's digest is its key (a chain: any tier)."""
        return False

    async def flush(self) -> None:
        """Wait for this store's background work (a chain's fills); the default has none."""

    @property
    def chain_stats(self) -> ChainStats | None:
        """A chain's per-tier figures; None for a store that keeps none (the default)."""
        return None

    def reset_stats(self) -> None:
        """Zero the figures ``chain_stats`` reports; the default keeps none."""

    def declines(self, uri: str, size: int) -> bool:
        """Whether this store would refuse ``size`` bytes at ``uri``; the default is never.

        A chain asks before filling, so that a cache that is too small for a blob (a ``Small``
        wrapper, a full bounded folder) is skipped quietly instead of failing a fill.
        """
        return False

    #: Whether copies here carry a `CopyRecord` of their source (a named cache): a chain then
    #: fetches with `get_with_meta` what fills this store, and fills it with `put_copy`.
    keeps_records: bool = False
    #: Whether copies here can go stale (a named cache with a ``ttl``): a chain then asks
    #: `copy_state` before serving one. Content-addressed and plain stores: never.
    copies_expire: bool = False

    def known_fresh(self, uri: str) -> bool:
        """Whether the copy at ``uri`` is known to be fresh without any I/O (a chain then skips
        `copy_state`); the default: always."""
        return True

    async def copy_state(self, uri: str) -> CopyState:
        """Whether the copy at ``uri`` may be served, stays a miss, or is checked at its source;
        the default: always fresh."""
        return FRESH

    async def copy_record(self, uri: str) -> CopyRecord | None:
        """The record kept with the copy at ``uri``; None by default (no records kept)."""
        return None

    async def put_copy(
        self, uri: str, data: PutData, meta: ObjectMeta | None, fetched_at: float | None = None
    ) -> None:
        """Keep ``data`` as the copy at ``uri``, fetched at ``fetched_at`` (None: now) from a
        source that described it with ``meta``; raises on failure like `put_or_raise`, which
        is the default (the meta is dropped)."""
        await self.put_or_raise(uri, data)

    async def renew_copy(self, uri: str, meta: ObjectMeta) -> None:
        """The source confirmed the copy at ``uri`` is current: it counts as fetched now. The
        default keeps no record, so has nothing to renew."""

    async def put_or_raise(self, uri: str, data: PutData, **options: Unpack[PutKeywords]) -> None:
        """[`put`][asyncbitstore.store.Store.put] that raises on failure, with the same keywords
        ([`PutKeywords`][asyncbitstore.store.PutKeywords]). Caches whose ``put`` only logs
        failures override `_put_or_raise`.
        """
        check_keywords("put_or_raise", options, _PUT_KEYWORDS)
        attrs = put_attrs(
            options.get("mode", "overwrite"),
            options.get("content_type"),
            options.get("cache_control"),
            options.get("metadata"),
        )
        stored = stored_flag(options.get("stored", False), options.get("raw"))
        compression = (options.get("compress"), options.get("level"))
        await self._put_or_raise(uri, data, PutOptions(*compression, stored, attrs))

    async def _put_or_raise(self, uri: str, data: PutData, options: PutOptions) -> None:
        """What `put_or_raise` does, once ``raw=`` is resolved into ``stored`` and the
        keywords are gathered into ``options``.

        The default calls the public ``put``, with the compression keywords and attributes
        only when set, so a subclass that overrides ``put`` itself (even one that predates
        them) is honoured.
        """
        await self.put(uri, data, **options.keywords())

    def local_file(self, uri: str) -> LocalFile | None:
        """Where this store keeps the blob at ``uri`` as a plain local file; None by default.

        Only says where the file would be: it may be missing, or hold a compressed blob.
        """
        return None

    # -- local files ----------------------------------------------------------------------------

    def local_path(self, uri: str) -> contextlib.AbstractAsyncContextManager[Path]:
        """``async with store.local_path(uri) as path``: the blob as a local file until the exit.

        A local file store yields the blob's own file; a chain makes sure the blob is in one of
        its local file tiers (fetching and filling it if needed); any other store, and a blob
        stored compressed, yields a temporary copy of the data, removed on exit. The file is
        pinned (a bounded folder does not evict it) while the block runs, and must not be
        modified: it is the store's copy.

        Raises:
            NotFoundInStore: no blob at ``uri``.
        """
        return self._local_path(uri)

    @contextlib.asynccontextmanager
    async def _local_path(self, uri: str) -> AsyncIterator[Path]:
        self.check_uri(uri)
        where = self.local_file(uri)
        if where is not None:
            held = await pin(where)
            if held is None:
                raise NotFoundInStore(self, uri)
            try:
                if await held.head(len(MAGIC)) != MAGIC:
                    yield Path(held.path)
                    return
            finally:
                await held.release()
        async with temporary_copy(self.stream(uri)) as path:
            yield path

    # -- JSON -----------------------------------------------------------------------------------

    async def get_json(self, uri: str) -> Any:
        """The blob decoded as UTF-8 JSON.

        Raises:
            NotFoundInStore: no blob at ``uri``.
            ValueError: the blob is not valid JSON (``json.JSONDecodeError``) or not UTF-8.
        """
        return json.loads(await self.get(uri))

    async def put_json(self, uri: str, obj: Any, *, sort_keys: bool = False) -> None:
        """Store ``obj`` as compact UTF-8 JSON.

        Raises:
            TypeError: ``obj`` is not JSON-serializable (nothing is written).
        """
        await self.put(uri, _dump_json(obj, sort_keys))

    async def get_json_many(
        self, uris: UriSource, *, concurrency: int = DEFAULT_CONCURRENCY, progress: bool = False
    ) -> builtins.list[Any]:
        """Decoded JSON of many blobs, order kept, ``None`` for a missing blob.

        A JSON ``null`` blob also decodes to ``None``; use
        [`exists_many`][asyncbitstore.store.Store.exists_many] to tell them apart.
        """
        blobs = await self.get_many(uris, concurrency=concurrency, progress=progress)
        return [None if data is None else json.loads(data) for data in blobs]

    async def put_json_many(
        self,
        items: Iterable[tuple[str, Any]] | AsyncIterable[tuple[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        progress: bool = False,
        sort_keys: bool = False,
    ) -> int:
        """Store many ``(uri, obj)`` pairs as JSON; returns how many were written."""

        async def put_pair(pair: tuple[str, Any]) -> None:
            await self.put(pair[0], _dump_json(pair[1], sort_keys))

        return await self._drain(put_pair, items, Bulk(concurrency, progress), "put")

    # -- lifecycle ------------------------------------------------------------------------------

    def _init_runtime(self) -> None:
        """Create empty runtime state (clients, pools, locks): on construction and unpickling."""

    async def aclose(self) -> None:
        """Release clients, sessions and pools. Safe to call twice; the store stays usable."""

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for attr in self._runtime_attrs:
            state.pop(attr, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for old, new in self._renamed_attrs:
            if old in state and new not in state:
                state[new] = state.pop(old)
        self.__dict__.update(state)
        self._init_runtime()

    # -- copies, renames and signed URLs ---------------------------------------------------------

    async def copy(self, src_uri: str, dst_uri: str) -> None:
        """Copy the blob at ``src_uri`` to ``dst_uri`` inside this store, replacing what is there.

        The stored form is copied (a compressed blob stays compressed, nothing is decoded).
        Backends that can copy on the server side do (S3 ``CopyObject``, GCS rewrite, Redis
        ``COPY``, ...); this default streams the stored form from ``src_uri`` into ``dst_uri``
        in bounded memory. The destination appears whole or not at all. Copies between two
        stores are `transfer`'s job.

        Raises:
            InvalidURI: either URI is not one of this store's.
            NotFoundInStore: no blob at ``src_uri`` (nothing is written).
            NotWritable: this store cannot write.
        """
        self.check_uri(src_uri)
        self.check_uri(dst_uri)
        if src_uri == dst_uri:
            await self.size(src_uri)  # a copy onto itself only has to find the blob
            return
        await self._copy(src_uri, dst_uri)

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """What `copy` does once both URIs are checked and differ; backends override it."""
        chunks = self.stream(src_uri, stored=True)
        try:
            first = await anext(chunks, None)  # a missing blob raises here, before any write

            async def rest() -> AsyncIterator[bytes]:
                chunk = first
                while chunk is not None:
                    yield chunk
                    chunk = await anext(chunks, None)

            await self.put_or_raise(dst_uri, rest(), stored=True)
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]

    async def rename(self, src_uri: str, dst_uri: str) -> None:
        """Move the blob at ``src_uri`` to ``dst_uri`` inside this store, replacing what is there.

        Backends with a native rename use it (files, Redis, SQLite, SFTP). Elsewhere it is
        `copy` followed by `delete` of ``src_uri``: if the copy fails, ``src_uri`` is untouched;
        if the delete fails after the copy, the error propagates and the blob is at both URIs,
        never at neither.

        Raises:
            InvalidURI: either URI is not one of this store's.
            NotFoundInStore: no blob at ``src_uri``.
            NotWritable: this store cannot write.
        """
        self.check_uri(src_uri)
        self.check_uri(dst_uri)
        if src_uri == dst_uri:
            await self.size(src_uri)
            return
        await self._rename(src_uri, dst_uri)

    async def _rename(self, src_uri: str, dst_uri: str) -> None:
        """What `rename` does once both URIs are checked and differ; backends override it."""
        await self._copy(src_uri, dst_uri)
        await self.delete(src_uri)

    def _same_blobs(self, other: Store) -> bool:
        """Whether ``other`` reaches the very blobs this store does, so that `copy` inside this
        store may stand for a copy between the two; the default: only the same object."""
        return other is self

    async def sign(self, uri: str, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A URL that lets anyone holding it do ``method`` on ``uri`` for ``expires_in`` seconds.

        Only stores that can presign (S3, GCS) implement it.

        Raises:
            NotImplementedError: this store cannot sign URLs (the default).
        """
        raise NotImplementedError(f"{self.name} cannot sign URLs")


class CacheWrites(Store):
    """What makes a store a cache: `put` logs and counts failures instead of raising.

    ``put_failures`` counts them; `put_or_raise` raises them (a chain filling the cache calls
    it, so that the chain's own figures see the failures too). Mixed in before the store class
    whose writes it guards, which checks keys with ``_raw_uri``; ``_put_failure_log`` is the
    logger and level of the line a failure writes.
    """

    put_failures: int
    _put_failure_log: ClassVar[tuple[logging.Logger, int]]

    if TYPE_CHECKING:

        def _raw_uri(self, uri: Any) -> Any: ...

    def _init_runtime(self) -> None:
        super()._init_runtime()
        self.put_failures = 0

    async def _put_or_raise(self, uri: str, data: PutData, options: PutOptions) -> None:
        """``put`` that raises on failure: the store's own write."""
        await super()._put(
            uri, data, options.compress, options.level, options.stored, **attrs_hook(options.attrs)
        )

    async def _put(
        self,
        uri: str,
        data: PutData,
        compress: str | None,
        level: int | None,
        stored: bool,
        *,
        attrs: PutAttrs = PLAIN,
    ) -> None:
        """Store the blob if possible; a failure is logged and counted, not raised.

        A key or data of the wrong form, or bad compression options, still raise (``TypeError``,
        `InvalidURI`, ``ValueError``), as from every other method: they are the caller's
        mistake, not the cache's.
        """
        self._raw_uri(uri)
        check_put_data(data)
        check_options(compress, level, stored)
        try:
            await self.put_or_raise(
                uri, data, compress=compress, level=level, stored=stored, **attrs_keywords(attrs)
            )
        except AlreadyExists:
            raise  # the caller asked for mode="create": the answer is theirs, not a failure
        except Exception as exc:
            self.put_failures += 1
            log, severity = self._put_failure_log
            log.log(severity, "%s: could not cache %r: %s", self.name, uri, exc)


def _dump_json(obj: Any, sort_keys: bool) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False).encode()
