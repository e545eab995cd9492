"""A streamed put into a bounded store stops as soon as it outgrows the bound.

A 24 MiB stream into a 1 MiB cache must be refused after about 1 MiB has been read from it, not
written whole and then removed: the error is the one a too-big bytes put gets (``StoreFull``),
nothing is visible under the key, and no temporary file is left behind.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, MemoryRaw, StoreFull
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.raw.sqlite import SqliteRaw

MiB = 1 << 20
CHUNK = 64 << 10
NAME = "abcd" + "0" * 36


class Source:
    """A 24 MiB async stream that counts the bytes taken from it."""

    def __init__(self, total: int = 24 * MiB) -> None:
        self.total = total
        self.consumed = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.consumed < self.total:
            self.consumed += CHUNK
            yield b"\xab" * CHUNK


def _files(folder: Path) -> list[str]:
    return sorted(str(Path(p, n).relative_to(folder)) for p, _, ns in os.walk(folder) for n in ns)


async def test_a_stream_bigger_than_a_bounded_cache_stops_at_the_bound(tmp_path: Path) -> None:
    cache = BoundedFileRaw(FileRaw(), f"{tmp_path}/", MiB)
    uri = f"{tmp_path}/{NAME}"
    source = Source()
    with pytest.raises(StoreFull) as caught:
        await cache.put(uri, source.chunks())
    assert "max_bytes" in str(caught.value) and uri in str(caught.value)
    assert source.consumed <= MiB + CHUNK
    assert not await cache.exists(uri)
    assert [f for f in _files(tmp_path) if not f.startswith(".abs-index")] == []
    assert await cache.usage() == (0, 0)
    await cache.aclose()


async def test_a_stream_that_fits_a_bounded_cache_is_kept(tmp_path: Path) -> None:
    cache = BoundedFileRaw(FileRaw(), f"{tmp_path}/", MiB)
    uri = f"{tmp_path}/{NAME}"
    source = Source(MiB)
    await cache.put(uri, source.chunks())
    assert await cache.size(uri) == MiB and await cache.usage() == (MiB, 1)
    await cache.aclose()


async def test_a_stream_bigger_than_a_bounded_memory_store_stops_at_the_bound() -> None:
    store = MemoryRaw(max_bytes=MiB)
    source = Source()
    with pytest.raises(StoreFull):
        await store.put("mem://bound/blob", source.chunks())
    assert source.consumed <= MiB + CHUNK
    assert not await store.exists("mem://bound/blob")


async def test_a_stream_bigger_than_a_bounded_sqlite_store_stops_at_the_bound(
    tmp_path: Path,
) -> None:
    store = SqliteRaw(str(tmp_path / "blobs.db"), max_bytes=MiB)
    uri = store.base + "blob"
    source = Source()
    with pytest.raises(StoreFull):
        await store.put(uri, source.chunks())
    assert source.consumed <= MiB + CHUNK
    assert not await store.exists(uri)
    await store.aclose()
    assert [f for f in _files(tmp_path) if not f.startswith("blobs.db")] == []
