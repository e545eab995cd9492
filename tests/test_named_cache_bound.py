"""`PrefixCache(..., max_bytes=)`: least-recently-used eviction on files (surviving a restart)
and in memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asyncbitstore import FileRaw, InvalidURI, MemoryRaw, PrefixCache, S3Raw

KB = b"x" * 400


async def test_a_bounded_file_cache_evicts_the_oldest_and_remembers_after_reopening(
    tmp_path: Path,
) -> None:
    folder = f"{tmp_path}/cache/"
    async with PrefixCache(FileRaw(), folder, max_bytes=1000) as cache:
        await cache.put("img/a.png", KB)
        await cache.put("img/b.png", KB)
        assert sorted([k async for k in cache.list()]) == ["img/a.png", "img/b.png"]
        await cache.put("doc/c.txt", KB)
        assert not await cache.exists("img/a.png")
        assert await cache.get("img/b.png") == KB
        assert [k async for k in cache.list("img/")] == ["img/b.png"]
        assert [k async for k in cache.list("", flat=True)] == ["doc/", "img/"]
    # A new process: the index on disk says what is there and how recently it was used.
    async with PrefixCache(FileRaw(), folder, max_bytes=1000) as again:
        assert [k async for k in again.list()] == ["doc/c.txt", "img/b.png"]
        await again.put("d", KB)
        assert not await again.exists("img/b.png")
        assert await again.get("doc/c.txt") == KB
        used, blobs = await again.raw.usage()  # type: ignore[attr-defined]
        assert (used, blobs) == (800, 2)
    names = [name for _, _, files in os.walk(folder) for name in files]
    assert all("/" not in name for name in names) and len(names) == 3  # index + two blobs


async def test_a_bounded_file_cache_serves_local_paths(tmp_path: Path) -> None:
    async with PrefixCache(FileRaw(), f"{tmp_path}/c/", max_bytes=1000) as cache:
        await cache.put("a/b", b"local")
        async with cache.local_path("a/b") as path:
            assert path.read_bytes() == b"local"
            assert str(path).startswith(f"{tmp_path}/c/")


async def test_a_key_too_long_for_a_file_name_is_not_held_by_a_bounded_folder(
    tmp_path: Path,
) -> None:
    cache = PrefixCache(FileRaw(), f"{tmp_path}/c/", max_bytes=1000)
    long_key = "k" * 300
    assert PrefixCache(FileRaw(), f"{tmp_path}/u/").is_valid(long_key)
    assert not cache.is_valid(long_key)
    assert cache.declines(long_key, 1)
    with pytest.raises(InvalidURI, match="would not fit"):
        await cache.put(long_key, b"x")


async def test_a_bounded_memory_cache_evicts_the_least_recently_used() -> None:
    raw = MemoryRaw()
    cache = PrefixCache(raw, "mem://c/", max_bytes=1000)
    assert raw.max_bytes == 1000
    await cache.put("a", KB)
    await cache.put("b", KB)
    assert await cache.get("a") == KB  # now b is the least recently used
    await cache.put("c", KB)
    assert [k async for k in cache.list()] == ["a", "c"]
    assert raw.evictions == 1


def test_max_bytes_needs_a_store_that_can_bound() -> None:
    with pytest.raises(ValueError, match="FileRaw or a MemoryRaw"):
        PrefixCache(S3Raw(), "s3://b/c/", max_bytes=10)
    with pytest.raises(ValueError, match="empty, unbounded MemoryRaw"):
        PrefixCache(MemoryRaw(max_bytes=5), "mem://c/", max_bytes=10)
    with pytest.raises(ValueError):
        PrefixCache(MemoryRaw(), "mem://c/", max_bytes=-1)


async def test_a_bounded_file_cache_pickles_and_works_in_the_copy(tmp_path: Path) -> None:
    import pickle

    cache = PrefixCache(FileRaw(), f"{tmp_path}/c/", max_bytes=1000)
    await cache.put("a/b", b"kept")
    copy = pickle.loads(pickle.dumps(cache))
    assert await copy.get("a/b") == b"kept"
    await copy.aclose()
    await cache.aclose()
