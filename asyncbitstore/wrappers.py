"""Tier wrappers: [`Small`][asyncbitstore.wrappers.Small] takes only small blobs,
[`Fanout`][asyncbitstore.wrappers.Fanout] spills over stores.

Both speak the optional *declines* protocol: ``store.declines(uri, size)`` is true when a
write of ``size`` bytes would certainly be refused with
[`StoreFull`][asyncbitstore.errors.StoreFull]. A chain filling caches can ask it first and skip the
fill quietly, rather than count and log a failure for a blob the tier was never meant to hold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ._core.checks import non_negative_int
from ._core.data import PutData, as_bytes, check_put_data
from ._core.put_attrs import PLAIN, PutAttrs, PutOptions
from .compression.store_io import check_options, put_options, stored_flag, stored_option
from .errors import InvalidURI, NotFoundInStore, StoreFull, StoreNotAvailable
from .meta import ObjectMeta
from .store import Store

__all__ = ["Fanout", "Small", "declines"]

R = TypeVar("R")


def declines(store: Store, uri: str, size: int) -> bool:
    """Whether ``store`` says it would refuse ``size`` bytes at ``uri`` (False: cannot tell)."""
    check = getattr(store, "declines", None)
    return bool(check(uri, size)) if check is not None else False


def _writer(store: Store) -> Callable[..., Awaitable[None]]:
    """The put that raises: caches (``HashCache``) hide failures in ``put``."""
    return getattr(store, "put_or_raise", store.put)


def _size_of(data: PutData) -> int | None:
    return len(memoryview(data)) if isinstance(data, (bytes, bytearray, memoryview)) else None


class _Forwarding(Store):
    """A store that passes every call on to another, `_inner`, after `_before` (a no-op here).

    The base of the wrappers that change only some calls (`Small`; the testing
    `FaultyStore`, whose `_before` injects faults). `is_valid`, `list` and `uri_hint` are
    the inner store's, with no `_before`.
    """

    @property
    def _inner(self) -> Store:
        raise NotImplementedError

    async def _before(self, uri: object) -> None:
        """Called before each call on a blob, with its URI."""

    @property
    def uri_hint(self) -> str | None:  # type: ignore[override]
        return self._inner.uri_hint

    def is_valid(self, uri: str) -> bool:
        """Whether the inner store accepts ``uri``."""
        return self._inner.is_valid(uri)

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The inner store's ``get``."""
        stored = stored_flag(stored, raw)
        await self._before(uri)
        return await self._inner.get(uri, **stored_option(stored))

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """The inner store's ``get_range``."""
        await self._before(uri)
        return await self._inner.get_range(uri, start, end)

    async def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """The inner store's ``get_ranges``."""
        await self._before(uri)
        return await self._inner.get_ranges(uri, ranges)

    def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """The inner store's ``stream`` (no `_before`: a subclass with one overrides this)."""
        return self._inner.stream(uri, chunk_size, **stored_option(stored))

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
        """The inner store's ``put``."""
        await self._before(uri)
        await self._inner.put(uri, data, **put_options(compress, level, stored, attrs))

    async def exists(self, uri: str) -> bool:
        """The inner store's ``exists``."""
        await self._before(uri)
        return await self._inner.exists(uri)

    async def size(self, uri: str) -> int:
        """The inner store's ``size``."""
        await self._before(uri)
        return await self._inner.size(uri)

    async def head(self, uri: str) -> ObjectMeta:
        """The inner store's ``head``."""
        await self._before(uri)
        return await self._inner.head(uri)

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The inner store's ``get_with_meta``."""
        await self._before(uri)
        return await self._inner.get_with_meta(uri)

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """The inner store's ``get_if_changed``."""
        await self._before(uri)
        return await self._inner.get_if_changed(uri, known)

    async def delete(self, uri: str) -> None:
        """The inner store's ``delete``."""
        await self._before(uri)
        await self._inner.delete(uri)

    def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """The inner store's ``list``."""
        return self._inner.list(prefix, flat)

    async def aclose(self) -> None:
        """Close the inner store."""
        await self._inner.aclose()


