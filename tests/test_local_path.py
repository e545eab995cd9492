"""store.local_path(): a real local file for a blob, pinned against eviction until the exit."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from asyncbitstore import (
    FileRaw,
    MemoryRaw,
    NotFoundInStore,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)


def _blob(i: int, size: int = 4096) -> bytes:
    return i.to_bytes(4, "little") * (size // 4)


def _key(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


async def test_a_file_store_yields_the_blobs_own_file(tmp_path: Path) -> None:
    store = FileRaw()
    uri = f"{tmp_path}/a/blob"
    await store.put(uri, b"hello")
    async with store.local_path(uri) as path:
        assert path == Path(uri)
        assert path.read_bytes() == b"hello"
    assert await store.exists(uri)  # the store's own file is kept
    with pytest.raises(NotFoundInStore):
        async with store.local_path(f"{tmp_path}/a/missing"):
            pass
    await store.aclose()


async def test_a_remote_store_yields_a_read_only_temporary_copy_removed_on_exit() -> None:
    store = MemoryRaw()
    await store.put("mem://x/blob", b"remote bytes")
    async with store.local_path("mem://x/blob") as path:
        assert path.read_bytes() == b"remote bytes"
        assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert not path.exists()
    with pytest.raises(NotFoundInStore):
        async with store.local_path("mem://x/missing"):
            pass


async def test_a_chain_fetches_into_its_local_cache_and_yields_that_file(tmp_path: Path) -> None:
    source = Sha1Store(MemoryRaw(), "mem://src/")
    cache = Sha1Cache(FileRaw(), f"{tmp_path}/cache/", max_bytes=1 << 20)
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(source)  # no cache_result: local_path fills the cache itself
    data = _blob(1)
    key = _key(data)
    await source.put(key, data)
    async with chain:
        async with chain.local_path(key) as path:
            assert path.is_relative_to(tmp_path / "cache")
            assert path.read_bytes() == data
        assert await cache.exists(key)
        with pytest.raises(NotFoundInStore):
            async with chain.local_path(_key(b"absent")):
                pass


async def test_a_chain_without_a_local_tier_falls_back_to_a_temporary_copy() -> None:
    source = Sha1Store(MemoryRaw(), "mem://src/")
    chain = Sha1Composite()
    chain.append_source(source)
    data = _blob(2)
    await source.put(_key(data), data)
    async with chain.local_path(_key(data)) as path:
        assert path.read_bytes() == data
    assert not path.exists()


async def _under_pressure(tmp_path: Path, held_keys: int) -> tuple[list[str], list[Path], int]:
    """Hold local paths of ``held_keys`` blobs while 48 others churn through an 8-blob cache."""
    source = Sha1Store(MemoryRaw(), "mem://src/")
    cache = Sha1Cache(FileRaw(), f"{tmp_path}/cache/", max_bytes=8 * 4096)  # room for 8 blobs
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(source, cache_result=True)
    blobs = [_blob(i) for i in range(64)]
    await source.put_many([(_key(b), b) for b in blobs])
    vanished: list[str] = []
    paths: list[Path] = []

    async def hold(i: int) -> None:
        data = blobs[i]
        async with chain.local_path(_key(data)) as path:
            paths.append(path)
            for _ in range(5):
                await asyncio.sleep(0.002)  # others fill (and evict) meanwhile
                if not path.exists() or hashlib.sha1(path.read_bytes()).hexdigest() != _key(data):
                    vanished.append(str(path))

    async def pressure() -> None:
        for round_ in range(3):
            for i in range(16, 64):
                await cache.put(_key(blobs[i]), blobs[i])  # writes that force evictions
                if i % 4 == round_:
                    await asyncio.sleep(0)

    async with chain:
        await asyncio.gather(pressure(), *(hold(i % held_keys) for i in range(48)))
    leftovers = [p for p in (tmp_path / "cache").rglob(".abstmp-*")]
    assert leftovers == []  # every private pin link is gone
    return vanished, paths, cache.raw.evictions  # type: ignore[attr-defined]


async def test_local_paths_never_vanish_under_concurrent_eviction_pressure(tmp_path: Path) -> None:
    vanished, paths, evictions = await _under_pressure(tmp_path, held_keys=4)
    assert vanished == []
    assert evictions > 50
    assert len(paths) == 48
    assert all(p.is_relative_to(tmp_path / "cache") for p in paths)  # served from the cache


async def test_more_pinned_blobs_than_the_cache_holds_fall_back_to_copies(tmp_path: Path) -> None:
    vanished, paths, evictions = await _under_pressure(tmp_path, held_keys=16)
    assert vanished == []
    assert len(paths) == 48 and evictions > 50
    assert all(not p.exists() for p in paths if not p.is_relative_to(tmp_path / "cache"))
