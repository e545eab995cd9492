"""Any store or chain behind obspec's async protocols: `ObspecStore`.

[obspec](https://developmentseed.org/obspec/) describes object stores by small protocols
(`GetAsync`, `GetRangeAsync`, `GetRangesAsync`, `PutAsync`, `DeleteAsync`, `HeadAsync`,
`ListAsync`, `ListWithDelimiterAsync`, `CopyAsync`, `RenameAsync`); code written against them
(obstore's users, zarr, VirtualiZarr) then accepts an asyncbitstore chain:

```python
from asyncbitstore.obspec import ObspecStore

obs = ObspecStore(chain)  # a chain of named tiers: paths are names
raw = ObspecStore(S3Raw(), "s3://bucket/data/")  # a raw store: paths are URIs under the prefix
data = await (await obs.get_async("img/1.png")).buffer_async()
```

Install the protocols for type checking with ``pip install 'asyncbitstore[obspec]'``; nothing
here needs obspec at run time.

What differs from obstore's own stores:

- `get_async` reads the whole object (or the range asked for) before it returns; iterating the
  result yields that data in slices of at most 8 MiB.
- Conditional and versioned reads (``if_match``, ``if_none_match``, ``if_modified_since``,
  ``if_unmodified_since``, ``version``), a version update on `put_async`,
  ``attributes``, ``tags`` and ``overwrite=False`` raise `NotImplementedError`: this wrapper
  never pretends to honour a condition it cannot check atomically.
- ``use_multipart``, ``chunk_size`` and ``max_concurrency`` are accepted and ignored: the
  wrapped store decides how it uploads. `put_async` answers ``e_tag`` and ``version`` as None.
- `list_async` asks `head_many` for each page of names it lists (the store's `list` gives names
  only), so each listed object costs a metadata lookup. ``last_modified`` is None where the
  store does not know it.
"""

from __future__ import annotations

import asyncio
import builtins
import io
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from ._core import bulk
from ._core.data import PutData
from .errors import InvalidRange
from .meta import ObjectMeta
from .store import DEFAULT_CONCURRENCY, Store

if TYPE_CHECKING:
    from obspec import (
        Attributes,
        GetOptions,
        ListResult,
        PutMode,
        PutResult,
    )
    from obspec import ObjectMeta as ObspecMeta
    from typing_extensions import Buffer

__all__ = ["ObspecStore"]

#: The largest slice `get_async`'s result yields when iterated.
SLICE_SIZE = 8 << 20
#: How many names `list_async` looks up and yields at a time.
LIST_PAGE = 1000
_UNSUPPORTED_GET = ("if_match", "if_none_match", "if_modified_since", "if_unmodified_since")


