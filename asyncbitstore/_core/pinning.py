"""A local file held open under a shared lock, so that an evictor leaves it alone.

Evictors unlink a file only when they get its exclusive ``flock`` without waiting. A reader that
holds the shared lock therefore keeps the file; in an evictable folder it also takes a private
hard link (a temporary name, never listed or indexed), because a concurrent fill may rename a
new file over the pinned one and the evictor, locking that new file, may then unlink the path.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import secrets
from typing import BinaryIO, NamedTuple

from .temp import TEMP_PREFIX, remove_quietly

__all__ = ["LocalFile", "Pin", "open_shared", "pin"]

#: Attempts to pin a file that is replaced between being opened and being linked.
_ATTEMPTS = 3


class LocalFile(NamedTuple):
    """Where a store keeps a blob as a plain file, and whether the file may be evicted."""

    path: str
    evictable: bool


def open_shared(path: str) -> BinaryIO:
    """Open a file for reading, holding a shared lock that keeps evictors away."""
    file = open(path, "rb")  # noqa: SIM115 - the caller closes it
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

    def __init__(self, file: BinaryIO, path: str, link: str | None) -> None:
        self.file = file
        self.path = link or path
        self._link = link

    async def head(self, size: int) -> bytes:
        """The file's first ``size`` bytes."""
        return await asyncio.to_thread(os.pread, self.file.fileno(), size, 0)

    async def release(self) -> None:
        """Drop the lock and the private link."""
        self.file.close()
        if self._link is not None:
            await asyncio.to_thread(remove_quietly, self._link)


async def pin(where: LocalFile) -> Pin | None:
    """Pin the file at ``where``; None when there is no file there."""
    for _ in range(_ATTEMPTS):
        future = asyncio.ensure_future(asyncio.to_thread(open_shared, where.path))
        try:
            file = await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_close_opened)  # opened after all: release its lock
            raise
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        if not where.evictable:
            return Pin(file, where.path, None)
        try:
            link = await asyncio.to_thread(_private_link, file, where.path)
        except BaseException:
            file.close()
            raise
        if link is not None:
            return Pin(file, where.path, link)
        file.close()  # replaced between open and link: pin the new file
    return None


def _close_opened(future: asyncio.Future[BinaryIO]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _private_link(file: BinaryIO, path: str) -> str | None:
    """A hard link to the open file's inode beside ``path``, or None if it was replaced."""
    link = os.path.join(os.path.dirname(path), f"{TEMP_PREFIX}pin-{secrets.token_hex(8)}")
    try:
        os.link(path, link)
    except FileNotFoundError:
        return None
    if os.stat(link).st_ino != os.fstat(file.fileno()).st_ino:  # replaced meanwhile
        remove_quietly(link)
        return None
    return link