class Small(_Forwarding):
    """A tier that takes only blobs of at most ``max_size`` bytes; reads pass straight through.

    Args:
        store: the wrapped store.
        max_size: the largest blob written to it, in bytes.

    ``put`` of a bigger blob raises [`StoreFull`][asyncbitstore.errors.StoreFull] (a clear error
    when used directly; a chain can ask [`declines`][asyncbitstore.wrappers.declines] first and
    skip the fill quietly).
    A streaming put is buffered up to ``max_size`` bytes, so the store never receives part of a
    large blob.
    """

    def __init__(self, store: Store, max_size: int) -> None:
        if not isinstance(store, Store):
            raise TypeError(f"store must be a Store, not {type(store).__name__}")
        self.store = store
        self.max_size = non_negative_int("max_size", max_size)

    @property
    def name(self) -> str:
        return f"Small({self.store.name}, max_size={self.max_size})"

    @property
    def _inner(self) -> Store:
        return self.store

    def declines(self, uri: str, size: int) -> bool:
        """Whether a blob of ``size`` bytes is too big for this tier."""
        return size > self.max_size

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
        """Write ``data`` if it is at most ``max_size`` bytes (counted as given, before any
        compression: the same figure [`declines`][asyncbitstore.wrappers.declines] is asked about).

        Raises:
            StoreFull: the blob is bigger than ``max_size``.
        """
        await self._write(self.store.put, uri, data, PutOptions(compress, level, stored, attrs))

    async def _put_or_raise(self, uri: str, data: PutData, options: PutOptions) -> None:
        """``put`` through the wrapped store's raising put (for chains filling caches)."""
        await self._write(_writer(self.store), uri, data, options)

    async def _write(
        self, put: Callable[..., Awaitable[None]], uri: str, data: PutData, options: PutOptions
    ) -> None:
        check_options(options.compress, options.level, options.stored)
        self.check_uri(uri)
        check_put_data(data)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            data = await self._buffer(uri, data)
        if len(memoryview(data)) > self.max_size:
            raise self._too_big(uri, f"{len(memoryview(data))} bytes")
        await put(uri, data, **options.keywords())

    async def _buffer(self, uri: str, chunks: Any) -> bytes:
        buffer = bytearray()
        async for chunk in chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"async iterable yielded {type(chunk).__name__}, expected bytes")
            buffer += chunk
            if len(buffer) > self.max_size:
                raise self._too_big(uri, "the stream")
        return bytes(buffer)

    def _too_big(self, uri: str, what: str) -> StoreFull:
        return StoreFull(self, uri, f"{what} exceed max_size={self.max_size} bytes")


