"""Local files for the ``bitstore`` command: streamed reads and atomic writes, off the loop.

Every blocking file call goes to a worker thread, a chunk at a time, so memory stays at about
one chunk whatever the blob's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from .._core.data import DEFAULT_CHUNK_SIZE
from ._run import Failure

__all__ = ["hash_input", "open_input", "read_chunks", "write_stream"]


async def read_chunks(
    file: IO[bytes], chunk_size: int = DEFAULT_CHUNK_SIZE
) -> AsyncIterator[bytes]:
    """The rest of ``file`` in chunks."""
    while chunk := await asyncio.to_thread(file.read, chunk_size):
        yield chunk


def _hash_and_spool(name: str, hasher: Any) -> IO[bytes]:
    """``name`` (``-``: stdin) opened for reading, hashed into ``hasher`` unless it is None;
    stdin is spooled (so an upload that is retried can read it again)."""
    if name != "-" and hasher is None:
        return open(name, "rb")
    if name != "-":
        with open(name, "rb") as file:
            while chunk := file.read(DEFAULT_CHUNK_SIZE):
                hasher.update(chunk)
        return open(name, "rb")
    spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - returned open
    while chunk := sys.stdin.buffer.read(DEFAULT_CHUNK_SIZE):
        if hasher is not None:
            hasher.update(chunk)
        spool.write(chunk)
    spool.seek(0)
    return spool


async def hash_input(name: str, hasher: Any) -> IO[bytes]:
    """Read ``name`` once to hash it, and return it open at the start for the upload."""
    return await asyncio.to_thread(_hash_and_spool, name, hasher)


async def open_input(name: str) -> IO[bytes]:
    """``name`` (``-``: stdin, spooled) open at the start for an upload."""
    return await asyncio.to_thread(_hash_and_spool, name, None)


async def write_stream(chunks: AsyncIterator[bytes], output: str | None) -> int:
    """Write ``chunks`` to stdout (``output`` None or ``-``) or to a file; return the bytes.

    Nothing is created before the first chunk arrives (a missing blob leaves no file), and a
    file appears whole or not at all: it is written beside its final name, then renamed.
    """
    first = await anext(aiter(chunks), None)
    if output in (None, "-"):
        target: IO[bytes] = sys.stdout.buffer
        total = await _copy_out(first, chunks, target)
        await asyncio.to_thread(target.flush)
        return total
    assert output is not None
    try:
        return await _write_file(first, chunks, output)
    except OSError as exc:
        raise Failure(
            f"cannot write {output}: {exc.strerror or exc}; "
            "check that its folder exists, is writable and has room"
        ) from exc


async def _write_file(first: bytes | None, chunks: AsyncIterator[bytes], output: str) -> int:
    # The temporary file goes in the folder as written (not normalized): "a/../b" needs "a".
    folder = os.path.dirname(output) or "."
    fd, temp = await asyncio.to_thread(tempfile.mkstemp, prefix=".bitstore-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            total = await _copy_out(first, chunks, file)
        await asyncio.to_thread(_publish, temp, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return total


def _publish(temp: str, output: str) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)  # mkstemp made it private; give it a new file's mode
    os.replace(temp, output)


async def _copy_out(first: bytes | None, chunks: AsyncIterator[bytes], file: IO[bytes]) -> int:
    total = 0
    chunk = first
    while chunk is not None:
        await asyncio.to_thread(file.write, chunk)
        total += len(chunk)
        chunk = await anext(chunks, None)
    return total