class ObspecStore:
    """obspec's async object-store protocols over an asyncbitstore store or chain.

    Args:
        store: the store or chain; a chain of named tiers (`PrefixStore`, `PrefixCache`) or
            a raw store.
        prefix: prepended to every path (``""``, or a string ending in ``/``: a name prefix
            for a named chain, a URI prefix such as ``"s3://bucket/data/"`` for a raw store);
            listed paths come back without it.

    Raises:
        TypeError: ``store`` is not an asyncbitstore `Store`, or ``prefix`` not a str.
        ValueError: ``prefix`` is neither empty nor ends in ``/``.
    """

    def __init__(self, store: Store, prefix: str = "") -> None:
        if not isinstance(store, Store):
            raise TypeError(f"ObspecStore wraps an asyncbitstore Store, not {type(store).__name__}")
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        if prefix and not prefix.endswith("/"):
            raise ValueError(
                f"prefix {prefix!r} must be empty or end in '/' (for example {prefix + '/'!r})"
            )
        self.store = store
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"ObspecStore({self.store!r}, {self.prefix!r})"

    def _uri(self, path: str) -> str:
        return self.prefix + path

    def _meta(self, path: str, meta: ObjectMeta) -> ObspecMeta:
        # obspec types last_modified as a datetime; None says the store does not know it.
        return cast(
            "ObspecMeta",
            {
                "path": path,
                "last_modified": meta.last_modified,
                "size": meta.size,
                "e_tag": meta.etag,
                "version": meta.version,
            },
        )

    # -- reads --------------------------------------------------------------------------------

    async def get_async(self, path: str, *, options: GetOptions | None = None) -> GetResult:
        """The object at ``path`` (or the range in ``options``), with its metadata.

        Raises:
            NotFoundInStore: nothing at ``path``.
            InvalidRange: a malformed range.
            NotImplementedError: a conditional or versioned read.
        """
        options = options or {}
        for name in (*_UNSUPPORTED_GET, "version"):
            if options.get(name) is not None:
                raise NotImplementedError(
                    f"ObspecStore cannot honour the get option {name!r}: asyncbitstore stores "
                    "read the current object only; leave it out or use head_async to compare"
                )
        uri = self._uri(path)
        wanted = options.get("range")
        if options.get("head"):
            meta = await self.store.head(uri)
            return GetResult(self._meta(path, meta), meta, b"", (0, 0))
        if wanted is None:
            data, meta = await self.store.get_with_meta(uri)
            return GetResult(self._meta(path, meta), meta, data, (0, len(data)))
        meta = await self.store.head(uri)
        start, end = _bounds(self.store, uri, wanted, meta.size)
        data = await self.store.get_range(uri, start, end)
        return GetResult(self._meta(path, meta), meta, data, (start, start + len(data)))

    async def get_range_async(
        self, path: str, *, start: int, end: int | None = None, length: int | None = None
    ) -> bytes:
        """Bytes ``[start, end)`` (or ``length`` bytes from ``start``) of the object.

        Raises:
            InvalidRange: neither or both of ``end`` and ``length``, or a negative range.
            NotFoundInStore: nothing at ``path``.
        """
        uri = self._uri(path)
        return await self.store.get_range(uri, start, _end(self.store, uri, start, end, length))

    async def get_ranges_async(
        self,
        path: str,
        *,
        starts: Sequence[int],
        ends: Sequence[int] | None = None,
        lengths: Sequence[int] | None = None,
    ) -> Sequence[bytes]:
        """Several ranges of one object, in order, read concurrently.

        Raises:
            InvalidRange: neither or both of ``ends`` and ``lengths``, sequences of different
                lengths, or a negative range.
        """
        uri = self._uri(path)
        if (ends is None) == (lengths is None):
            raise InvalidRange(self.store, uri, 0, 0, "give exactly one of ends= and lengths=")
        others = ends if ends is not None else lengths
        assert others is not None
        if len(others) != len(starts):
            raise InvalidRange(
                self.store, uri, 0, 0, f"{len(starts)} starts but {len(others)} ends or lengths"
            )
        spans = [
            _span(self.store, uri, start, other, ends is not None)
            for start, other in zip(starts, others, strict=True)
        ]

        async def one(span: tuple[int, int]) -> bytes:
            return await self.store.get_range(uri, *span)

        return await bulk.map_list(one, spans, concurrency=DEFAULT_CONCURRENCY)

    async def head_async(self, path: str) -> ObspecMeta:
        """The object's metadata.

        Raises:
            NotFoundInStore: nothing at ``path``.
        """
        return self._meta(path, await self.store.head(self._uri(path)))

    # -- writes -------------------------------------------------------------------------------

    async def put_async(
        self,
        path: str,
        file: IO[bytes]
        | Path
        | bytes
        | Buffer
        | AsyncIterator[Buffer]
        | AsyncIterable[Buffer]
        | Iterator[Buffer]
        | Iterable[Buffer],
        *,
        attributes: Attributes | None = None,
        tags: dict[str, str] | None = None,
        mode: PutMode | None = None,
        use_multipart: bool | None = None,
        chunk_size: int = 5 << 20,
        max_concurrency: int = 12,
    ) -> PutResult:
        """Store ``file`` at ``path``, replacing what is there (``mode`` None or "overwrite"), or
        only where nothing is (``mode="create"``, as atomic as the backend makes it).

        ``file`` may be bytes-like, a `Path`, a binary file object, or a (sync or async)
        iterable of bytes-like chunks; files are read in ``chunk_size`` pieces.

        Raises:
            NotImplementedError: ``mode`` other than "overwrite" or "create", ``attributes`` or
                ``tags``.
            AlreadyExists: ``mode="create"`` and something is stored at ``path``.
            TypeError: ``file`` is none of the above.
        """
        for name, value in (("attributes", attributes), ("tags", tags)):
            if value:
                raise NotImplementedError(
                    f"ObspecStore cannot store {name} yet; put the object without them"
                )
        if mode not in (None, "overwrite", "create"):
            raise NotImplementedError(
                f"ObspecStore cannot write with mode={mode!r}; use 'overwrite' or 'create'"
            )
        size = chunk_size if isinstance(chunk_size, int) and chunk_size > 0 else 5 << 20
        await self.store.put(self._uri(path), _payload(file, size), mode=mode or "overwrite")
        return {"e_tag": None, "version": None}

    async def delete_async(self, paths: str | Sequence[str]) -> None:
        """Remove one object or several; missing ones are not an error."""
        if isinstance(paths, str):
            await self.store.delete(self._uri(paths))
            return
        await self.store.delete_many([self._uri(path) for path in paths])

    async def copy_async(self, from_: str, to: str, *, overwrite: bool = True) -> None:
        """Copy an object inside the store (server-side where the backend can).

        Raises:
            NotImplementedError: ``overwrite=False`` (it cannot be checked atomically).
        """
        _only_overwrite(overwrite, "copy")
        await self.store.copy(self._uri(from_), self._uri(to))

    async def rename_async(self, from_: str, to: str, *, overwrite: bool = True) -> None:
        """Move an object inside the store.

        Raises:
            NotImplementedError: ``overwrite=False`` (it cannot be checked atomically).
        """
        _only_overwrite(overwrite, "rename")
        await self.store.rename(self._uri(from_), self._uri(to))

    # -- listing ------------------------------------------------------------------------------

    def list_async(
        self, prefix: str | None = None, *, offset: str | None = None
    ) -> AsyncIterator[Sequence[ObspecMeta]]:
        """Pages of metadata of the objects under ``prefix`` (after ``offset`` if given)."""
        return self._pages(prefix or "", offset)

    async def _pages(self, prefix: str, offset: str | None) -> AsyncIterator[Sequence[ObspecMeta]]:
        page: builtins.list[str] = []
        cut = len(self.prefix)
        async for uri in self.store.list(self._uri(prefix)):
            if offset is None or uri[cut:] > offset:
                page.append(uri)
            if len(page) >= LIST_PAGE:
                yield await self._described(page)
                page = []
        if page:
            yield await self._described(page)

    async def _described(self, uris: builtins.list[str]) -> builtins.list[ObspecMeta]:
        metas = await self.store.head_many(uris)
        cut = len(self.prefix)
        # An object deleted between the listing and the lookup is left out.
        return [self._meta(uri[cut:], meta) for uri, meta in metas.items() if meta is not None]

    async def list_with_delimiter_async(
        self, prefix: str | None = None
    ) -> ListResult[Sequence[ObspecMeta]]:
        """The objects directly under ``prefix`` (a path segment) and the sub-prefixes below it.

        Common prefixes come back without a trailing ``/``, as obstore gives them.
        """
        base = prefix or ""
        if base and not base.endswith("/"):
            base += "/"
        cut = len(self.prefix)
        names: builtins.list[str] = []
        folders: builtins.list[str] = []
        async for uri in self.store.list(self._uri(base), flat=True):
            if uri.endswith("/"):
                folders.append(uri[cut:].rstrip("/"))
            else:
                names.append(uri)
        objects = await self._described(names) if names else []
        return {"common_prefixes": folders, "objects": objects}


