"""Blocking file helpers of the bounded cache: layout, scans, batched reads, locked opens.

Readers of a stream hold a shared ``flock`` on the open file; the evictor unlinks a file only
when it gets the exclusive lock without waiting, so a blob being streamed is never evicted.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any

from ..._core.pinning import open_shared
from . import _ops as ops

if TYPE_CHECKING:
    from ._index import CacheIndex

__all__ = [
    "NAME",
    "Counted",
    "blob_path",
    "open_shared",
    "read_many",
    "record_or_unlink",
    "scan",
    "try_unlink",
    "write_and_record",
]

#: Blob names: 4+ characters; the first four pick the subfolders, so they are never dots.
NAME = re.compile(r"[0-9A-Za-z_-]{4}[0-9A-Za-z._-]{0,251}")


def blob_path(folder: str, name: str) -> str:
    """Where blob ``name`` lives: ``<folder>/ab/cd/abcd...`` (at most 65,536 subfolders)."""
    return f"{folder}/{name[:2]}/{name[2:4]}/{name}"


def read_many(paths: list[str]) -> list[bytes | None]:
    """The blobs at ``paths`` (None where missing): one worker-thread job for a whole batch."""
    found: list[bytes | None] = []
    for path in paths:
        try:
            found.append(ops.read(path))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            found.append(None)
    return found


def try_unlink(path: str) -> bool:
    """Remove the file unless a reader holds it; True when it is gone."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        ops.unlink(path)
        return True
    finally:
        os.close(fd)


def scan(folder: str, name_prefix: str = "") -> list[tuple[str, int, float]]:
    """``(name, size, mtime)`` of the blobs in ``folder`` whose name starts with the prefix."""
    found: list[tuple[str, int, float]] = []
    for first in _subfolders(folder, name_prefix[:2]):
        for second in _subfolders(first.path, name_prefix[2:4]):
            with os.scandir(second.path) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith(name_prefix) and NAME.fullmatch(name) and entry.is_file():
                        stat = entry.stat()
                        found.append((name, stat.st_size, stat.st_mtime))
    return found


def _subfolders(folder: str, start: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return [
                e
                for e in entries
                if len(e.name) == 2 and e.name.startswith(start) and e.is_dir() and e.name[0] != "."
            ]
    except FileNotFoundError:
        return []


def write_and_record(
    index: CacheIndex, path: str, data: Any, fsync: bool, record: tuple[Any, ...]
) -> tuple[int, int]:
    """Write a blob atomically, then record it in the index (evicting others)."""
    ops.write_atomic(path, data, fsync)
    return record_or_unlink(index, path, record)


def record_or_unlink(index: CacheIndex, path: str, record: tuple[Any, ...]) -> tuple[int, int]:
    """Record a written blob; remove it if that fails (an unindexed blob is never evicted)."""
    try:
        return index.record(*record)
    except BaseException:
        ops.unlink(path)
        raise


class Counted:
    """An async iterable of bytes that counts what passes (and checks the chunks' type)."""

    def __init__(self, data: AsyncIterable[Any]) -> None:
        self.data = data
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.data:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"async iterable yielded {type(chunk).__name__}, expected bytes")
            self.size += memoryview(chunk).nbytes
            yield chunk  # type: ignore[misc]  # FileRaw writes any bytes-like
