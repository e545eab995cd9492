"""Zarr v3 arrays and groups kept in any asyncbitstore store or chain: `BitstoreStore`.

Install with ``pip install 'asyncbitstore[zarr]'`` (zarr 3 needs Python 3.11 or later).

```python
import zarr
from asyncbitstore import Composite, FileRaw, MemoryRaw, PrefixCache, PrefixStore
from asyncbitstore.zarr import BitstoreStore

chain = Composite()
chain.append_cache(PrefixCache(MemoryRaw(), "mem://hot/"), name="memory")
chain.append_source(PrefixStore(FileRaw(), "/data/arrays/"), write=True, cache_result=True)
array = zarr.create_array(BitstoreStore(chain, "temperature/"), shape=(100, 100), dtype="f4")
```

A zarr key (``"zarr.json"``, ``"c/0/1"``) is stored at ``prefix + key``. Over a chain of
`PrefixStore`/`PrefixCache` tiers the prefix is a name prefix (``""``, or ``"temperature/"``),
and every tier keeps the array under its own root. Over a raw store the prefix is a URI of that
store (``"s3://bucket/arrays/t/"``, ``"mem://z/"``), and keys become URIs under it.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

try:
    from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, SuffixByteRequest
    from zarr.abc.store import Store as ZarrStore
    from zarr.core.buffer import Buffer, BufferPrototype
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError("asyncbitstore.zarr needs zarr 3: pip install 'asyncbitstore[zarr]'") from exc

from ._core import bulk
from .errors import AlreadyExists, CompressedRange, InvalidRange, NotFoundInStore
from .store import DEFAULT_CONCURRENCY, Store

__all__ = ["BitstoreStore"]

_ONE_LEVEL = "/"


class BitstoreStore(ZarrStore):
    """A zarr v3 store whose keys live in an asyncbitstore store or chain.

    Reads go through the chain as any other read: caches answer first and are filled from the
    sources. Byte ranges are served with `Store.get_range` (a suffix or open-ended range asks
    for the object's size first, one extra request). A blob stored compressed by this library
    is read whole and sliced, since offsets into its stored form are not the data's.

    `set_if_not_exists` writes with ``mode="create"``: of writers racing on one key, one wins
    (atomically on memory, files, S3, GCS, Azure, Redis and SQLite). `close` does not close the
    wrapped store: whoever built it closes it (``await chain.aclose()``).

    Two `BitstoreStore` objects are equal when they have the same prefix and mode and wrap the
    same store object or, as after pickling, stores of the same class and description.

    Args:
        store: the store or chain holding the keys; a chain of named tiers (`PrefixStore`,
            `PrefixCache`) or a raw store.
        prefix: prepended to every zarr key: ``""`` or a string ending in ``/`` (a name
            prefix for a named chain, a URI prefix such as ``"s3://bucket/arrays/"`` for a raw
            store).
        read_only: refuse `set`, `delete` and the other writes (zarr's ``ValueError``).

    Raises:
        TypeError: ``store`` is not an asyncbitstore `Store`, or ``prefix`` not a str.
        ValueError: ``prefix`` is neither empty nor ends in ``/``.
    """

    supports_writes: bool = True
    supports_deletes: bool = True
    supports_listing: bool = True

    def __init__(self, store: Store, prefix: str = "", *, read_only: bool = False) -> None:
        if not isinstance(store, Store):
            raise TypeError(
                f"BitstoreStore wraps an asyncbitstore Store, not {type(store).__name__}"
            )
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        if prefix and not prefix.endswith(_ONE_LEVEL):
            raise ValueError(
                f"prefix {prefix!r} must be empty or end in '/' (for example {prefix + '/'!r})"
            )
        super().__init__(read_only=read_only)
        self._store = store
        self._prefix = prefix

    @property
    def store(self) -> Store:
        """The wrapped asyncbitstore store or chain."""
        return self._store

    @property
    def prefix(self) -> str:
        """What is prepended to every zarr key."""
        return self._prefix

    def with_read_only(self, read_only: bool = False) -> BitstoreStore:
        """The same store and prefix with another mode (not opened)."""
        return type(self)(self._store, self._prefix, read_only=read_only)

    def __repr__(self) -> str:
        return f"BitstoreStore({self._store!r}, {self._prefix!r}, read_only={self.read_only})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BitstoreStore):
            return False
        mine, theirs = self._store, other._store
        same = mine is theirs or (type(mine) is type(theirs) and repr(mine) == repr(theirs))
        return same and self._prefix == other._prefix and self.read_only == other.read_only

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_is_open"] = False  # the copy opens on first use, as a new store does
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- reads --------------------------------------------------------------------------------

    def _uri(self, key: str) -> str:
        return self._prefix + key

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """The value at ``key`` (or a byte range of it); None when nothing is stored there.

        Raises:
            TypeError: ``byte_range`` is not one of zarr's `ByteRequest` types.
            InvalidRange: a negative offset, suffix or range bound, or an end before the start.
        """
        await self._ensure_open()
        try:
            data = await self._read(self._uri(key), byte_range)
        except NotFoundInStore:
            return None
        buffer: Buffer = prototype.buffer.from_bytes(data)
        return buffer

    async def _read(self, uri: str, byte_range: ByteRequest | None) -> bytes:
        if byte_range is None:
            return await self._store.get(uri)
        if isinstance(byte_range, RangeByteRequest):
            start, end = byte_range.start, byte_range.end
            _check_bounds(uri, start, end)
        elif isinstance(byte_range, OffsetByteRequest):
            start = byte_range.offset
            _check_bounds(uri, start, start)
            end = max(start, await self._store.size(uri))
        elif isinstance(byte_range, SuffixByteRequest):
            _check_bounds(uri, 0, byte_range.suffix)
            # The stored size may count a header the data lacks: the answer is checked below.
            end = await self._store.size(uri)
            start = max(0, end - byte_range.suffix)
        else:
            raise TypeError(
                f"Unexpected byte_range, got {byte_range!r}: give a RangeByteRequest, "
                "OffsetByteRequest or SuffixByteRequest from zarr.abc.store, or None"
            )
        try:
            data = await self._store.get_range(uri, start, end)
        except InvalidRange as exc:
            suffix = isinstance(byte_range, SuffixByteRequest)
            if not suffix and not isinstance(exc, CompressedRange):
                return b""  # the range starts past the end: nothing there, as a slice would say
            return _cut(await self._store.get(uri), byte_range)
        if isinstance(byte_range, SuffixByteRequest) and len(data) != end - start:
            return _cut(await self._store.get(uri), byte_range)
        return data

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> builtins.list[Buffer | None]:
        """The values (or byte ranges) of several keys, in order; None for a missing key."""

        async def one(pair: tuple[str, ByteRequest | None]) -> Buffer | None:
            return await self.get(pair[0], prototype, pair[1])

        return await bulk.map_list(one, builtins.list(key_ranges), concurrency=DEFAULT_CONCURRENCY)

    async def _get_many(
        self, requests: Iterable[tuple[str, BufferPrototype, ByteRequest | None]]
    ) -> AsyncGenerator[tuple[str, Buffer | None], None]:
        items = builtins.list(requests)

        async def one(item: tuple[str, BufferPrototype, ByteRequest | None]) -> Buffer | None:
            return await self.get(*item)

        found = await bulk.map_list(one, items, concurrency=DEFAULT_CONCURRENCY)
        for (key, _, _), value in zip(items, found, strict=True):
            yield key, value

    async def exists(self, key: str) -> bool:
        """Whether a value is stored at ``key``."""
        return await self._store.exists(self._uri(key))

    async def getsize(self, key: str) -> int:
        """The size of the value at ``key`` in bytes (its stored size, as `Store.size` says).

        Raises:
            FileNotFoundError: nothing is stored at ``key`` (what zarr expects).
        """
        try:
            return await self._store.size(self._uri(key))
        except NotFoundInStore as exc:
            raise FileNotFoundError(key) from exc

    # -- writes -------------------------------------------------------------------------------

    async def set(self, key: str, value: Buffer) -> None:
        """Store ``value`` at ``key``, replacing what is there."""
        self._check_writable()
        await self._ensure_open()
        await self._store.put(self._uri(key), value.as_buffer_like())

    async def set_if_not_exists(self, key: str, value: Buffer) -> None:
        """Store ``value`` at ``key`` unless something is there: a ``put(mode="create")``, as
        atomic as the backend makes it (of concurrent writers, one wins)."""
        self._check_writable()
        with contextlib.suppress(AlreadyExists):
            await self._store.put(self._uri(key), value.to_bytes(), mode="create")

    async def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        self._check_writable()
        await self._store.delete(self._uri(key))

    # -- listing ------------------------------------------------------------------------------

    def list(self) -> AsyncIterator[str]:
        """Every key under this store's prefix."""
        return self.list_prefix("")

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        """Every key that starts with ``prefix``."""
        cut = len(self._prefix)
        async for uri in self._store.list(self._uri(prefix)):
            yield uri[cut:]

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        """The keys and sub-prefixes directly under the "directory" ``prefix``, without it."""
        if prefix and not prefix.endswith(_ONE_LEVEL):
            prefix += _ONE_LEVEL
        cut = len(self._uri(prefix))
        listing = self._store.list(self._uri(prefix), flat=True)
        try:
            async for uri in listing:
                name = uri[cut:].rstrip(_ONE_LEVEL)
                if name:
                    yield name
        finally:
            await listing.aclose()  # type: ignore[attr-defined]

    async def delete_dir(self, prefix: str) -> None:
        """Remove every key under the "directory" ``prefix``, several deletes at a time."""
        self._check_writable()
        if prefix and not prefix.endswith(_ONE_LEVEL):
            prefix += _ONE_LEVEL
        uris = [self._uri(key) async for key in self.list_prefix(prefix)]
        await self._store.delete_many(uris)


def _cut(
    data: bytes, byte_range: RangeByteRequest | OffsetByteRequest | SuffixByteRequest
) -> bytes:
    """The part of the whole value ``data`` that ``byte_range`` asks for."""
    if isinstance(byte_range, RangeByteRequest):
        return data[byte_range.start : byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return data[byte_range.offset :]
    return data[max(0, len(data) - byte_range.suffix) :]


def _check_bounds(uri: str, start: int, end: int) -> None:
    if start < 0 or end < start:
        raise InvalidRange(
            "BitstoreStore", uri, start, end, "need 0 <= start <= end, offsets and suffixes >= 0"
        )
