"""``BoundedFileRaw``: a cache folder kept under a size bound by least-recently-used eviction.

This is what ``HashCache(FileRaw(), "/var/cache/blobs/", max_bytes=...)`` stores its blobs in.
Layout of the folder:

    /var/cache/blobs/.abs-index.sqlite      sizes and last use of every blob (see cache_index)
    /var/cache/blobs/4b/c3/4bc39c7d87...    blob "4bc39c7d87...": two levels of subfolders
                                            named by its first four characters

so no folder holds more than 65,536 entries plus its share of the blobs. Processes on one
machine may share the folder: the index is a SQLite database whose transactions serialize them,
and a blob being streamed is never evicted (see `asyncbitstore.cache_index`, and
``_cache_files`` for the file side).

Hits cost what an unbounded ``FileRaw`` read costs: their recency is collected in memory and
written to the index in batches (every ``flush_every`` hits or ``flush_interval`` seconds, and
with each write, whose transaction evicts by it); other processes see a hit that late at most.
Recency is kept to ``resolution`` seconds: a blob used again within that time of its recorded
use is not recorded again, so a hot set of blobs costs no index writes at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, BinaryIO, TypeVar

from ..._core.bulk import capture, map_list
from ..._core.bulk_api import Bulk
from ..._core.checks import non_negative_int
from ..._core.data import Capped, PutData, check_chunk_size
from ..._core.pinning import LocalFile
from ..._core.put_attrs import PutAttrs
from ...compression.codecs import MAGIC_BYTE
from ...compression.store_io import decode
from ...errors import (
    InvalidRange,
    InvalidURI,
    NotFoundInStore,
    StoreFull,
)
from ...listing import cut_level
from ...meta import ObjectMeta
from ...store import Fetched, UriSource
from .._base import PrefixedRaw, check_str
from . import FileRaw
from . import _ops as ops
from ._errors import file_error, local_file
from ._index import CacheIndex, NoRoom, UseLog
from ._layout import NAME, blob_path, open_shared, read_many, scan, stat_many
from ._meta import stat_meta
from ._writes import settle, write_and_settle

T = TypeVar("T")

__all__ = ["BoundedFileRaw"]

logger = logging.getLogger("asyncbitstore.cache")


class BoundedFileRaw(PrefixedRaw):
    """Blobs in one folder, at most ``max_bytes`` in all, least-recently used evicted first.

    Args:
        raw: the ``FileRaw`` whose worker threads do the file work (its ``root`` applies).
        folder: the cache folder as a URI prefix ending in ``/`` (``"/var/cache/blobs/"`` or
            ``"file:///var/cache/blobs/"``). Its URIs are ``<folder><name>``, where a name is
            4 to 255 characters of ``[0-9A-Za-z._-]`` with no dot among the first four.
        max_bytes: the bound on the total size of the blobs (the index and subfolders are not
            counted). A blob bigger than the bound is refused with ``StoreFull`` (a streamed one
            as soon as it outgrows the bound, before more is written).
        evict: when false, a write that does not fit raises ``StoreFull`` instead of evicting
            (for the first store of a ``Fanout`` that should spill over once full).
        flush_every: hits collected before their recency is written to the index.
        flush_interval: seconds after which collected hits are written at the next hit.
        resolution: seconds within which repeated uses of a blob are recorded only once.

    ``used_bytes`` and ``evictions`` are this process's latest view; ``await usage()`` asks the
    index.

    No symlink inside the folder (or, if ``raw`` has a ``root``, below that root) is followed:
    a path through one is refused with ``PathEscapesRoot``, and scans skip them.
    """

    __module__ = "asyncbitstore.bounded_cache"  # the documented import path

    _runtime_attrs = ("_fs", "_index", "_uses", "_flushes")
    _prefix_attr = "prefix"
    _key_word = "<name>"
    _key_note = " (4+ characters of [0-9A-Za-z._-], no dot in the first 4)"

    def __init__(
        self,
        raw: FileRaw,
        folder: str,
        max_bytes: int,
        *,
        evict: bool = True,
        flush_every: int = 4096,
        flush_interval: float = 2.0,
        resolution: float = 30.0,
    ) -> None:
        if not isinstance(raw, FileRaw):
            raise TypeError(f"a bounded cache needs a FileRaw, not {type(raw).__name__}")
        non_negative_int("max_bytes", max_bytes)
        if not isinstance(folder, str) or not folder.endswith("/"):
            raise ValueError(f"the cache folder must be a str ending in '/', not {folder!r}")
        if not raw.is_valid(folder + "abcd/abcdef"):
            raise InvalidURI(raw, folder, f"a folder {raw.name} accepts ({raw.uri_hint})")
        self.raw = raw
        self.prefix = folder
        self.folder = folder.removeprefix("file://").rstrip("/")
        self.max_bytes = max_bytes
        self.evict = bool(evict)
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.resolution = resolution
        self.used_bytes: int | None = None
        self.evictions = 0
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._fs = ops.Folder(self.folder if self.raw.root is None else self.raw.root)
        self._index = CacheIndex(self.folder, self.max_bytes, self._fs)
        self._uses = UseLog(self.resolution, self.flush_every, self.flush_interval)
        self._flushes: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return f"BoundedFileRaw({self.prefix!r}, max_bytes={self.max_bytes})"

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is ``<folder><name>``."""
        check_str(uri)
        return uri.startswith(self.prefix) and NAME.fullmatch(uri, len(self.prefix)) is not None

    def declines(self, uri: str, size: int) -> bool:
        """Whether a blob of ``size`` bytes can never fit."""
        return size > self.max_bytes

    def local_file(self, uri: str) -> LocalFile:
        """The blob's own file, which the evictor may remove unless it is pinned."""
        return local_file(self, self._fs, uri, self._path(uri)[1], evictable=True)

    def _path(self, uri: object) -> tuple[str, str]:
        """The blob's name and path, or ``TypeError``/``InvalidURI``."""
        name = self.check_uri(uri)[len(self.prefix) :]
        return name, blob_path(self.folder, name)

    _locate = _path

    async def _run(self, uri: str, fn: Any, *args: Any, writing: bool = False) -> Any:
        try:
            return await self.raw._batcher.submit(fn, *args)
        except OSError as exc:
            raise self._error(exc, uri, writing) from exc

    def _error(self, exc: OSError, uri: str, writing: bool = False) -> BaseException:
        return file_error(self, exc, uri, writing)

    # -- recency --------------------------------------------------------------------------------

    def _used(self, name: str) -> None:
        now = self._uses.add(name)
        if now is not None:
            self._flush_soon(now)

    def _flush_soon(self, now: float) -> None:
        """Write the collected uses in the background (a batcher job; nothing waits on it)."""
        future = self.raw._batcher.submit(self._index.touch, self._uses.take(now))
        self._flushes.add(future)
        future.add_done_callback(self._flushed)

    def _flushed(self, future: asyncio.Future[None]) -> None:
        self._flushes.discard(future)
        if not future.cancelled() and future.exception() is not None:
            logger.warning("%s: could not record recent hits: %s", self.name, future.exception())

    async def flush(self) -> None:
        """Write the recency of the hits so far to the index."""
        if self._uses.pending:
            await self._run(self.prefix, self._index.touch, self._uses.take())
        loop = asyncio.get_running_loop()
        mine = {future for future in self._flushes if future.get_loop() is loop}
        self._flushes = mine  # writes left by an event loop that is gone will never report
        if mine:
            await asyncio.wait(mine)

    async def usage(self) -> tuple[int, int]:
        """``(bytes, blobs)`` in the folder, from the index (shared by every process)."""
        used: tuple[int, int] = await self._run(self.prefix, self._index.usage)
        self.used_bytes = used[0]
        return used

    # -- reads ----------------------------------------------------------------------------------

    async def _get_stored(self, uri: str) -> bytes:
        """The stored bytes; counts as a use."""
        name, path = self._path(uri)
        try:
            data: bytes = await self.raw._batcher.submit(self._fs.read, path)
        except OSError as exc:
            raise self._error(exc, uri) from exc
        self._used(name)
        return data

    async def _get_many(self, uris: UriSource, bulk: Bulk) -> list[Fetched]:
        """Many blobs, order kept, ``None`` for a missing one; each hit counts as a use.

        A list of URIs is read in batches, one worker-thread job per batch rather than one
        awaited call per blob (about half the cost per hit for small blobs). With
        ``return_exceptions``, a batch that fails is read again one blob at a time, so each
        error lands on its own URI.
        """
        if bulk.progress or isinstance(uris, str) or not isinstance(uris, Sequence):
            return await super()._get_many(uris, bulk)
        try:
            paths = [self._path(uri) for uri in uris]
        except (TypeError, InvalidURI):
            if not bulk.return_exceptions:
                raise
            return await super()._get_many(uris, bulk)
        size = min(64, bulk.concurrency)
        submit = self.raw._batcher.submit
        found: list[Fetched] = []
        pending: deque[asyncio.Future[list[bytes | None]]] = deque()

        async def collect() -> None:
            batch = uris[len(found) : len(found) + size]
            found.extend(await self._batch(batch, pending.popleft(), bulk.return_exceptions))

        try:
            for start in range(0, len(paths), size):
                batch_paths = [path for _, path in paths[start : start + size]]
                pending.append(submit(read_many, batch_paths, self._fs))
                if len(pending) >= self.raw.threads:
                    await collect()
            while pending:
                await collect()
        finally:
            for future in pending:
                future.cancel()
        decoded = bulk.attempt(decode)
        for index, ((name, _), data) in enumerate(zip(paths, found, strict=True)):
            if isinstance(data, bytes):
                self._used(name)
                if data and data[0] == MAGIC_BYTE:
                    found[index] = await decoded(self, uris[index], data)
        return found

    async def _batch(
        self, uris: Sequence[str], future: Any, return_exceptions: bool
    ) -> list[Fetched]:
        try:
            return await future  # type: ignore[no-any-return]
        except OSError as exc:
            if not return_exceptions:
                raise self._error(exc, uris[0]) from exc
        return await map_list(capture(self._stored_or_none), uris, concurrency=len(uris))

    async def _stored_or_none(self, uri: str) -> bytes | None:
        try:
            return await self.get(uri, stored=True)
        except NotFoundInStore:
            return None

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the blob (`CompressedRange` if it is compressed); counts
        as a use."""
        data = await super().get_range(uri, start, end)
        self._used(self._path(uri)[0])
        return data

    async def _stored_range(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int
    ) -> bytes:
        try:
            return await self._run(uri, self._fs.read_range, where[1], first, last)  # type: ignore[no-any-return]
        except ops.PastEnd as exc:
            message = f"the blob has only {exc.size} bytes"
            raise InvalidRange(self, uri, start, end, message) from None

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        name, path = self._path(uri)
        check_chunk_size(chunk_size)
        file = await self._open(uri, path)
        try:
            self._used(name)
            while chunk := await self._run(uri, ops.read_chunk, file, chunk_size):
                yield chunk
        finally:
            file.close()  # releases the shared lock

    async def _open(self, uri: str, path: str) -> BinaryIO:
        future = self.raw._batcher.submit(open_shared, path, self._fs)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Opened after all? Close it, or its shared lock would keep the blob forever.
            future.add_done_callback(_close_opened)
            raise
        except OSError as exc:
            raise self._error(exc, uri) from exc

    async def exists(self, uri: str) -> bool:
        """Whether the blob is in the folder."""
        return await self._run(uri, self._fs.is_file, self._path(uri)[1])  # type: ignore[no-any-return]

    async def size(self, uri: str) -> int:
        """The blob's size."""
        return await self._run(uri, self._fs.file_size, self._path(uri)[1])  # type: ignore[no-any-return]

    async def head(self, uri: str) -> ObjectMeta:
        """The file's size, modification time, an ETag derived from its status, and the
        attributes stored with it."""
        found, attrs = await self._run(uri, self._fs.described_status, self._path(uri)[1])
        return stat_meta(found, attrs)

    async def _size_many(
        self, uris: UriSource, bulk: Bulk
    ) -> dict[str, int | BaseException | None]:
        """Sizes of many blobs; a list of URIs is looked up in batches (see `_stat_many`)."""
        return await self._by_status(_size, super()._size_many, uris, bulk)

    async def _head_many(
        self, uris: UriSource, bulk: Bulk
    ) -> dict[str, ObjectMeta | BaseException | None]:
        """Metas of many blobs; a list of URIs is looked up in batches (see `_stat_many`)."""
        return await self._by_status(stat_meta, super()._head_many, uris, bulk)

    async def _by_status(
        self,
        answer: Callable[[os.stat_result], T],
        otherwise: Callable[[UriSource, Bulk], Awaitable[dict[str, T | BaseException | None]]],
        uris: UriSource,
        bulk: Bulk,
    ) -> dict[str, T | BaseException | None]:
        """``{uri: answer(status)}`` from `_stat_many`, or, for input it does not batch, what
        ``otherwise`` (the one-at-a-time lookup) answers."""
        found = await self._stat_many(uris, bulk)
        if found is None:
            return await otherwise(uris, bulk)
        return {uri: answer(st) if isinstance(st, os.stat_result) else st for uri, st in found}

    async def _stat_many(
        self, uris: UriSource, bulk: Bulk
    ) -> list[tuple[str, os.stat_result | BaseException | None]] | None:
        """``(uri, status or None)`` for a list of URIs, None for any other input.

        As `_get_many` reads: one worker-thread job per batch of URIs, at most one batch per
        thread at a time. A batch that fails is looked up again one URI at a time, so the
        error is raised (or, with ``return_exceptions``, kept) for its own URI.
        """
        if bulk.progress or isinstance(uris, str) or not isinstance(uris, Sequence):
            return None
        try:
            paths = [self._path(uri)[1] for uri in uris]
        except (TypeError, InvalidURI):
            if not bulk.return_exceptions:
                raise
            return None  # one URI at a time, so a bad one fails alone
        size = min(64, bulk.concurrency)
        status = bulk.attempt(self._status)

        async def batch(start: int) -> list[os.stat_result | BaseException | None]:
            future = self.raw._batcher.submit(stat_many, paths[start : start + size], self._fs)
            try:
                return await future  # type: ignore[return-value]
            except OSError:
                batch_uris = uris[start : start + size]
                return await map_list(status, batch_uris, concurrency=len(batch_uris))

        starts = range(0, len(paths), size)
        parts = await map_list(batch, starts, concurrency=self.raw.threads)
        return list(zip(uris, (found for part in parts for found in part), strict=True))

    async def _status(self, uri: str) -> os.stat_result | None:
        try:
            return await self._run(uri, self._fs.regular_status, self._path(uri)[1])  # type: ignore[no-any-return]
        except NotFoundInStore:
            return None

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """The URIs starting with ``prefix``, sorted (from the folder, not the index).

        With ``flat``, one level of them (names and sub-prefixes ending in ``/``).
        """
        prefix = self._list_prefix(prefix)
        found = await self._run(prefix, scan, self.folder, prefix[len(self.prefix) :], self._fs)
        uris = [self.prefix + name for name, _, _ in found]
        for uri in cut_level(uris, prefix) if flat else sorted(uris):
            yield uri

    # -- writes ---------------------------------------------------------------------------------

    async def _put_stored(self, uri: str, where: Any, data: PutData, attrs: PutAttrs) -> None:
        """Write the blob atomically, then evict least-recently used blobs to fit. Sizes and
        ``max_bytes`` count the stored (compressed) bytes.

        Raises:
            StoreFull: the blob is bigger than ``max_bytes``, or does not fit and ``evict``
                is false, or the disk is full.
        """
        name, path = where
        fsync = self.raw.fsync
        with self.raw._created(uri):
            if isinstance(data, (bytes, bytearray, memoryview)):
                size = memoryview(data).nbytes
                self._check_fits(uri, size)
                record = self._record(name, size)
                outcome = await self._checked(
                    uri, write_and_settle, self._index, self._fs, path, data, fsync, record, attrs
                )
            else:
                capped = Capped(data, self.max_bytes, lambda size: self._too_big(uri, size))
                try:
                    outcome = await self.raw._write_stream(
                        uri,
                        self._fs,
                        path,
                        capped,
                        lambda: (
                            settle,
                            (self._index, fsync, self._record(name, capped.size), attrs),
                        ),
                    )
                except NoRoom as exc:
                    raise self._no_room(uri, exc) from None
        self.evictions += outcome[0]
        self.used_bytes = outcome[1]

    def _now(self, name: str) -> float:
        now = time.time()
        self._uses.remember(name, now)
        return now

    def _record(self, name: str, size: int) -> tuple[Any, ...]:
        return (name, size, self._now(name), self._uses.take(), self.evict)

    def _too_big(self, uri: str, size: int) -> StoreFull:
        return StoreFull(self, uri, f"{size} bytes exceed max_bytes={self.max_bytes}")

    def _check_fits(self, uri: str, size: int) -> None:
        if size > self.max_bytes:
            raise self._too_big(uri, size)

    def _no_room(self, uri: str, exc: NoRoom) -> StoreFull:
        return StoreFull(self, uri, f"no room without evicting: {exc}")

    async def _checked(self, uri: str, fn: Any, *args: Any) -> tuple[int, int]:
        try:
            return await self._run(uri, fn, *args, writing=True)  # type: ignore[no-any-return]
        except NoRoom as exc:
            raise self._no_room(uri, exc) from None

    async def delete(self, uri: str) -> None:
        """Remove the blob and its index entry."""
        name, _ = self._path(uri)
        await self._run(uri, self._index.remove, name)

    async def aclose(self) -> None:
        """Write pending recency, close the index connection and the worker threads."""
        await self.flush()
        await self._run(self.prefix, self._index.close)
        await self.raw.aclose()


def _close_opened(future: asyncio.Future[BinaryIO]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _size(status: os.stat_result) -> int:
    return status.st_size
