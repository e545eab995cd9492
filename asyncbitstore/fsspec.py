"""An fsspec file system over any store or chain: `BitstoreFileSystem`, protocol ``bitstore``.

Install with ``pip install 'asyncbitstore[fsspec]'``. The protocol is registered through the
``fsspec.specs`` entry point, so pandas, pyarrow, Dask, xarray and every other fsspec user can
read and write ``bitstore://`` URLs:

    fsspec.open("bitstore://img/1.png", config="bitstore.toml")  # a chain from a file
    fs = fsspec.filesystem("bitstore", store=chain)  # a chain (or any store) already built
    pandas.read_parquet("bitstore://tables/t.parquet", storage_options={"store": chain})

Paths. ``bitstore://`` is stripped and what follows is the store's own key, unchanged:

- over a named chain (`PrefixCache`/`PrefixStore` tiers, ``kind = "named"``) a path is a
  relative key: ``bitstore://img/1.png`` is the key ``img/1.png``;
- over a mirror chain or a raw store (keys are full URIs) the path is that URI:
  ``bitstore://s3://bucket/img/1.png`` is the key ``s3://bucket/img/1.png``.

A path the store rejects raises the store's `InvalidURI` with its hint. The empty path
(``bitstore://``) is the root directory of a named chain.

Directories. Stores have no folders: a directory is a prefix that some key continues with
``/``, as in S3. `mkdir` and `makedirs` do nothing, an empty directory cannot exist, and a
directory vanishes with its last file. `ls` reads one level through the store's flat listing;
`find` reads one recursive listing.

Files. `open` gives a random-access file. For an object smaller than ``whole_file_below`` bytes
(default 1 GiB; 0: never) the first read takes the object as a local file with `local_path`: a
fresh copy a local file tier already holds, else the whole object brought through the chain in
one streamed read that fills its caches (kept in a local file cache, or else as a temporary file
unlinked at once). Every read is then served from that file through a descriptor held until the
file object is closed: a snapshot, whole even if the copy is evicted or replaced meanwhile.
Bigger objects (and all of them with 0) are read through the chain range by range (`get_range`,
so caches and `fill_ranges_below` apply) and fsspec's ``cache_type`` choices ("readahead" by
default, "bytes", "blockcache", "none", ...) work.

Writes are streamed into one `put` while the file is written, in bounded memory
(``block_size`` bytes, default 5 MiB, plus two blocks in flight); the object appears when the
file is closed, whole. Leaving a ``with`` block on an exception abandons the write: nothing is
stored. Mode ``"xb"`` (and ``pipe_file(...,
mode="create")``) refuses to replace an existing object with `FileExistsError`, checked before
the write (not atomic against a concurrent writer); append (``"ab"``) is not supported.

Errors. A missing object is `FileNotFoundError` (the store's `NotFoundInStore` chained as
its cause); every other error is the library's own (`StoreNotAvailable`, `NotWritable`, ...).

Event loops. Used synchronously, fsspec runs the coroutines on its own event-loop thread and
the store creates its clients there. With ``asynchronous=True`` the file system is used from
the application's running loop (``await fs._cat_file(...)``), and the store's clients are those
of that loop. Instances built from ``store=`` are never shared through fsspec's instance cache
(two chains may look alike); those built from ``config=`` are, per configuration path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from fsspec.asyn import AsyncFileSystem, sync
from fsspec.caching import BaseCache
from fsspec.spec import AbstractBufferedFile

from .composite import Composite
from .errors import CompressedRange, InvalidRange, InvalidURI, NotFoundInStore
from .meta import ObjectMeta
from .store import Store

__all__ = ["WHOLE_FILE_BELOW", "BitstoreFile", "BitstoreFileSystem"]

T = TypeVar("T")

_CHUNK = 1 << 20
_WRITES_IN_FLIGHT = 2
#: Objects smaller than this are brought whole to a local file on a file object's first read.
WHOLE_FILE_BELOW = 1 << 30


@contextlib.contextmanager
def _missing_as_file_not_found(path: str) -> Iterator[None]:
    """Turn the store's "not there" into the `FileNotFoundError` fsspec users expect."""
    try:
        yield
    except NotFoundInStore as error:
        raise FileNotFoundError(2, f"no object at {path!r} in the store", path) from error


