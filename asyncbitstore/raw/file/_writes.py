"""Writes into the bounded folder: the index counts a blob before the blob becomes visible."""

from __future__ import annotations

from typing import Any, BinaryIO

from ..._core.put_attrs import PLAIN, PutAttrs
from . import _ops as ops
from ._index import CacheIndex

__all__ = ["settle", "write_and_settle"]


def write_and_settle(
    index: CacheIndex,
    fs: ops.Folder,
    path: str,
    data: Any,
    fsync: bool,
    record: tuple[Any, ...],
    attrs: PutAttrs = PLAIN,
) -> tuple[int, int]:
    """Write a blob atomically, the index knowing of it before it becomes visible."""
    file, temp = fs.open_temp(path)
    try:
        file.write(data)
    except BaseException:
        ops.abort(file, temp)
        raise
    return settle(file, temp, index, fsync, record, attrs)


def settle(
    file: BinaryIO,
    temp: ops.Temp,
    index: CacheIndex,
    fsync: bool,
    record: tuple[Any, ...],
    attrs: PutAttrs = PLAIN,
) -> tuple[int, int]:
    """Make a written temporary file the blob ``record[0]``; returns ``(evicted, bytes)``.

    The index counts the blob (evicting others) and notes the rename to come before the file is
    renamed into place; the note is cleared with the index's next transaction. A process killed
    in between leaves a note that the next process opening the folder settles (see
    ``CacheIndex``), so no blob is ever on disk without being counted. ``attrs`` are kept on
    the file (an extended attribute: no bytes to count); with ``attrs.create`` a taken name
    raises `ops.Taken` and the index forgets the record.
    """
    try:
        ops.finish(file, fsync, attrs)
        if attrs.create and ops.taken(temp):
            raise ops.Taken(temp.name)  # before the index replaces the record of the blob there
        first = index.intend(*record, temp=temp.temp)
    except BaseException:
        ops.abort(file, temp)
        raise
    try:
        ops.rename(temp, fsync, attrs.create)
    except BaseException:
        ops.abort(file, temp)
        index.withdraw(record[0])
        raise
    index.settle(record[0])
    return first
