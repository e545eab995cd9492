"""``FileRaw``: blobs as files on a local disk, with atomic writes and batched thread hops."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from typing import Any, BinaryIO

from ..._core.data import PutData, bytes_chunk, check_chunk_size
from ..._core.pinning import LocalFile
from ..._core.put_attrs import PutAttrs
from ...errors import AlreadyExists, InvalidRange, InvalidURI, StoreNotAvailable
from ...listing import cut_level
from ...meta import ObjectMeta
from .._base import RawStore, check_str
from .._threads import ThreadBatcher
from . import _attrs as file_attrs
from . import _copy as file_copy
from . import _ops as ops
from ._errors import file_error, local_file
from ._meta import stat_meta

__all__ = ["FileRaw"]

_SCHEME = "file://"
# Absolute, no empty segments, no NUL; a file path has no trailing slash and no temp-file name.
_SAFE_FILE = re.compile(r"(?:/[^/\x00]+)+")
_SAFE_FOLDER = re.compile(r"/|(?:/[^/\x00]+)+/?")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:/|$)|/" + re.escape(ops.TEMP_PREFIX) + r"[^/]*$")


def _encodable(path: str) -> bool:
    """Whether the OS can take ``path`` (a lone surrogate outside surrogateescape cannot)."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return False
    return True