class GetResult:
    """What `ObspecStore.get_async` answers: the data read, its range and its metadata."""

    def __init__(
        self, meta: ObspecMeta, store_meta: ObjectMeta, data: bytes, span: tuple[int, int]
    ) -> None:
        self._meta = meta
        self._store_meta = store_meta
        self._data = data
        self._range = span

    @property
    def attributes(self) -> Attributes:
        """The content type and user metadata the store keeps for the object."""
        found: Attributes = dict(self._store_meta.metadata)
        if self._store_meta.content_type is not None:
            found["Content-Type"] = self._store_meta.content_type
        return found

    async def buffer_async(self) -> bytes:
        """All the bytes read."""
        return self._data

    @property
    def meta(self) -> ObspecMeta:
        """The object's metadata."""
        return self._meta

    @property
    def range(self) -> tuple[int, int]:
        """``(start, stop)`` of the bytes read within the object."""
        return self._range

    async def __aiter__(self) -> AsyncIterator[bytes]:
        view = memoryview(self._data)
        for at in range(0, len(view), SLICE_SIZE):
            yield bytes(view[at : at + SLICE_SIZE])


def _end(store: Store, uri: str, start: int, end: int | None, length: int | None) -> int:
    if (end is None) == (length is None):
        raise InvalidRange(store, uri, start, end or 0, "give exactly one of end= and length=")
    if end is not None:
        return end
    assert length is not None
    return _span(store, uri, start, length, False)[1]


