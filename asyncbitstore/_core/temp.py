"""Temporary files: the name prefix every backend hides from listings, and private copies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["TEMP_PREFIX", "remove_quietly", "temporary_copy"]

#: Names of files (and keys) being written: never listed, never served, cleaned up on failure.
TEMP_PREFIX = ".abstmp-"


@contextlib.asynccontextmanager
async def temporary_copy(chunks: AsyncIterator[bytes]) -> AsyncIterator[Path]:
    """Write ``chunks`` to a temporary file, yield its path, remove it on exit.

    The first chunk is read before the file is created, so a stream that fails at once (a
    missing blob) leaves nothing behind. The stream is closed on every path.
    """
    try:
        first = await anext(chunks, b"")
        fd, path = await asyncio.to_thread(tempfile.mkstemp, prefix="asyncbitstore-")
        try:
            with os.fdopen(fd, "wb") as file:
                chunk = first
                while chunk:
                    await asyncio.to_thread(file.write, chunk)
                    chunk = await anext(chunks, b"")
            os.chmod(path, stat.S_IRUSR)
            yield Path(path)
        finally:
            await asyncio.to_thread(remove_quietly, path)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


def remove_quietly(path: str) -> None:
    """Unlink ``path``; a file already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
