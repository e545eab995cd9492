"""What a failed file call means for a file store: one translation for the whole family."""

from __future__ import annotations

import errno
import os

from ..._core.pinning import LocalFile
from ...errors import (
    BucketNotFound,
    NotFoundInStore,
    PathEscapesRoot,
    StoreFull,
    StoreNotAvailable,
)
from . import _ops as ops

__all__ = ["file_error", "local_file"]

_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def file_error(store: object, exc: BaseException, uri: str, writing: bool = False) -> BaseException:
    """Our exception for an OSError from a file call on ``uri`` (others are returned as is)."""
    if isinstance(exc, ops.Escape):
        return PathEscapesRoot(store, uri, exc.root)
    if isinstance(exc, ops.MissingRoot):
        return BucketNotFound(store, exc.root, uri=uri, kind="folder")
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        if writing:  # a folder where the file should go, or a file where a folder should
            return StoreNotAvailable(store, f"cannot write there: {exc.strerror}", uri=uri)
        return NotFoundInStore(store, uri)
    if isinstance(exc, OSError) and exc.errno in _FULL:
        return StoreFull(store, uri, os.strerror(exc.errno or 0))
    if isinstance(exc, OSError):
        return StoreNotAvailable(store, f"{type(exc).__name__}: {exc.strerror}", uri=uri)
    return exc


class _Confined:
    """A folder's calls for one URI, a symlink below the root raised as the store's error."""

    def __init__(self, fs: ops.Folder, store: object, uri: str) -> None:
        self._fs = fs
        self._store = store
        self._uri = uri

    def open(self, path: str) -> int:
        try:
            return self._fs.open(path)
        except ops.Escape as exc:
            raise PathEscapesRoot(self._store, self._uri, exc.root) from None

    def parent(self, path: str) -> tuple[int, str]:
        try:
            return self._fs.parent(path)
        except ops.Escape as exc:
            raise PathEscapesRoot(self._store, self._uri, exc.root) from None


def local_file(store: object, fs: ops.Folder, uri: str, path: str, *, evictable: bool) -> LocalFile:
    """Where a file store keeps ``uri``, opened only through its confined folder."""
    return LocalFile(path, evictable, _Confined(fs, store, uri))