def _span(store: Store, uri: str, start: int, other: int, is_end: bool) -> tuple[int, int]:
    """``(start, end)`` from a start and an end, or a start and a length (not negative)."""
    if not is_end and (isinstance(other, bool) or not isinstance(other, int) or other < 0):
        raise InvalidRange(store, uri, start, start, f"length {other!r} must be an int >= 0")
    return start, other if is_end else start + other


def _bounds(store: Store, uri: str, wanted: Any, size: int) -> tuple[int, int]:
    """``(start, end)`` of an obspec range option for an object of ``size`` bytes."""
    if isinstance(wanted, dict):
        if "offset" in wanted:
            return int(wanted["offset"]), max(int(wanted["offset"]), size)
        if "suffix" in wanted:
            return max(0, size - int(wanted["suffix"])), size
    elif isinstance(wanted, Sequence) and len(wanted) == 2:
        return int(wanted[0]), int(wanted[1])
    raise InvalidRange(
        store, uri, 0, 0, f"range {wanted!r}: give (start, end), {{'offset': n}} or {{'suffix': n}}"
    )


def _only_overwrite(overwrite: bool, operation: str) -> None:
    if not overwrite:
        raise NotImplementedError(
            f"ObspecStore cannot {operation} with overwrite=False atomically; "
            "check head_async first if a race does not matter"
        )


def _payload(file: Any, chunk_size: int) -> PutData:
    """An obspec put's ``file`` as `Store.put` takes it (files read off the event loop)."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        return file
    return _chunks(file, chunk_size)


async def _chunks(file: Any, chunk_size: int) -> AsyncIterator[bytes]:
    if isinstance(file, Path):
        with await asyncio.to_thread(file.open, "rb") as handle:
            async for chunk in _read_file(handle, chunk_size):
                yield chunk
    elif isinstance(file, io.IOBase) or hasattr(file, "read"):
        async for chunk in _read_file(file, chunk_size):
            yield chunk
    elif isinstance(file, AsyncIterable):
        async for chunk in file:
            yield bytes(chunk)
    elif isinstance(file, Iterable):
        for chunk in file:
            yield bytes(chunk)
    else:
        try:
            yield bytes(memoryview(file))
        except TypeError:
            raise TypeError(
                f"put_async takes bytes-like data, a Path, a binary file or an iterable of "
                f"bytes-like chunks, not {type(file).__name__}"
            ) from None


async def _read_file(handle: Any, chunk_size: int) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(handle.read, chunk_size):
        yield bytes(chunk)
