"""Blocking file helpers of the bounded cache: layout, scans, batched reads, locked opens.

Readers of a stream hold a shared ``flock`` on the open file; the evictor unlinks a file only
when it gets the exclusive lock without waiting, so a blob being streamed is never evicted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Callable, Iterator
from typing import TypeVar

from ..._core.pinning import open_shared
from . import _ops as ops

__all__ = [
    "NAME",
    "blob_path",
    "open_shared",
    "read_many",
    "scan",
    "stat_many",
    "try_unlink",
]

T = TypeVar("T")

#: Blob names: 4+ characters; the first four pick the subfolders, so they are never dots.
NAME = re.compile(r"[0-9A-Za-z_-]{4}[0-9A-Za-z._-]{0,251}")
_SUBFOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def blob_path(folder: str, name: str) -> str:
    """Where blob ``name`` lives: ``<folder>/ab/cd/abcd...`` (at most 65,536 subfolders)."""
    return f"{folder}/{name[:2]}/{name[2:4]}/{name}"


def read_many(paths: list[str], fs: ops.Folder = ops.ANYWHERE) -> list[bytes | None]:
    """The blobs at ``paths`` (None where missing): one worker-thread job for a whole batch."""
    return _each(fs.read, paths)


def stat_many(paths: list[str], fs: ops.Folder = ops.ANYWHERE) -> list[os.stat_result | None]:
    """The status of the blobs at ``paths`` (None where missing), as `read_many` reads them."""
    return _each(fs.regular_status, paths)


def _each(call: Callable[[str], T], paths: list[str]) -> list[T | None]:
    """``call(path)`` for every path, None where no blob is there; other errors propagate."""
    found: list[T | None] = []
    for path in paths:
        try:
            found.append(call(path))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            found.append(None)
    return found


def try_unlink(path: str, fs: ops.Folder = ops.ANYWHERE) -> bool:
    """Remove the file unless a reader holds it; True when it is gone.

    A symlink found there instead is removed itself (never its target); one on the way means
    the blob is not in the folder any more.
    """
    try:
        fd = fs.open(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except ops.Escape:
        with contextlib.suppress(ops.Escape):
            fs.unlink(path)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fs.unlink(path)
        return True
    finally:
        os.close(fd)


def scan(
    folder: str, name_prefix: str = "", fs: ops.Folder = ops.ANYWHERE
) -> list[tuple[str, int, float]]:
    """``(name, size, mtime)`` of the blobs in ``folder`` whose name starts with the prefix.

    Symlinks (to folders or files) are neither entered nor counted.
    """
    found: list[tuple[str, int, float]] = []
    try:
        top = fs.open_dir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return found
    try:
        for first in _subfolders(top, name_prefix[:2]):
            for second in _subfolders(first, name_prefix[2:4]):
                with os.scandir(second) as entries:
                    for entry in entries:
                        name = entry.name
                        if (
                            name.startswith(name_prefix)
                            and NAME.fullmatch(name)
                            and entry.is_file(follow_symlinks=False)
                        ):
                            stat = entry.stat(follow_symlinks=False)
                            found.append((name, stat.st_size, stat.st_mtime))
    finally:
        os.close(top)
    return found


def _subfolders(folder_fd: int, start: str) -> Iterator[int]:
    """Open descriptors, one at a time, of the two-character sub-folders (not symlinks)
    starting with ``start``."""
    with os.scandir(folder_fd) as entries:
        names = [
            e.name
            for e in entries
            if len(e.name) == 2
            and e.name.startswith(start)
            and e.name[0] != "."
            and e.is_dir(follow_symlinks=False)
        ]
    for name in names:
        try:
            fd = os.open(name, _SUBFOLDER, dir_fd=folder_fd)
        except OSError:  # gone or replaced meanwhile
            continue
        try:
            yield fd
        finally:
            os.close(fd)
