"""What content-addressed ``write(data)`` accepts, turned into ``(key, chunks)`` in bounded memory.

The key (the digest) must be known before anything is stored under it, so:

- bytes-like data is hashed in memory, as before;
- a path (an ``os.PathLike`` such as ``pathlib.Path``; never a ``str``, which is refused so that
  text from a request cannot name a local file to upload) is hashed in one pass over the file
  and streamed in a second;
- a seekable binary file object likewise (from its current position; it is left open);
- a non-seekable file object or an async iterable of bytes is spooled to an anonymous temporary
  file (disk, not memory) while it is hashed, then streamed from there.

Memory stays at a chunk or two whatever the size; blocking file calls run on worker threads. The
caller re-checks the digest while streaming, so a file changed between the two passes stores
nothing.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Any

from .data import DEFAULT_CHUNK_SIZE, BytesLike

__all__ = ["WriteData", "keyed_source"]

#: What ``write`` accepts: bytes-like, a path object, a binary file object, or an async iterable.
WriteData = BytesLike | os.PathLike[str] | IO[bytes] | AsyncIterable[bytes]


@asynccontextmanager
async def keyed_source(
    data: WriteData, keys: Any, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> AsyncIterator[tuple[str, BytesLike | AsyncIterator[bytes]]]:
    """``(digest, data to put)`` for ``data``; temporary files are removed on exit.

    Args:
        data: see `WriteData`.
        keys: a [`HashKeys`][asyncbitstore.hashing.HashKeys] (the algorithm).
        chunk_size: bytes per read.

    Raises:
        TypeError: ``data`` is none of the accepted kinds (a ``str`` included).
        FileNotFoundError: a path that does not exist (or any ``OSError`` reading it).
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield keys.digest(data), data
    elif isinstance(data, str):
        raise TypeError(
            "write() takes the data as bytes, not str: pass text.encode() to store it, or a "
            "pathlib.Path (os.PathLike) to upload a file; a str is never read as a file name"
        )
    elif isinstance(data, os.PathLike):
        file = await asyncio.to_thread(open, os.fspath(data), "rb")
        try:
            yield await _from_seekable(file, keys, chunk_size)
        finally:
            file.close()
    elif isinstance(data, AsyncIterable):
        async with _spooled(_async_chunks(data), keys, chunk_size) as pair:
            yield pair
    elif callable(getattr(data, "read", None)):
        if _seekable(data):
            yield await _from_seekable(data, keys, chunk_size)
        else:
            async with _spooled(_file_chunks(data, chunk_size), keys, chunk_size) as pair:
                yield pair
    else:
        raise TypeError(
            "write() takes bytes, a pathlib.Path, a binary file object or an async iterable "
            f"of bytes, not {type(data).__name__}"
        )


def _seekable(file: Any) -> bool:
    try:
        return bool(file.seekable())
    except (AttributeError, ValueError, OSError):
        return False


async def _from_seekable(
    file: IO[bytes], keys: Any, chunk_size: int
) -> tuple[str, AsyncIterator[bytes]]:
    start = await asyncio.to_thread(file.tell)
    hasher = keys.new()
    async for chunk in _file_chunks(file, chunk_size):
        hasher.update(chunk)
    await asyncio.to_thread(file.seek, start)
    return hasher.hexdigest(), _file_chunks(file, chunk_size)


async def _file_chunks(file: IO[bytes], chunk_size: int) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(file.read, chunk_size):
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"the file object returned {type(chunk).__name__}; open it in 'rb'")
        yield bytes(chunk)


async def _async_chunks(data: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    async for chunk in data:
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(f"async iterable yielded {type(chunk).__name__}, expected bytes")
        yield bytes(chunk)


@asynccontextmanager
async def _spooled(
    chunks: AsyncIterator[bytes], keys: Any, chunk_size: int
) -> AsyncIterator[tuple[str, AsyncIterator[bytes]]]:
    """Hash ``chunks`` while copying them to a temporary file; yield the digest and a reader."""
    spool: io.BufferedRandom = await asyncio.to_thread(tempfile.TemporaryFile, "w+b")
    try:
        hasher = keys.new()
        async for chunk in chunks:
            hasher.update(chunk)
            await asyncio.to_thread(spool.write, chunk)
        await asyncio.to_thread(spool.seek, 0)
        yield hasher.hexdigest(), _file_chunks(spool, chunk_size)
    finally:
        spool.close()  # anonymous: the file is gone once closed
