"""`Composite(fill_ranges_below=...)`: a range read from a source fills the caches with the whole
blob in the background when it is small enough, so later ranges are cache hits."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from asyncbitstore import Composite, MemoryRaw, PrefixCache, PrefixStore, Sha1Composite
from asyncbitstore.hashing import Sha1Cache, Sha1Store

BLOB = bytes(range(256)) * 40  # 10,240 bytes


def named_chain(**options: object) -> tuple[Composite, PrefixCache, PrefixStore]:
    cache = PrefixCache(MemoryRaw(), "mem://hot/")
    source = PrefixStore(MemoryRaw(), "mem://src/")
    chain = Composite(**options)  # type: ignore[arg-type]
    chain.append_cache(cache, name="cache")
    chain.append_source(source, name="source", cache_result=True)
    return chain, cache, source


async def test_a_range_from_the_source_fills_the_cache_with_the_whole_blob() -> None:
    chain, cache, source = named_chain()
    await source.put("a/b.bin", BLOB)
    assert await chain.get_range("a/b.bin", 100, 200) == BLOB[100:200]
    await chain.flush()
    assert await cache.get("a/b.bin") == BLOB
    stats = chain.stats
    assert stats.fills_done == 1
    assert stats.tier("source").hits == 1
    chain.reset_stats()
    assert await chain.get_range("a/b.bin", 5000, 6000) == BLOB[5000:6000]
    stats = chain.stats
    assert stats.tier("cache").hits == 1
    assert stats.tier("source").calls == 0


async def test_one_whole_blob_fetch_per_key_at_a_time() -> None:
    chain, cache, source = named_chain()
    await source.put("a/b.bin", BLOB)
    size, running, most, calls = source.size, 0, 0, 0

    async def slow_size(uri: str) -> int:  # how the fill learns the blob's size
        nonlocal running, most, calls
        running, calls = running + 1, calls + 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        return await size(uri)

    source.size = slow_size  # type: ignore[method-assign]
    starts = range(0, 1000, 100)
    reads = [chain.get_range("a/b.bin", start, start + 10) for start in starts]
    assert await asyncio.gather(*reads) == [BLOB[start : start + 10] for start in starts]
    await chain.flush()
    assert most == 1
    assert calls == 1  # every read was over before the fetch ended
    assert chain.stats.fills_done == 1
    assert await cache.get("a/b.bin") == BLOB


@pytest.mark.parametrize("limit", [0, len(BLOB) - 1])
async def test_no_fill_when_off_or_over_the_limit(limit: int) -> None:
    chain, cache, source = named_chain(fill_ranges_below=limit)
    await source.put("a/b.bin", BLOB)
    assert await chain.get_range("a/b.bin", 0, 10) == BLOB[:10]
    await chain.flush()
    assert not await cache.exists("a/b.bin")
    assert chain.stats.fills_done == 0


async def test_exactly_the_limit_is_filled() -> None:
    chain, cache, source = named_chain(fill_ranges_below=len(BLOB))
    await source.put("a/b.bin", BLOB)
    await chain.get_range("a/b.bin", 0, 10)
    await chain.flush()
    assert await cache.get("a/b.bin") == BLOB


@pytest.mark.parametrize("bad", [-1, 1.5, True, "64"])
def test_fill_ranges_below_is_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="fill_ranges_below"):
        Composite(fill_ranges_below=bad)  # type: ignore[arg-type]


async def test_a_put_during_the_whole_blob_fetch_leaves_no_old_copy() -> None:
    chain, cache, source = named_chain()
    await source.put("a/b.bin", BLOB)
    chain.append_source(PrefixStore(MemoryRaw(), "mem://w/"), name="writer", write=True)
    await chain.get_range("a/b.bin", 0, 10)  # the fetch runs in the background
    await source.put("a/b.bin", b"newer")  # the content changes at the source ...
    await chain.put("a/b.bin", b"newer")  # ... and the chain is told by a put
    await chain.flush()
    assert not await cache.exists("a/b.bin")


async def test_content_addressed_chains_fill_after_a_range_too() -> None:
    key = hashlib.sha1(BLOB).hexdigest()
    cache, source = Sha1Cache(MemoryRaw(), "mem://c/"), Sha1Store(MemoryRaw(), "mem://s/")
    chain = Sha1Composite()
    chain.append_cache(cache, name="cache")
    chain.append_source(source, name="source", cache_result=True)
    await source.put(key, BLOB)
    assert await chain.get_range(key, 1, 3) == BLOB[1:3]
    await chain.flush()
    assert await cache.get(key) == BLOB
    chain.reset_stats()
    assert await chain.get_range(key, 7, 9) == BLOB[7:9]
    assert chain.stats.tier("cache").hits == 1
