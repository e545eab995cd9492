"""``async with store.local_path(uri) as path``: a blob as a real local file, pinned meanwhile.

For tools that need a file rather than bytes (memory maps, subprocesses). Where the path comes
from depends on the store:

- a local file store (``FileRaw``, a bounded cache folder, or a ``HashStore``/``HashCache`` on
  one): the blob's own file;
- a chain: the blob's file in the first local file tier that has it; if none has it, the blob
  is streamed through the chain (which fills its caches as usual) and, if no local cache got it
  that way, written to the first local cache explicitly; if it is evicted again before it can be
  pinned (a cache too small for what is pinned at once), a temporary copy is used instead;
- any other store (or a chain without a local file tier): a temporary copy, removed on exit.

A blob stored compressed is never handed out as its file (which holds the compressed frame):
the decoded data goes to a temporary copy instead.

While the block runs the file holds a shared ``flock``, which a bounded cache's evictor respects
(it only unlinks files it can lock exclusively), so the path does not vanish under concurrent
eviction. The file must be treated as read-only: it is the cache's copy. An explicit
``delete`` of the blob is not held back (on POSIX the open file stays readable; the path goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from ._cache_files import open_shared
from ._codec import MAGIC
from .errors import NotFoundInStore, PathEscapesRoot
from .raw._fileops import TEMP_PREFIX, Escape, Folder

if TYPE_CHECKING:
    from .store import Store

__all__ = ["local_path"]

#: Attempts to pin a blob that is evicted again between being fetched and being opened.
_ATTEMPTS = 3


@contextlib.asynccontextmanager
async def local_path(store: Store, uri: str) -> AsyncIterator[Path]:
    """Yield a local path holding the blob at ``uri`` until the block exits.

    Raises:
        NotFoundInStore: the store (chain) does not have the blob.
        InvalidURI: the store does not accept ``uri``.
    """
    from .composite import Composite

    store.check_uri(uri)
    if isinstance(store, Composite):
        manager = _from_chain(store, uri)
    elif (where := _local_file(store, uri)) is not None:
        manager = _pinned_or_missing(store, uri, where)
    else:
        manager = _temporary_copy(store, uri)
    async with manager as found:
        yield found


class _Where(NamedTuple):
    """Where a store keeps a blob on the local disk."""

    store: Store
    uri: str
    fs: Folder  # the folder its calls are confined to
    path: str
    bounded: bool  # whether it may be evicted there


def _local_file(store: Store, uri: str) -> _Where | None:
    """Where ``store`` keeps the blob on the local disk, if it does."""
    from .bounded_cache import BoundedFileRaw
    from .hashing import HashStore
    from .raw.file import FileRaw

    if isinstance(store, HashStore):
        return _local_file(store.raw, store.prefix + store.key_of(uri))
    if isinstance(store, BoundedFileRaw):
        return _Where(store, uri, store._fs, store._path(uri)[1], True)
    if isinstance(store, FileRaw):
        return _Where(store, uri, store._fs, store._path(uri), False)
    return None


async def _pin(where: _Where) -> tuple[BinaryIO, str | None] | None:
    """The file opened with a shared lock (keeps evictors away) and, in a bounded cache, a
    private hard link to it; None if it is not there."""
    for _ in range(_ATTEMPTS):
        future = asyncio.ensure_future(asyncio.to_thread(open_shared, where.path, where.fs))
        try:
            file = await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_close_opened)  # opened after all: release its lock
            raise
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except Escape as exc:
            raise PathEscapesRoot(where.store, where.uri, exc.root) from None
        if not where.bounded:
            return file, None
        try:
            link = await asyncio.to_thread(_private_link, file, where)
        except BaseException:
            file.close()
            raise
        if link is not None:
            return file, link
        file.close()  # replaced between open and link: pin the new file
    return None


def _close_opened(future: asyncio.Future[BinaryIO]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


@contextlib.asynccontextmanager
async def _held(pinned: tuple[BinaryIO, str | None], path: str) -> AsyncIterator[Path]:
    """Yield a path to the pinned file; in a bounded cache, a private hard link to its inode.

    The shared lock alone is not enough there: a concurrent fill of the same key renames a new
    file over the pinned one, and the evictor, locking that new file, may then unlink the path.
    The link (a hidden ``.abstmp-`` name, never listed or indexed) keeps this inode reachable.
    """
    file, link = pinned
    try:
        yield Path(link or path)
    finally:
        file.close()  # releases the shared lock
        if link is not None:
            await asyncio.to_thread(_remove, link)


def _private_link(file: BinaryIO, where: _Where) -> str | None:
    """A hard link to the open file's inode beside its path, or None if it was replaced.

    Made in the folder reached without following a symlink, and linking the name itself.
    """
    name = f"{TEMP_PREFIX}pin-{secrets.token_hex(8)}"
    try:
        folder_fd, blob = where.fs.parent(where.path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            os.link(blob, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        linked = os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_ino
        if linked != os.fstat(file.fileno()).st_ino:  # replaced meanwhile
            os.unlink(name, dir_fd=folder_fd)
            return None
    finally:
        os.close(folder_fd)
    return os.path.join(os.path.dirname(where.path), name)


@contextlib.asynccontextmanager
async def _pinned_or_missing(store: Store, uri: str, where: _Where) -> AsyncIterator[Path]:
    pinned = await _pin(where)
    if pinned is None:
        raise NotFoundInStore(store, uri)
    if await _holds_frame(pinned):
        async with _temporary_copy(store, uri) as found:
            yield found
        return
    async with _held(pinned, where.path) as found:
        yield found


async def _holds_frame(pinned: tuple[BinaryIO, str | None]) -> bool:
    """Whether the pinned file holds a compressed (framed) blob; if so, it is released."""
    file, link = pinned
    head = await asyncio.to_thread(os.pread, file.fileno(), len(MAGIC), 0)
    if head != MAGIC:
        return False
    file.close()
    if link is not None:
        await asyncio.to_thread(_remove, link)
    return True


@contextlib.asynccontextmanager
async def _from_chain(chain: Store, uri: str) -> AsyncIterator[Path]:
    from .composite import Composite

    assert isinstance(chain, Composite)
    key = chain._key(uri)
    local = [
        (tier, where)
        for tier in chain.tiers
        if tier.store.is_valid(key) and (where := _local_file(tier.store, key)) is not None
    ]
    caches = [tier for tier, _ in local if tier.is_cache]
    if not local:
        async with _temporary_copy(chain, key) as found:
            yield found
        return
    for attempt in range(_ATTEMPTS):
        for _, where in local:
            if (pinned := await _pin(where)) is not None:
                if await _holds_frame(pinned):
                    break  # the chain's stream decodes it into a temporary copy
                async with _held(pinned, where.path) as found:
                    yield found
                return
        else:
            if not caches:
                raise NotFoundInStore(chain, key, "not in any local file tier")
            if attempt == 0:  # a read through the chain fills its caches (and waits for fills)
                async for _ in chain.stream(key):
                    pass
            else:  # the hit did not fill a local cache, or it was evicted at once: fill one now
                target = caches[0].store
                put = getattr(target, "put_or_raise", target.put)
                await put(key, chain.stream(key))
            continue
        break
    # Evicted again each time (the cache is too small for what is pinned), or stored
    # compressed: a private copy of the decoded data.
    async with _temporary_copy(chain, key) as found:
        yield found


@contextlib.asynccontextmanager
async def _temporary_copy(store: Store, uri: str) -> AsyncIterator[Path]:
    """Stream the blob into a private temporary file, read-only, removed on exit."""
    chunks = store.stream(uri)
    try:
        first = await anext(chunks, b"")  # a missing blob raises here, before any file exists
        fd, path = await asyncio.to_thread(tempfile.mkstemp, prefix="asyncbitstore-")
        try:
            with os.fdopen(fd, "wb") as file:
                chunk = first
                while chunk:
                    await asyncio.to_thread(file.write, chunk)
                    chunk = await anext(chunks, b"")
            os.chmod(path, stat.S_IRUSR)
            yield Path(path)
        finally:
            await asyncio.to_thread(_remove, path)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
