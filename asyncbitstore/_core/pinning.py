"""A local file held open under a shared lock, so that an evictor leaves it alone.

Evictors unlink a file only when they get its exclusive ``flock`` without waiting. A reader that
holds the shared lock therefore keeps the file; in an evictable folder it also takes a private
hard link (a temporary name, never listed or indexed), because a concurrent fill may rename a
new file over the pinned one and the evictor, locking that new file, may then unlink the path.

Files are opened through a `Place`: a store confined to a root passes one that refuses symlinks
below it; `ANYWHERE` opens paths as given.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import secrets
from typing import BinaryIO, NamedTuple, Protocol

from .temp import TEMP_PREFIX

__all__ = ["ANYWHERE", "LocalFile", "Pin", "Place", "open_shared", "pin"]

#: Attempts to pin a file that is replaced between being opened and being linked.
_ATTEMPTS = 3
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


class Place(Protocol):
    """Where files are opened: each method may refuse a path (a symlink below a root)."""

    def open(self, path: str) -> int:
        """A descriptor of the file at ``path``, open for reading."""
        ...

    def parent(self, path: str) -> tuple[int, str]:
        """An open descriptor of the folder holding ``path``, and the file's name in it."""
        ...


class _Anywhere:
    def open(self, path: str) -> int:
        return os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def parent(self, path: str) -> tuple[int, str]:
        folder, name = os.path.split(path)
        return os.open(folder or "/", _DIR_FLAGS), name


#: Paths used as given (symlinks followed).
ANYWHERE: Place = _Anywhere()


class LocalFile(NamedTuple):
    """Where a store keeps a blob as a plain file, whether it may be evicted, how to open it."""

    path: str
    evictable: bool
    place: Place = ANYWHERE


def open_shared(path: str, place: Place = ANYWHERE) -> BinaryIO:
    """Open a file for reading, holding a shared lock that keeps evictors away."""
    file = open(place.open(path), "rb")  # noqa: SIM115 - the caller closes it
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_SH)
        if os.fstat(file.fileno()).st_nlink == 0:  # evicted between open() and flock()
            raise FileNotFoundError(errno.ENOENT, "evicted", path)
    except BaseException:
        file.close()
        raise
    return file


class Pin:
    """An open, shared-locked file and, where it may be evicted, a private link to it."""

    def __init__(self, file: BinaryIO, where: LocalFile, link: str | None) -> None:
        self.file = file
        self.path = where.path if link is None else os.path.join(os.path.dirname(where.path), link)
        self._where = where
        self._link = link

    async def head(self, size: int) -> bytes:
        """The file's first ``size`` bytes."""
        return await asyncio.to_thread(os.pread, self.file.fileno(), size, 0)

    async def release(self) -> None:
        """Drop the lock and the private link."""
        self.file.close()
        if self._link is not None:
            await asyncio.to_thread(_unlink, self._where, self._link)


async def pin(where: LocalFile) -> Pin | None:
    """Pin the file at ``where``; None when there is no file there."""
    for _ in range(_ATTEMPTS):
        future = asyncio.ensure_future(asyncio.to_thread(open_shared, where.path, where.place))
        try:
            file = await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_close_opened)  # opened after all: release its lock
            raise
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        if not where.evictable:
            return Pin(file, where, None)
        try:
            link = await asyncio.to_thread(_private_link, file, where)
        except BaseException:
            file.close()
            raise
        if link is not None:
            return Pin(file, where, link)
        file.close()  # replaced between open and link: pin the new file
    return None


def _close_opened(future: asyncio.Future[BinaryIO]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _private_link(file: BinaryIO, where: LocalFile) -> str | None:
    """The name of a hard link to the open file's inode beside it, or None if it was replaced.

    Made in the folder reached through the place, linking the name itself (no symlink followed).
    """
    name = f"{TEMP_PREFIX}pin-{secrets.token_hex(8)}"
    try:
        folder_fd, blob = where.place.parent(where.path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            os.link(blob, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if (
            os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_ino
            != os.fstat(file.fileno()).st_ino
        ):  # replaced meanwhile
            os.unlink(name, dir_fd=folder_fd)
            return None
    finally:
        os.close(folder_fd)
    return name


def _unlink(where: LocalFile, name: str) -> None:
    try:
        folder_fd, _ = where.place.parent(where.path)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        os.unlink(name, dir_fd=folder_fd)
    except FileNotFoundError:
        pass
    finally:
        os.close(folder_fd)