class _Meta(type(AsyncFileSystem)):  # type: ignore[misc]
    """Keeps instances made around a given store out of fsspec's instance cache.

    fsspec keys cached instances on the text of their arguments, and two distinct chains may
    print alike; an instance over a live store is cheap, so each call gets its own.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("store") is not None:
            kwargs["skip_instance_cache"] = True
        return super().__call__(*args, **kwargs)


class BitstoreFileSystem(AsyncFileSystem, metaclass=_Meta):  # type: ignore[misc]
    """fsspec's asynchronous file system over an asyncbitstore store or chain.

    See the module documentation for paths, directories, files and event loops.

    Args:
        store: the store or chain to serve (any `Store`). Give this or ``config``.
        config: a configuration file (or mapping) that `Composite.from_config` builds the
            chain from, ``[chain] kind = "named"`` for relative keys.
        whole_file_below: a file opened for reading an object smaller than this many bytes
            brings the whole object to a local file on its first read, then reads ranges from
            it (see the module documentation); 0 never does. Default `WHOLE_FILE_BELOW` (1 GiB).
        **kwargs: fsspec's own options (``asynchronous``, ``loop``, ``batch_size``, ...).

    Raises:
        TypeError: neither or both of ``store`` and ``config`` given, ``store`` is not a
            `Store`, or ``whole_file_below`` is not an int.
        ValueError: ``whole_file_below`` is negative.
    """

    protocol = "bitstore"
    root_marker = ""
    async_impl = True

    def __init__(
        self,
        store: Store | None = None,
        config: Any = None,
        whole_file_below: int = WHOLE_FILE_BELOW,
        **kwargs: Any,
    ) -> None:
        if not isinstance(whole_file_below, int) or isinstance(whole_file_below, bool):
            raise TypeError(
                f"whole_file_below must be a number of bytes (int), not {whole_file_below!r}"
            )
        if whole_file_below < 0:
            raise ValueError(
                f"whole_file_below must be 0 (never fetch whole objects) or more bytes, "
                f"not {whole_file_below}"
            )
        self.whole_file_below = whole_file_below
        if (store is None) == (config is None):
            raise TypeError(
                "BitstoreFileSystem needs exactly one of store= (a store or chain) or "
                "config= (a configuration file for Composite.from_config)"
            )
        super().__init__(**kwargs)
        if store is None:
            store = Composite.from_config(config)
        if not isinstance(store, Store):
            raise TypeError(f"store= must be an asyncbitstore Store, not {type(store).__name__}")
        self.store: Store = store

    # -- metadata --------------------------------------------------------------------------------

    def _file_info(self, path: str, meta: ObjectMeta) -> dict[str, Any]:
        modified = meta.last_modified
        return {
            "name": path,
            "size": meta.size,
            "type": "file",
            "mtime": modified.timestamp() if modified is not None else None,
            "etag": meta.etag,
            "content_type": meta.content_type,
        }

    @staticmethod
    def _dir_info(path: str) -> dict[str, Any]:
        return {"name": path, "size": 0, "type": "directory"}

    async def _level(self, path: str) -> AsyncIterator[str]:
        """One listing level under ``path``: keys, and sub-prefixes ending in ``/``."""
        async for key in self.store.list(f"{path}/" if path else "", flat=True):
            yield key

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return self._dir_info(path)
        with contextlib.suppress(NotFoundInStore, InvalidURI):
            return self._file_info(path, await self.store.head(path))
        async for _ in self._level(path):
            return self._dir_info(path)
        raise FileNotFoundError(2, f"no object or directory at {path!r} in the store", path)

    async def _modified(self, path: str) -> datetime:
        path = self._strip_protocol(path)
        with _missing_as_file_not_found(path):
            meta = await self.store.head(path)
        if meta.last_modified is None:
            raise NotImplementedError(f"the store keeps no modification time for {path!r}")
        return meta.last_modified

    async def _exists(self, path: str, **kwargs: Any) -> bool:
        try:
            await self._info(path)
        except FileNotFoundError:
            return False
        return True

    async def _with_details(self, names: list[str]) -> list[dict[str, Any]]:
        metas = await self.store.head_many(names)
        out = []
        for name in names:
            meta = metas[name]
            # None: deleted between the listing and the head; a listing moment, not an error.
            if meta is not None:
                out.append(self._file_info(name, meta))
        return out

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        files: list[str] = []
        dirs: list[str] = []
        async for key in self._level(path):
            if key.endswith("/"):
                dirs.append(key[:-1])
            else:
                files.append(key)
        if not files and not dirs:
            info = await self._info(path)  # a file lists as itself; nothing at all raises
            return [info] if detail else [info["name"]]
        if not detail:
            return sorted(dirs + files)
        entries = [self._dir_info(d) for d in dirs] + await self._with_details(files)
        return sorted(entries, key=lambda entry: str(entry["name"]))

    async def _find(
        self, path: str, maxdepth: int | None = None, withdirs: bool = False, **kwargs: Any
    ) -> Any:
        if maxdepth is not None:
            return await super()._find(path, maxdepth=maxdepth, withdirs=withdirs, **kwargs)
        path = self._strip_protocol(path)
        detail = kwargs.pop("detail", False)
        prefix = f"{path}/" if path else ""
        files = [key async for key in self.store.list(prefix)]
        if not files and path:
            with contextlib.suppress(NotFoundInStore, InvalidURI):
                files = [path] if await self.store.exists(path) else []
        dirs: set[str] = set()
        if withdirs and files and files != [path]:
            if path:
                dirs.add(path)
            for key in files:
                parts = key[len(prefix) :].split("/")[:-1]
                dirs.update(prefix + "/".join(parts[: i + 1]) for i in range(len(parts)))
        if not detail:
            return sorted(dirs.union(files))
        entries = {d: self._dir_info(d) for d in dirs}
        entries.update((info["name"], info) for info in await self._with_details(files))
        return {name: entries[name] for name in sorted(entries)}

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to do: a directory exists while a key continues it with ``/``."""

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to do: a directory exists while a key continues it with ``/``."""

    # -- reading ---------------------------------------------------------------------------------

    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        path = self._strip_protocol(path)
        with _missing_as_file_not_found(path):
            if start in (None, 0) and end is None:
                return await self.store.get(path)
            size: int | None = None
            if (start is not None and start < 0) or end is None or end < 0:
                size = await self.store.size(path)
                start, end = _absolute(start or 0, size), _absolute(end, size)
            first = start or 0
            assert end is not None
            if end <= first:
                return b""
            return await self._read_range(path, first, end, size)

    async def _read_range(self, path: str, start: int, end: int, size: int | None) -> bytes:
        try:
            return await self.store.get_range(path, start, end)
        except CompressedRange:
            return (await self.store.get(path))[start:end]
        except InvalidRange:
            # Only a start at or past the end is left here: fsspec answers that with no bytes.
            if size is None:
                size = await self.store.size(path)
            if start >= size:
                return b""
            raise

    async def _get_file(self, rpath: str, lpath: str, **kwargs: Any) -> None:
        rpath = self._strip_protocol(rpath)
        if await asyncio.to_thread(os.path.isdir, lpath):
            return
        with _missing_as_file_not_found(rpath):
            chunks = self.store.stream(rpath, _CHUNK)
            first = await anext(chunks, None)  # a missing object raises before the file exists
            with await asyncio.to_thread(open, lpath, "wb") as out:
                while first is not None:
                    await asyncio.to_thread(out.write, first)
                    first = await anext(chunks, None)

    # -- writing ---------------------------------------------------------------------------------

    async def _put_bytes(self, path: str, data: Any, mode: str = "overwrite") -> None:
        if mode not in ("overwrite", "create"):
            raise ValueError(f"mode must be 'overwrite' or 'create', not {mode!r}")
        # "create" is a check before the write: two writers racing may both pass it.
        if mode == "create" and await self.store.exists(path):
            raise FileExistsError(17, f"an object is already stored at {path!r}", path)
        await self.store.put(path, data)

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        await self._put_bytes(self._strip_protocol(path), value, mode)

    async def _put_file(
        self, lpath: str, rpath: str, mode: str = "overwrite", **kwargs: Any
    ) -> None:
        if await asyncio.to_thread(os.path.isdir, lpath):
            return
        await self._put_bytes(self._strip_protocol(rpath), _read_local(lpath), mode)

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        await self.store.delete(self._strip_protocol(path))

    async def _rm(
        self,
        path: Any,
        recursive: bool = False,
        batch_size: int | None = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> None:
        paths = await self._expand_path(path, recursive=recursive, maxdepth=maxdepth)
        # A directory is no key: deleting one would only ask every tier about nothing.
        parents = {p.rsplit("/", 1)[0] for p in paths if "/" in p}
        files = [p for p in paths if p not in parents]
        await self.store.delete_many(files, concurrency=batch_size or self.batch_size or 64)

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        with _missing_as_file_not_found(path1):
            await self.store.copy(path1, path2)

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = "default",
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> BitstoreFile:
        if mode == "ab":
            raise NotImplementedError(
                "bitstore files cannot be appended to (stores replace whole objects): "
                "read the object, then write it again with mode 'wb'"
            )
        if mode == "xb" and self.exists(path):
            raise FileExistsError(17, f"an object is already stored at {path!r}", path)
        return BitstoreFile(
            self,
            path,
            mode,
            block_size=block_size,
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )

    # -- helpers the file object uses --------------------------------------------------------

    def _local_copy(
        self, path: str, size: int
    ) -> contextlib.AbstractAsyncContextManager[Path | None]:
        """A local file holding the object for a reader, pinned until the exit; None: read
        ranges through the store instead."""
        if size < self.whole_file_below:
            return _fetched_whole(self.store, path)
        return contextlib.nullcontext(None)

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on this file system's loop from a plain (blocking) caller."""

        async def call() -> T:
            return await make()

        return sync(self.loop, call)  # type: ignore[no-any-return]


