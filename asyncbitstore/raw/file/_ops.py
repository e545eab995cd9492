"""Blocking file operations run on worker threads by ``FileRaw``.

Writes are atomic: bytes go to a temporary file in the destination folder, which is renamed over
the destination only once complete, so readers see the old blob or the new one, never a part.
"""

from __future__ import annotations

import errno
import os
import secrets
from typing import BinaryIO

from ..._core.temp import TEMP_PREFIX

__all__ = ["TEMP_PREFIX", "PastEnd"]

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class PastEnd(Exception):
    """A range starts past the end of the file."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def read(path: str) -> bytes:
    # os-level calls: a buffered file object per read costs more than reading 4 KiB.
    fd = os.open(path, _READ_FLAGS)
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size) if size else b""
        if len(data) < size:  # short read: collect the rest
            parts = [data]
            while chunk := os.read(fd, 1 << 20):
                parts.append(chunk)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


def read_range(path: str, start: int, end: int) -> bytes:
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        if start > size:
            raise PastEnd(size)
        file.seek(start)
        return file.read(end - start)


def file_size(path: str) -> int:
    stat = os.stat(path)
    if not os.path.isfile(path):
        raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
    return stat.st_size


def is_file(path: str) -> bool:
    return os.path.isfile(path)


def unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        pass


def open_read(path: str) -> BinaryIO:
    file = open(path, "rb")  # noqa: SIM115 - closed by the streaming caller
    if not os.path.isfile(path):
        file.close()
        raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
    return file


def read_chunk(file: BinaryIO, size: int) -> bytes:
    return file.read(size)


def close(file: BinaryIO) -> None:
    file.close()


def open_temp(path: str) -> tuple[BinaryIO, str]:
    """A new temporary file beside ``path``, creating the folders on the way."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    temp = os.path.join(folder, TEMP_PREFIX + secrets.token_hex(8))
    fd = os.open(temp, _OPEN_FLAGS, 0o666)
    return os.fdopen(fd, "wb"), temp


def write_chunk(file: BinaryIO, chunk: bytes) -> None:
    file.write(chunk)


def commit(file: BinaryIO, temp: str, path: str, fsync: bool) -> None:
    """Close the temporary file and rename it over ``path``; on failure remove it."""
    try:
        file.flush()
        if fsync:
            os.fsync(file.fileno())
        file.close()
        os.replace(temp, path)
    except BaseException:
        abort(file, temp)
        raise
    if fsync:
        _fsync_folder(os.path.dirname(path))


def abort(file: BinaryIO, temp: str) -> None:
    """Close and remove a temporary file."""
    try:
        file.close()
    finally:
        unlink(temp)


def abort_pair(opened: tuple[BinaryIO, str]) -> None:
    """:func:`abort` for the result of :func:`open_temp`."""
    abort(*opened)


def write_atomic(path: str, data: bytes | bytearray | memoryview, fsync: bool) -> None:
    file, temp = open_temp(path)
    try:
        file.write(data)
    except BaseException:
        abort(file, temp)
        raise
    commit(file, temp, path, fsync)


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def walk(base: str, path_prefix: str) -> list[str]:
    """Sorted paths of the files under ``base`` whose path starts with ``path_prefix``."""
    found: list[str] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = [
            d
            for d in dirs
            if (os.path.join(folder, d) + "/").startswith(path_prefix)
            or path_prefix.startswith(os.path.join(folder, d) + "/")
        ]
        for name in files:
            if name.startswith(TEMP_PREFIX):
                continue
            full = os.path.join(folder, name)
            if full.startswith(path_prefix):
                found.append(full)
    found.sort()
    return found
