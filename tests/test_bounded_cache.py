"""The bounded disk cache: eviction order, the bound, restarts, readers, and shared folders."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from asyncbitstore import (
    FileRaw,
    InvalidURI,
    MemoryRaw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreFull,
)
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.raw.file._index import INDEX_NAME
from asyncbitstore.raw.file._layout import scan
from asyncbitstore.wrappers import Fanout

KIB = 1024


def blob(i: int, size: int = KIB) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (size // 32) + bytes(size % 32)


def name(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def lru(folder: Path, max_bytes: int, **options: object) -> BoundedFileRaw:
    """A cache that records every use at once (no batching), so the order is exact."""
    return BoundedFileRaw(FileRaw(), f"{folder}/", max_bytes, resolution=0, **options)  # type: ignore[arg-type]


async def fill(cache: BoundedFileRaw, blobs: list[bytes]) -> list[str]:
    uris = [cache.prefix + name(b) for b in blobs]
    for uri, data in zip(uris, blobs, strict=True):
        await cache.put(uri, data)
    return uris


def on_disk(folder: Path) -> int:
    return sum(size for _, size, _ in scan(str(folder)))


async def test_least_recently_used_blobs_go_first_and_the_bound_holds(tmp_path: Path) -> None:
    cache = lru(tmp_path, 10 * KIB)
    uris = await fill(cache, [blob(i) for i in range(10)])
    assert await cache.usage() == (10 * KIB, 10)
    assert await cache.get(uris[0]) == blob(0)  # now the most recent
    await cache.get_range(uris[1], 0, 10)  # a range read counts too
    new = await fill(cache, [blob(10), blob(11, 2 * KIB)])
    present = [await cache.exists(u) for u in uris]
    assert present == [True, True, False, False, False, *[True] * 5]
    assert all([await cache.exists(u) for u in new])
    assert cache.evictions == 3
    assert await cache.usage() == (10 * KIB, 9) == (on_disk(tmp_path), 9)
    await cache.aclose()


async def test_get_many_reads_in_batches_and_counts_hits_as_uses(tmp_path: Path) -> None:
    cache = lru(tmp_path, 8 * KIB)
    uris = await fill(cache, [blob(i) for i in range(8)])
    missing = cache.prefix + "f" * 40
    got = await cache.get_many([uris[1], missing, uris[0]], concurrency=2)
    assert got == [blob(1), None, blob(0)]
    await fill(cache, [blob(8), blob(9)])  # evicts 2 and 3, not the two just read
    assert [await cache.exists(u) for u in uris[:4]] == [True, True, False, False]
    await cache.aclose()


async def test_a_blob_bigger_than_the_bound_is_refused(tmp_path: Path) -> None:
    cache = lru(tmp_path, 4 * KIB)
    with pytest.raises(StoreFull, match="5120 bytes exceed max_bytes=4096"):
        await cache.put(cache.prefix + "abcdef", blob(1, 5 * KIB))

    async def chunks() -> object:
        for _ in range(5):
            yield blob(2)

    with pytest.raises(StoreFull):
        await cache.put(cache.prefix + "abcdeg", chunks())  # type: ignore[arg-type]
    assert on_disk(tmp_path) == 0 and await cache.usage() == (0, 0)
    assert cache.declines(cache.prefix + "abcdef", 5 * KIB)
    await cache.aclose()


async def test_without_eviction_a_full_cache_refuses_and_fanout_spills_over(
    tmp_path: Path,
) -> None:
    first = lru(tmp_path / "fast", 3 * KIB, evict=False)
    await fill(first, [blob(0), blob(1), blob(2)])
    with pytest.raises(StoreFull, match="no room without evicting"):
        await fill(first, [blob(3)])
    assert on_disk(tmp_path / "fast") == 3 * KIB  # the refused blob is gone again
    await first.delete(first.prefix + name(blob(2)))

    fast = Sha1Cache(first, first.prefix)
    slow = Sha1Cache(FileRaw(), f"{tmp_path}/slow/", max_bytes=100 * KIB)
    fan = Fanout(fast, slow)
    for i in (2, 3, 4):
        await fan.put(name(blob(i)), blob(i))
    assert [await fast.exists(name(blob(i))) for i in (2, 3, 4)] == [True, False, False]
    assert [await slow.exists(name(blob(i))) for i in (2, 3, 4)] == [False, True, True]
    assert await fan.get_many([name(blob(i)) for i in range(5)]) == [blob(i) for i in range(5)]
    await fan.aclose()


async def test_restart_keeps_usage_and_recency(tmp_path: Path) -> None:
    cache = lru(tmp_path, 5 * KIB)
    uris = await fill(cache, [blob(i) for i in range(5)])
    await cache.get(uris[0])
    await cache.aclose()  # writes the pending use of uris[0]

    reopened = lru(tmp_path, 5 * KIB)
    assert await reopened.usage() == (5 * KIB, 5)
    await fill(reopened, [blob(5)])
    assert await reopened.exists(uris[0]) and not await reopened.exists(uris[1])
    await reopened.aclose()


async def test_a_lost_index_is_rebuilt_from_the_folder(tmp_path: Path) -> None:
    cache = lru(tmp_path, 100 * KIB)
    await fill(cache, [blob(i, (i + 1) * KIB) for i in range(4)])
    await cache.aclose()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / (INDEX_NAME + suffix)).unlink(missing_ok=True)
    reopened = lru(tmp_path, 100 * KIB)
    assert await reopened.usage() == (10 * KIB, 4)
    await reopened.aclose()


async def test_blobs_live_in_two_levels_of_subfolders_and_only_they_are_listed(
    tmp_path: Path,
) -> None:
    cache = lru(tmp_path, 100 * KIB)
    uris = await fill(cache, [blob(i) for i in range(3)])
    key = name(blob(0))
    assert (tmp_path / key[:2] / key[2:4] / key).read_bytes() == blob(0)
    (tmp_path / "stray-file").write_bytes(b"x")
    assert [u async for u in cache.list()] == sorted(uris)
    assert [u async for u in cache.list(cache.prefix + key[:3])] == [cache.prefix + key]
    assert (tmp_path / INDEX_NAME).exists()
    await cache.delete(uris[0])
    assert await cache.usage() == (2 * KIB, 2)
    await cache.aclose()


async def test_a_blob_being_streamed_is_not_evicted_until_the_stream_closes(
    tmp_path: Path,
) -> None:
    reader = lru(tmp_path, 8 * KIB)
    writer = lru(tmp_path, 8 * KIB)  # another instance: its own descriptors, like a process
    streamed = (await fill(writer, [blob(0, 4 * KIB)]))[0]
    chunks = reader.stream(streamed, chunk_size=KIB)
    assert await anext(chunks) == blob(0, 4 * KIB)[:KIB]
    await fill(writer, [blob(i) for i in range(1, 9)])  # eight more KiB: over the bound
    assert await writer.exists(streamed)
    used, _ = await writer.usage()
    assert used <= 8 * KIB + 4 * KIB  # the bound holds within the one blob being read
    rest = [c async for c in chunks]
    assert b"".join([blob(0, 4 * KIB)[:KIB], *rest]) == blob(0, 4 * KIB)
    await fill(writer, [blob(9)])
    assert not await writer.exists(streamed)
    assert await writer.usage() == (on_disk(tmp_path), 5) == (5 * KIB, 5)
    await reader.aclose()
    await writer.aclose()


async def test_sha1_cache_with_max_bytes_in_a_chain_stays_bounded(tmp_path: Path) -> None:
    source = Sha1Store(MemoryRaw(), "mem://source/")
    keys = [await source.write(blob(i)) for i in range(20)]
    cache = Sha1Cache(FileRaw(), f"{tmp_path}/cache/", max_bytes=8 * KIB)
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(source, cache_result=True)
    for key in keys:
        assert await chain.get(key) == source_blob(source, key)
        await chain.flush()
    assert isinstance(cache.raw, BoundedFileRaw)
    assert on_disk(tmp_path / "cache") <= 8 * KIB
    assert await cache.get_many(keys[-2:]) == [blob(18), blob(19)]
    with pytest.raises(StoreFull):
        await cache.put_or_raise(await source.write(blob(99, 9 * KIB)), blob(99, 9 * KIB))
    await chain.aclose()


def source_blob(source: Sha1Store, key: str) -> bytes:
    raw = source.raw
    assert isinstance(raw, MemoryRaw)
    return raw._blobs[source.prefix + key]


def test_constructor_checks() -> None:
    with pytest.raises(TypeError, match="needs a FileRaw"):
        Sha1Cache(MemoryRaw(), "mem://x/", max_bytes=10)
    with pytest.raises(ValueError, match="ending in '/'"):
        Sha1Cache(FileRaw(), "/tmp/cache-", max_bytes=10)
    with pytest.raises(InvalidURI):
        BoundedFileRaw(FileRaw("/srv"), "/tmp/cache/", 10)
    with pytest.raises(ValueError, match="max_bytes"):
        BoundedFileRaw(FileRaw(), "/tmp/cache/", -1)


# -- several processes on one folder --------------------------------------------------------------

BLOBS = 120
ROUNDS = 400


def _shared_blobs() -> list[bytes]:
    rng = random.Random(7)
    return [blob(i, rng.randrange(1, 16) * KIB) for i in range(BLOBS)]


def _hammer(folder: str, seed: int, max_bytes: int) -> tuple[int, int]:
    return asyncio.run(_hammer_async(folder, seed, max_bytes))


async def _hammer_async(folder: str, seed: int, max_bytes: int) -> tuple[int, int]:
    rng = random.Random(seed)
    blobs = _shared_blobs()
    cache = BoundedFileRaw(FileRaw(), folder, max_bytes, resolution=0, flush_interval=0.01)
    uris = [cache.prefix + name(b) for b in blobs]
    hits = misses = 0
    for _ in range(ROUNDS):
        picks = rng.sample(range(BLOBS), 12)
        await cache.put_many((uris[i], blobs[i]) for i in picks[:4])
        for i, data in zip(picks, await cache.get_many([uris[i] for i in picks]), strict=True):
            assert data is None or data == blobs[i], "corrupt blob"
            hits, misses = hits + (data is not None), misses + (data is None)
        i = picks[-1]
        if await cache.exists(uris[i]):
            try:
                streamed = b"".join([c async for c in cache.stream(uris[i], chunk_size=4096)])
            except KeyError:  # evicted between exists() and the stream's open
                continue
            assert streamed == blobs[i], "corrupt stream"
    await cache.aclose()
    return hits, misses


def test_two_processes_share_one_folder_without_corruption(tmp_path: Path) -> None:
    max_bytes = 200 * KIB
    folder = f"{tmp_path}/shared/"
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        runs = [pool.submit(_hammer, folder, seed, max_bytes) for seed in (1, 2)]
        outcomes = [run.result(timeout=100) for run in runs]
    assert all(hits > 0 for hits, _ in outcomes)
    largest = max(len(b) for b in _shared_blobs())
    disk = on_disk(tmp_path / "shared")
    assert disk <= max_bytes + largest
    check = BoundedFileRaw(FileRaw(), folder, max_bytes)
    used, count = asyncio.run(check.usage())
    assert used == disk and count == len(scan(str(tmp_path / "shared")))
    asyncio.run(check.aclose())
    temps = [p for p in (tmp_path / "shared").rglob("*") if p.name.startswith(".abstmp-")]
    assert temps == []
    assert {p.name for p in (tmp_path / "shared").iterdir() if p.is_file()} <= {
        INDEX_NAME,
        INDEX_NAME + "-wal",
        INDEX_NAME + "-shm",
    }
    assert os.path.getsize(tmp_path / "shared" / INDEX_NAME) > 0


async def test_hits_are_written_to_the_index_in_batches_not_one_by_one(tmp_path: Path) -> None:
    cache = BoundedFileRaw(
        FileRaw(), f"{tmp_path}/", 1 << 20, flush_every=100, flush_interval=3600, resolution=0
    )
    uris = await fill(cache, [blob(i, 64) for i in range(250)])
    writes: list[int] = []
    touch = cache._index.touch
    cache._index.touch = lambda uses: (writes.append(len(uses)), touch(uses))[1]  # type: ignore[method-assign]
    for uri in uris:
        await cache.get(uri)
    if cache._flushes:  # the background writes run on the worker threads
        await asyncio.wait(set(cache._flushes))
    assert writes == [100, 100]
    await cache.aclose()
    assert writes == [100, 100, 50]


async def test_repeated_hits_within_the_resolution_are_recorded_once(tmp_path: Path) -> None:
    cache = BoundedFileRaw(FileRaw(), f"{tmp_path}/", 1 << 20, resolution=60, flush_every=1)
    writes: list[list[tuple[float, str]]] = []
    touch = cache._index.touch
    cache._index.touch = lambda uses: (writes.append(uses), touch(uses))[1]  # type: ignore[method-assign]
    uri = (await fill(cache, [blob(1)]))[0]
    for _ in range(500):
        await cache.get(uri)
    await cache.aclose()
    assert writes == []  # the write itself recorded the use; hits within 60 s add nothing


async def test_a_stream_cancelled_while_opening_leaves_no_lock_behind(tmp_path: Path) -> None:
    cache = lru(tmp_path, 4 * KIB)
    first = (await fill(cache, [blob(0, 2 * KIB)]))[0]
    opening = asyncio.ensure_future(anext(cache.stream(first)))
    await asyncio.sleep(0)  # the open is now on a worker thread
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    await asyncio.sleep(0.05)
    await fill(cache, [blob(1, 2 * KIB), blob(2, 2 * KIB)])  # must evict the first blob
    assert not await cache.exists(first)
    await cache.aclose()