def _absolute(offset: int | None, size: int) -> int | None:
    """fsspec's offsets: negative ones count from the end; clipped to ``[0, size]``."""
    if offset is None:
        return size
    if offset < 0:
        offset += size
    return max(0, min(offset, size))


@contextlib.asynccontextmanager
async def _fetched_whole(store: Store, path: str) -> AsyncIterator[Path | None]:
    with _missing_as_file_not_found(path):
        async with store.local_path(path) as local:
            yield local


async def _read_local(path: str) -> AsyncIterator[bytes]:
    """A local file's bytes in chunks, read on a worker thread."""
    handle = await asyncio.to_thread(open, path, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


class BitstoreFile(AbstractBufferedFile):  # type: ignore[misc]
    """A random-access file of a `BitstoreFileSystem` (what ``fs.open`` returns).

    Reading fetches ranges through the store, cached as fsspec's ``cache_type`` says. Writing
    streams the blocks into one `put` that completes on `close`; at most ``block_size`` bytes
    are buffered here plus two blocks queued for the store. An exception inside a ``with``
    block abandons the write, and nothing is stored.
    """

    fs: BitstoreFileSystem
    cache: BaseCache

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.mode == "rb":
            ranged: BaseCache = self.cache
            self.cache = _LocalFirst(self, ranged)

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs._run(lambda: self.fs._cat_file(self.path, start, end))

    def _initiate_upload(self) -> None:
        if self.forced:
            self._queue: asyncio.Queue[bytes | None] | None = None  # all of it fits one block
            return
        self.fs._run(self._start_put)

    async def _start_put(self) -> None:
        self._queue = asyncio.Queue(_WRITES_IN_FLIGHT)

        async def blocks() -> AsyncIterator[bytes]:
            assert self._queue is not None
            while (block := await self._queue.get()) is not None:
                yield block

        self._putting = asyncio.ensure_future(
            self.fs._put_bytes(self.path, blocks(), self._put_mode())
        )

    def _put_mode(self) -> str:
        return "create" if self.mode == "xb" else "overwrite"

    def _upload_chunk(self, final: bool = False) -> bool:
        block = self.buffer.getvalue()
        if self._queue is None:
            self.fs._run(lambda: self.fs._put_bytes(self.path, block, self._put_mode()))
            return True
        self.fs._run(lambda: self._hand_over(block))
        if final:
            self.fs._run(lambda: self._hand_over(None))
            self.fs._run(lambda: self._putting)
        return True

    async def _hand_over(self, block: bytes | None) -> None:
        """Queue one block (``None`` ends the object); a failed `put` raises here at once."""
        assert self._queue is not None
        if block == b"":
            return
        queued = asyncio.ensure_future(self._queue.put(block))
        await asyncio.wait({queued, self._putting}, return_when=asyncio.FIRST_COMPLETED)
        if not queued.done():
            queued.cancel()
            self._putting.result()  # the put ended early: its error
            raise OSError(f"the store stopped reading {self.path!r} before its end")

    def _abandon(self) -> None:
        put = getattr(self, "_putting", None)
        if put is not None and not put.done():
            self.fs.loop.call_soon_threadsafe(put.cancel)
        self.closed = True

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None and self.writable():
            self._abandon()
            return
        self.close()


class _LocalFirst(BaseCache):  # type: ignore[misc]
    """A reading file's cache: on the first fetch, finds a local copy of the object (see
    `BitstoreFileSystem._local_copy`) and then serves every range from it with ``os.pread``;
    without one, hands each fetch to fsspec's cache of ranges read through the store.

    The local copy is read through a descriptor opened once and closed with the file (or when
    the file is collected).
    """

    name = "bitstore-local-first"

    def __init__(self, file: BitstoreFile, ranged: BaseCache) -> None:
        super().__init__(ranged.blocksize, ranged.fetcher, ranged.size)
        self._file = file
        self._ranged = ranged
        self._decided = False
        self._fd: int | None = None
        self._release: weakref.finalize[[int], _LocalFirst] | None = None

    def _fetch(self, start: int | None, stop: int | None) -> bytes:
        if not self._decided:
            self._file.fs._run(self._open_local)
            self._decided = True
        if self._fd is None:
            return self._ranged._fetch(start, stop)  # type: ignore[no-any-return]
        start = 0 if start is None else start
        stop = self.size if stop is None else min(stop, self.size)
        parts = []
        while start < stop:
            part = os.pread(self._fd, stop - start, start)
            if not part:
                break
            parts.append(part)
            start += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def _open_local(self) -> None:
        # The descriptor keeps the bytes readable after the copy is released (an evicted,
        # replaced or removed file stays whole while it is open): a snapshot for this file.
        async with self._file.fs._local_copy(self._file.path, self.size) as local:
            if local is None:
                return
            fd = await asyncio.to_thread(os.open, local, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._fd = fd
        self._release = weakref.finalize(self, os.close, fd)

    def close(self) -> None:
        """Close the local copy's descriptor."""
        self._fd = None
        if self._release is not None:
            self._release()