class Fanout(Store):
    """Several stores as one: writes go to the first that takes them, reads look in all.

    Args:
        stores: in order of preference.

    ``put`` tries each store that accepts the URI and does not `decline <declines>` the
    size; a store raising [`StoreFull`][asyncbitstore.errors.StoreFull] (a full disk, a tier at its
    bound, a [`Small`][asyncbitstore.wrappers.Small] tier) passes the write to the next. Having
    written to one store,
    it deletes the URI from the stores before it, which would otherwise shadow the new blob
    with an old one. A streaming put is buffered in memory, so it can be offered to the next
    store when one refuses it midway.

    ``get``, ``get_range``, ``stream``, ``size`` and ``exists`` ask the stores in order; a store
    that fails is skipped, and when no store has the blob,
    [`StoreNotAvailable`][asyncbitstore.wrappers.StoreNotAvailable] is raised
    if any failed (not [`NotFoundInStore`][asyncbitstore.wrappers.NotFoundInStore]). ``delete``
    deletes from every store;
    ``list`` merges the listings.
    """

    def __init__(self, *stores: Store) -> None:
        if not stores:
            raise ValueError("Fanout needs at least one store")
        for store in stores:
            if not isinstance(store, Store):
                raise TypeError(f"every store must be a Store, not {type(store).__name__}")
        self.stores = stores

    @property
    def name(self) -> str:
        return f"Fanout({', '.join(s.name for s in self.stores)})"

    @property
    def uri_hint(self) -> str:  # type: ignore[override]
        return " or ".join(str(s.uri_hint) for s in self.stores)

    def is_valid(self, uri: str) -> bool:
        """Whether any of the stores accepts ``uri``."""
        return any(store.is_valid(uri) for store in self.stores)

    def declines(self, uri: str, size: int) -> bool:
        """Whether every store that accepts ``uri`` declines ``size`` bytes."""
        return all(declines(s, uri, size) for s in self.stores if s.is_valid(uri))

    def _for(self, uri: object) -> list[Store]:
        self.check_uri(uri)
        return [store for store in self.stores if store.is_valid(uri)]  # type: ignore[arg-type]

    async def _first(self, uri: str, call: Callable[[Store], Awaitable[R]]) -> R:
        failures: list[str] = []
        for store in self._for(uri):
            try:
                return await call(store)
            except NotFoundInStore:
                continue
            except StoreNotAvailable as exc:
                failures.append(str(exc))
        if failures:
            raise StoreNotAvailable(self, "; ".join(failures), uri=uri)
        raise NotFoundInStore(self, uri)

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        """The blob from the first store that has it (its stored form with ``stored``)."""
        stored = stored_flag(stored, raw)
        return await self._first(uri, lambda s: s.get(uri, **stored_option(stored)))

    async def get_range(self, uri: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` from the first store that has the blob."""
        return await self._first(uri, lambda s: s.get_range(uri, start, end))

    async def get_ranges(self, uri: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Bytes of each range, all from the first store that has the blob."""
        return await self._first(uri, lambda s: s.get_ranges(uri, ranges))

    async def size(self, uri: str) -> int:
        """The size from the first store that has the blob."""
        return await self._first(uri, lambda s: s.size(uri))

    async def head(self, uri: str) -> ObjectMeta:
        """The meta from the first store that has the blob."""
        return await self._first(uri, lambda s: s.head(uri))

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        """The blob and its meta from the first store that has it."""
        return await self._first(uri, lambda s: s.get_with_meta(uri))

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        """``get_if_changed`` of the first store that has the blob."""
        if not isinstance(known, ObjectMeta):
            raise TypeError(f"known must be an ObjectMeta, not {type(known).__name__}")
        return await self._first(uri, lambda s: s.get_if_changed(uri, known))

    async def exists(self, uri: str) -> bool:
        """Whether any store has the blob."""
        try:
            return await self._first(uri, self._exists(uri))
        except NotFoundInStore:
            return False

    @staticmethod
    def _exists(uri: str) -> Callable[[Store], Awaitable[bool]]:
        async def ask(store: Store) -> bool:
            if await store.exists(uri):
                return True
            raise NotFoundInStore(store, uri)

        return ask

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        """The blob in chunks from the first store that has it (the stored form with
        ``stored``)."""
        failures: list[str] = []
        for store in self._for(uri):
            chunks = store.stream(uri, chunk_size, **stored_option(stored))
            try:
                first = await anext(chunks, None)
            except (NotFoundInStore, StoreNotAvailable) as exc:
                await chunks.aclose()  # type: ignore[attr-defined]
                if isinstance(exc, StoreNotAvailable):
                    failures.append(str(exc))
                continue
            try:
                if first is not None:
                    yield first
                    async for chunk in chunks:
                        yield chunk
            finally:
                await chunks.aclose()  # type: ignore[attr-defined]
            return
        if failures:
            raise StoreNotAvailable(self, "; ".join(failures), uri=uri)
        raise NotFoundInStore(self, uri)

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
        """Write to the first store that takes the blob (compressed with ``compress``, which
        each store applies; sizes offered to [`declines`][asyncbitstore.wrappers.declines] are the
        data's as given).

        Raises:
            StoreFull: every store refused it for lack of room.
        """
        await self._put_or_raise(uri, data, PutOptions(compress, level, stored, attrs))

    async def _put_or_raise(self, uri: str, data: PutData, options: PutOptions) -> None:
        """The same write as `_put`: every store's raising put is used either way."""
        stores = self._for(uri)
        check_put_data(data)
        check_options(options.compress, options.level, options.stored)
        keywords = options.keywords()
        if not isinstance(data, (bytes, bytearray, memoryview)) and len(stores) > 1:
            data = await as_bytes(data)
        size = _size_of(data)
        refusals: list[str] = []
        for index, store in enumerate(stores):
            if size is not None and declines(store, uri, size):
                refusals.append(f"{store.name} declines {size} bytes")
                continue
            try:
                await _writer(store)(uri, data, **keywords)
            except StoreFull as exc:
                refusals.append(str(exc))
                continue
            for earlier in stores[:index]:
                await earlier.delete(uri)
            return
        raise StoreFull(self, uri, "no store has room: " + "; ".join(refusals))

    async def delete(self, uri: str) -> None:
        """Delete the blob from every store."""
        for store in self._for(uri):
            await store.delete(uri)

    async def list(self, prefix: str = "", flat: bool = False) -> AsyncIterator[str]:
        """The URIs listed by any store under ``prefix``, sorted, without repeats.

        With ``flat``, the union of the stores' flat listings (names and sub-prefixes).

        Stores that cannot list, or whose URIs never start with ``prefix``, are left out; if
        no store can list ``prefix``, the last store's error is raised.
        """
        found: set[str] = set()
        error: Exception | None = None
        listed = False
        for store in self.stores:
            try:
                found.update([uri async for uri in store.list(prefix, flat)])
            except (InvalidURI, NotImplementedError) as exc:
                error = exc
                continue
            listed = True
        if not listed and error is not None:
            raise error
        for uri in sorted(found):
            yield uri

    async def aclose(self) -> None:
        """Close every store."""
        for store in self.stores:
            await store.aclose()