class FileRaw(RawStore):
    """Blobs as files, for ``file:///abs/path`` URIs and plain absolute paths.

    Args:
        root: when given, only paths under this folder are accepted.
        fsync: flush each write to the disk before it becomes visible (slower, survives power
            loss); without it a write is still atomic with respect to other readers and crashes
            of this process.
        threads: worker threads for blocking file calls.
        create_root: with a ``root``: whether the store may create it. True (the default): a
            missing root is made by the first write, and until then reads find nothing (a
            cache folder that does not exist yet). False: the root must exist (a source);
            while it is missing every call raises
            [BucketNotFound][asyncbitstore.errors.BucketNotFound] naming it, so a mistyped or
            unmounted folder is not taken for an empty one.

    Paths with ``.`` or ``..`` segments, empty segments or NUL bytes are refused, and no symlink
    below ``root`` is followed (``PathEscapesRoot``), so a URI can never reach outside ``root``;
    ``root`` itself may be a symlink. Files whose names start with ``.abstmp-`` are in-progress
    writes and are never listed or served.

    Small reads are batched: concurrent calls share one hop to a worker thread, so a bulk read of
    small files costs little more than reading them in a plain loop.
    """

    uri_hint = "file:///absolute/path or /absolute/path"
    _runtime_attrs = ("_batcher", "_fs")
    # A class-level default: a store pickled before this option existed still has it.
    create_root: bool = True

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        fsync: bool = False,
        threads: int = 2,
        create_root: bool = True,
    ) -> None:
        if root is not None:
            root = os.fspath(root)
            if not isinstance(root, str) or not os.path.isabs(root):
                raise ValueError(f"root must be an absolute path, not {root!r}")
            root = os.path.normpath(root)
        self.root: str | None = root
        self._root_slash = None if root is None else root.rstrip("/") + "/"
        self.fsync = bool(fsync)
        self.threads = threads
        self.create_root = bool(create_root)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._batcher = ThreadBatcher(threads=self.threads)
        self._fs = ops.Folder(self.root, create_root=self.create_root)

    @property
    def name(self) -> str:
        return "FileRaw" if self.root is None else f"FileRaw({self.root!r})"

    # -- URIs -----------------------------------------------------------------------------------

    def _to_path(self, uri: str, *, folder: bool = False) -> str | None:
        """The absolute path for ``uri``, or None if the URI is not acceptable."""
        path = uri[7:] if uri.startswith(_SCHEME) else uri
        if (_SAFE_FOLDER if folder else _SAFE_FILE).fullmatch(path) is None or _DOT_SEGMENT.search(
            path
        ):
            return None
        if not path.isascii() and not _encodable(path):
            return None
        root = self._root_slash
        if root is not None and not path.startswith(root):
            return None if path != self.root or not folder else path + "/"
        return path

    def is_valid(self, uri: str) -> bool:
        """Whether ``uri`` names a file this store may hold."""
        check_str(uri)
        return self._to_path(uri) is not None

    def _path(self, uri: object) -> str:
        """The path of ``uri``, or ``TypeError``/``InvalidURI``."""
        if not isinstance(uri, str):
            raise TypeError(f"{self.name}: a URI must be a str, not {type(uri).__name__}")
        path = self._to_path(uri)
        if path is None:
            hint = self.uri_hint if self.root is None else f"an absolute path under {self.root}"
            raise InvalidURI(self, uri, hint + " (no '.', '..' or empty segments)")
        return path

    _locate = _path

    def local_file(self, uri: str) -> LocalFile:
        """The blob's own file (never evicted: this folder has no bound)."""
        return local_file(self, self._fs, uri, self._path(uri), evictable=False)

    def _error(self, exc: BaseException, uri: str, *, writing: bool = False) -> BaseException:
        """Our exception for an OSError from a file call."""
        return file_error(self, exc, uri, writing)

    async def _run(self, uri: str, fn: Any, *args: Any, writing: bool = False) -> Any:
        try:
            return await self._batcher.submit(fn, *args)
        except OSError as exc:
            raise self._error(exc, uri, writing=writing) from exc

    async def _acquire(
        self, uri: str, release: Any, fn: Any, *args: Any, writing: bool = False
    ) -> Any:
        """``fn(*args)`` on a thread, returning a resource; if the caller is cancelled meanwhile,
        the resource is handed to ``release`` once the thread is done, so nothing leaks."""
        future = self._batcher.submit(fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.shield(self._release_after(future, release))
            raise
        except OSError as exc:
            raise self._error(exc, uri, writing=writing) from exc

    async def _release_after(self, future: asyncio.Future[Any], release: Any) -> None:
        await asyncio.wait([future])
        if not future.cancelled() and future.exception() is None:
            await self._batcher.submit(release, future.result())

    # -- reads ----------------------------------------------------------------------------------

    async def _get_stored(self, uri: str) -> bytes:
        return await self._run(uri, self._fs.read, self._path(uri))  # type: ignore[no-any-return]

    async def _stored_range(
        self, uri: str, where: Any, start: int, end: int, first: int, last: int
    ) -> bytes:
        """Read without loading the rest of the file (a range not from 0 also reads the first
        bytes, in the same thread hop batch)."""
        try:
            return await self._run(uri, self._fs.read_range, where, first, last)  # type: ignore[no-any-return]
        except ops.PastEnd as exc:
            message = f"the blob has only {exc.size} bytes"
            raise InvalidRange(self, uri, start, end, message) from None

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        path = self._path(uri)
        check_chunk_size(chunk_size)
        file: BinaryIO = await self._acquire(uri, ops.close, self._fs.open_read, path)
        try:
            while chunk := await self._run(uri, ops.read_chunk, file, chunk_size):
                yield chunk
        finally:
            file.close()  # no thread hop: closing a read-only file does not block

    async def exists(self, uri: str) -> bool:
        """Whether a regular file is at ``uri``."""
        return await self._run(uri, self._fs.is_file, self._path(uri))  # type: ignore[no-any-return]

    async def size(self, uri: str) -> int:
        """The file's size."""
        return await self._run(uri, self._fs.file_size, self._path(uri))  # type: ignore[no-any-return]

    async def head(self, uri: str) -> ObjectMeta:
        """The file's size, modification time, an ETag derived from its status, and the
        attributes stored with it."""
        found, attrs = await self._run(uri, self._fs.described_status, self._path(uri))
        return stat_meta(found, attrs)

    async def list(self, prefix: str = "/", flat: bool = False) -> AsyncIterator[str]:
        """Every file whose URI starts with ``prefix``, recursively, sorted.

        URIs come back in the form of ``prefix`` (``file://`` or a plain path). With ``flat``,
        one level: the files directly under ``prefix`` and the sub-folders below it that hold
        files (ending in ``/``), sorted.
        """
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, not {type(prefix).__name__}")
        if prefix in ("", _SCHEME) and self.root is not None:
            prefix = (_SCHEME if prefix else "") + self.root + "/"
        path = self._to_path(prefix, folder=True)
        if path is None:
            raise InvalidURI(self, prefix, "a folder or path prefix: " + (self.uri_hint or ""))
        base = path if path.endswith("/") else os.path.dirname(path)
        paths: list[str] = await self._run(prefix, self._fs.walk, base or "/", path)
        if flat:
            paths = cut_level(paths, path)
        scheme = _SCHEME if prefix.startswith(_SCHEME) else ""
        for found in paths:
            yield scheme + found

    # -- writes ---------------------------------------------------------------------------------

    async def _put_stored(self, uri: str, where: Any, data: PutData, attrs: PutAttrs) -> None:
        """Write the file atomically; a failed or cancelled write leaves no file behind.

        Attributes are kept in an extended attribute of the file (see `_attrs`).
        ``mode="create"`` hard-links the finished temporary file to its name, which fails
        when the name is taken: atomic, so of concurrent creates exactly one wins.
        """
        with self._created(uri):
            if isinstance(data, (bytes, bytearray, memoryview)):
                write = self._fs.write_atomic
                await self._run(uri, write, where, data, self.fsync, attrs, writing=True)
                return
            finish = lambda: (ops.commit, (self.fsync, attrs))  # noqa: E731
            await self._write_stream(uri, self._fs, where, data, finish)

    @contextlib.contextmanager
    def _created(self, uri: str) -> Iterator[None]:
        """Turn a taken name (``mode="create"``) and a file system without extended
        attributes into our errors."""
        try:
            yield
        except ops.Taken:
            raise AlreadyExists(self, self._shown(uri)) from None
        except file_attrs.Unsupported as exc:
            raise StoreNotAvailable(
                self, f"cannot keep content_type/cache_control/metadata: {exc}", uri=uri
            ) from None

    async def _write_stream(
        self,
        uri: str,
        fs: ops.Folder,
        path: str,
        data: AsyncIterable[Any],
        finish: Callable[[], tuple[Callable[..., Any], tuple[Any, ...]]],
    ) -> Any:
        """Write the chunks to a temporary file beside ``path``, then run ``fn(file, temp,
        *args)`` for the ``(fn, args)`` that ``finish()`` names (``ops.commit`` renames it into
        place; it removes the temporary file if it fails). Anything raised meanwhile (by the
        chunks too) removes the temporary file."""
        file, temp = await self._acquire(uri, ops.abort_pair, fs.open_temp, path, writing=True)
        last: asyncio.Future[Any] | None = None
        try:
            async for chunk in data:
                last = self._batcher.submit(ops.write_chunk, file, bytes_chunk(chunk))
                await self._checked(last, uri)
            fn, args = finish()
            last = self._batcher.submit(fn, file, temp, *args)
            return await self._checked(last, uri)
        except BaseException:
            await self._abort(last, file, temp)
            raise

    async def _checked(self, future: asyncio.Future[Any], uri: str) -> Any:
        try:
            # Shielded: if the caller is cancelled, the future still tells when the thread is done.
            return await asyncio.shield(future)
        except OSError as exc:
            raise self._error(exc, uri, writing=True) from exc

    async def _abort(
        self, last: asyncio.Future[Any] | None, file: BinaryIO, temp: ops.Temp
    ) -> None:
        """Remove the temporary file once no thread is writing to it any more."""

        async def cleanup() -> None:
            if last is not None and not last.done():
                await asyncio.wait([last])  # the thread may still be writing to the file
            await self._batcher.submit(ops.abort, file, temp)

        # Shielded so that a second cancellation cannot leave the temporary file behind.
        await asyncio.shield(cleanup())

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        """A new file written by the kernel's ``copy_file_range`` where it can (no bytes
        through Python; a reflink on file systems that have them), atomically."""
        src, dst = self._path(src_uri), self._path(dst_uri)
        await self._run(src_uri, file_copy.copy_file, self._fs, src, dst, self.fsync)

    async def _rename(self, src_uri: str, dst_uri: str) -> None:
        """``os.replace``: atomic, and the blob is never at neither path. Across file systems
        (no root, two mounts) it is a copy, then a delete."""
        src, dst = self._path(src_uri), self._path(dst_uri)
        try:
            await self._batcher.submit(file_copy.move_file, self._fs, src, dst, self.fsync)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise self._error(exc, src_uri) from exc
            await super()._rename(src_uri, dst_uri)

    def _reach(self) -> object:
        """Another ``FileRaw`` with the same root holds the same files."""
        return (self.root,)

    async def delete(self, uri: str) -> None:
        """Remove the file if it exists."""
        await self._run(uri, self._fs.unlink, self._path(uri))

    async def aclose(self) -> None:
        """Stop the worker threads (they restart on the next call)."""
        self._batcher.close()
