"""``SqliteRaw``: many small blobs in one SQLite file, shared safely by processes on one machine.

URIs: a store on ``/var/cache/blobs.db`` answers for ``sqlite:///var/cache/blobs.db/<key>``,
that is ``sqlite://``, the database's absolute path, ``/``, then the key. A key is any
non-empty string without NUL characters (slashes are fine: ``list`` treats them as any other
character). ``store.uri(key)`` builds a URI and ``store.base`` is the common prefix:

    cache = SqliteRaw("/var/cache/blobs.db", max_bytes=2 << 30)
    chain.append_cache(Sha1Cache(cache, cache.uri("sha1/")))

The file holds one table of key → blob in WAL mode, so readers never wait for a writer and
several processes can use one file at once (writers wait for each other up to ``lock_timeout``).
Each blob is written by one ``INSERT OR REPLACE`` in its own transaction: readers see the old
blob or the new one, never a part, and a failed or cancelled put leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterable, AsyncIterator
from typing import IO, Any

from ..._core.checks import non_negative_int, positive_int
from ..._core.data import PutData, bytes_chunk, check_chunk_size
from ..._core.put_attrs import PutAttrs
from ..._core.renamed import NOT_GIVEN, renamed
from ...errors import AlreadyExists, InvalidRange, InvalidURI, NotFoundInStore, StoreFull
from ...listing import listed
from .._base import PrefixedRaw, check_str
from ._db import Database, Reader, Taken, Upkeep, prefix_end
from ._hops import Hops, Recency, close, error_for, now, open_spool, write_parts

__all__ = ["SqliteRaw"]

_SCHEME = "sqlite://"
_SPILL = 1 << 20  # a streaming put is kept in memory up to this, then spooled to a temp file
_PAGE = 1000  # keys per listing query


class SqliteRaw(PrefixedRaw):
    """Blobs as rows of one SQLite database file, for ``sqlite://<abs path>/<key>`` URIs.

    Args:
        path: the database file; created (with its table) on first use. Its folder must exist.
        max_bytes: when set, the blobs' total size is kept at or under it by evicting the
            least-recently used ones after each put. Reads count as uses; they are recorded
            in batches (every 512 reads or each second, and before each put), so recency is
            approximate across processes. A blob bigger than the bound raises
            [`StoreFull`][asyncbitstore.errors.StoreFull].
        lock_timeout: seconds a call waits for another connection's write lock (SQLite's busy
            timeout) before it fails with
            [`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable].
        fsync: commit with ``synchronous=FULL`` (survives power loss). By default
            ``synchronous=NORMAL``: every commit is still atomic and survives a crash of the
            process.
        mmap_size: bytes of the file read through a memory map rather than ``read()`` calls
            (SQLite's ``mmap_size``; fewer system calls per blob). ``0`` turns it off.
        threads: worker threads, each with its own connection.

    Every call runs off the event loop; concurrent calls are batched into shared thread hops.
    ``get_range`` cuts the slice inside SQLite (``substr``); ``stream`` reads a blob larger
    than one chunk through incremental blob I/O on a connection of its own, inside one read
    transaction, so it sees one version of the blob even if it is replaced meanwhile (Python
    3.10 has no incremental blob I/O and reads it with ``substr`` instead). A streaming ``put``
    is held in memory up to 1 MiB, beyond that in an unlinked temporary file beside the
    database, and written in one transaction at the end. ``list`` is an indexed range scan,
    sorted by key. The store pickles (without its connections); ``aclose()`` closes them.
    """

    _runtime_attrs = ("_db", "_hops", "_recency")
    _key_note = " (a non-empty key without NUL)"
    _renamed_attrs = (("timeout", "lock_timeout"),)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        lock_timeout: float = 30.0,
        fsync: bool = False,
        mmap_size: int = 1 << 30,
        threads: int = 2,
        timeout: Any = NOT_GIVEN,
    ) -> None:
        timeout = renamed("lock_timeout", lock_timeout, "timeout", timeout, 30.0)
        path = os.fspath(path)
        if not isinstance(path, str) or path in ("", ":memory:") or path.startswith("file:"):
            raise ValueError(f"path must name a database file, not {path!r}")
        non_negative_int("max_bytes", max_bytes, allow_none=True)
        non_negative_int("mmap_size", mmap_size)
        positive_int("threads", threads)
        self.path = os.path.abspath(path)
        self.base = f"{_SCHEME}{self.path}/"
        self.max_bytes = max_bytes
        self.lock_timeout = float(timeout)
        self.fsync = bool(fsync)
        self.mmap_size = mmap_size
        self.threads = threads
        self.evictions = 0
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._db = Database(
            self.path, timeout=self.lock_timeout, fsync=self.fsync, mmap_size=self.mmap_size
        )
        self._hops = Hops(self.threads, self._error, catch=(sqlite3.Error, OSError))
        self._recency = Recency(self._hops, self._db.touch)

    @property
    def name(self) -> str:
        return f"SqliteRaw({self.path!r})"

    # -- URIs, errors and thread hops -----------------------------------------------------------

    def _key_of(self, uri: str) -> str | None:
        base = self.base
        if len(uri) <= len(base) or not uri.startswith(base) or "\x00" in uri:
            return None
        key = uri[len(base) :]
        if not key.isascii():
            try:
                key.encode()
            except UnicodeEncodeError:  # lone surrogates cannot be stored as TEXT
                return None
        return key

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` is ``<base><key>`` for this database."""
        check_str(uri)
        return self._key_of(uri) is not None

    def _key(self, uri: object) -> str:
        key = self._key_of(uri) if isinstance(uri, str) else None
        if key is None:
            self.check_uri(uri)  # raises TypeError or InvalidURI
            raise AssertionError("unreachable")
        return key

    _locate = _key

    def _error(self, exc: BaseException, uri: str) -> BaseException:
        return error_for(self, exc, uri)

    def _touch(self, key: str) -> None:
        if self.max_bytes is not None:
            self._recency.touch(key)

    # -- reads ----------------------------------------------------------------------------------

    async def _get_stored(self, uri: str) -> bytes:
        key = self._key(uri)
        data = await self._hops.run(uri, self._db.get, key)
        if data is None:
            raise NotFoundInStore(self, uri)
        self._touch(key)
        return data  # type: ignore[no-any-return]

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)``, cut by SQLite's ``substr`` (the rest is not loaded); the
        blob's first bytes are read too, to refuse a compressed one (`CompressedRange`)."""
        data = await super().get_range(uri, start, end)
        self._touch(self._key(uri))
        return data

    async def _stored_range(
        self, uri: str, key: Any, start: int, end: int, first: int, last: int
    ) -> bytes:
        found = await self._hops.run(uri, self._db.get_range, key, first, last)
        if found is None:
            raise NotFoundInStore(self, uri)
        size, data = found
        if first > size:
            raise InvalidRange(self, uri, start, end, f"the blob has only {size} bytes")
        return data  # type: ignore[no-any-return]

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        """The blob in chunks; a blob larger than one chunk is read from a single snapshot."""
        key = self._key(uri)
        check_chunk_size(chunk_size)
        found = await self._hops.run(uri, self._db.peek, key, chunk_size)
        if found is None:
            raise NotFoundInStore(self, uri)
        self._touch(key)
        if found[1] is not None:  # small enough for one chunk: already read
            if found[1]:
                yield found[1]
            return
        reader: Reader | None = await self._hops.acquire(uri, close, self._db.open_reader, key)
        if reader is None:  # deleted since: still before the first chunk
            raise NotFoundInStore(self, uri)
        pending: asyncio.Future[Any] | None = None
        try:
            while True:
                pending = self._hops.submit(reader.read, chunk_size)
                chunk = await self._hops.checked(pending, uri)
                if not chunk:
                    return
                yield chunk
        finally:
            await asyncio.shield(self._hops.release_after(pending, reader.close))

    async def exists(self, uri: str) -> bool:
        """Whether a blob is stored at the key."""
        return await self._hops.run(uri, self._db.exists, self._key(uri))  # type: ignore[no-any-return]

    async def size(self, uri: str) -> int:
        """The blob's size (read from the row's header, not its bytes)."""
        size = await self._hops.run(uri, self._db.size, self._key(uri))
        if size is None:
            raise NotFoundInStore(self, uri)
        return size  # type: ignore[no-any-return]

    def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """Every URI that starts with ``prefix``, sorted, by pages of an indexed range scan.

        ``prefix`` is a URI prefix (``store.uri("logs/")``); one that is a prefix of
        ``store.base`` (``""`` included) lists the whole database. With ``flat``, one level of
        them (names and sub-prefixes ending in ``/``), sorted.
        """
        return listed(self._keys_prefix, self._pages, prefix, flat)

    def _keys_prefix(self, prefix: object) -> str:
        """`_list_prefix`, which must also be a valid start of a key."""
        prefix = self._list_prefix(prefix)
        if prefix != self.base and self._key_of(prefix) is None:
            raise InvalidURI(self, prefix, self.uri_hint)
        return prefix

    async def _pages(self, prefix: str) -> AsyncIterator[str]:
        low = prefix[len(self.base) :]
        high = prefix_end(low)
        after: str | None = None
        while True:
            keys: list[str] = await self._hops.run(prefix, self._db.page, low, high, after, _PAGE)
            for key in keys:
                yield self.base + key
            if len(keys) < _PAGE:
                return
            after = keys[-1]

    async def used_bytes(self) -> int:
        """The total size of the stored blobs (kept by the database; no table scan)."""
        return await self._hops.run(self.base, self._db.total_bytes)  # type: ignore[no-any-return]

    # -- writes ---------------------------------------------------------------------------------

    def _check_fits(self, uri: str, size: int) -> None:
        if self.max_bytes is not None and size > self.max_bytes:
            raise StoreFull(self, uri, f"{size} bytes exceed max_bytes={self.max_bytes}")

    def _upkeep(self, create: bool) -> Upkeep:
        """A write's upkeep as of now: the reads to record and the bound to evict down to."""
        return Upkeep(now(), self._recency.take(), self.max_bytes, create)

    async def _put_stored(self, uri: str, key: Any, data: PutData, attrs: PutAttrs) -> None:
        """Store the stored form at the key in one transaction (``INSERT OR REPLACE``, or
        for ``mode="create"`` a plain ``INSERT``, atomic); ``max_bytes`` counts stored bytes.
        The attributes (content type, cache control, metadata) are not kept."""
        create = attrs.create
        try:
            if isinstance(data, (bytes, bytearray, memoryview)):
                self._check_fits(uri, memoryview(data).nbytes)
                evicted = await self._hops.run(uri, self._db.put, key, data, self._upkeep(create))
            else:
                evicted = await self._put_stream(uri, key, data, create)
        except Taken:
            raise AlreadyExists(self, uri) from None
        self.evictions += evicted

    async def _put_stream(
        self, uri: str, key: str, data: AsyncIterable[bytes], create: bool
    ) -> int:
        parts: list[bytes] = []
        size = 0
        spool: IO[bytes] | None = None
        last: asyncio.Future[Any] | None = None
        try:
            async for chunk in data:
                parts.append(bytes(bytes_chunk(chunk)))
                size += len(parts[-1])
                self._check_fits(uri, size)
                if size > _SPILL:
                    if spool is None:
                        folder = os.path.dirname(self.path)
                        spool = await self._hops.acquire(uri, close, open_spool, folder)
                    last = self._hops.submit(write_parts, spool, parts)
                    parts = []
                    await self._hops.checked(last, uri)
            upkeep = self._upkeep(create)
            if spool is None:
                evicted: int = await self._hops.run(uri, self._db.put, key, b"".join(parts), upkeep)
                return evicted
            last = self._hops.submit(self._db.put_file, key, spool, size, upkeep)
            evicted = await self._hops.checked(last, uri)
            return evicted
        finally:
            if spool is not None:
                await asyncio.shield(self._hops.release_after(last, spool.close))

    async def delete(self, uri: str) -> None:
        """Remove the blob if it is there."""
        await self._hops.run(uri, self._db.delete, self._key(uri))

    # -- lifecycle ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Record pending reads, close every connection and stop the worker threads.

        The store stays usable: the next call opens new connections.
        """
        try:
            await self._recency.flush(self.base)
            await self._hops.submit(self._db.close)
        finally:
            self._hops.close()
