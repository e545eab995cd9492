"""``write()`` on content-addressed stores and chains uploads nothing for a digest already
stored, and counts the skip (``writes_skipped``)."""

from __future__ import annotations

import hashlib
from typing import Any

from asyncbitstore import HashStore, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store

DATA = b"content named by its digest"
KEY = hashlib.sha1(DATA).hexdigest()


class CountingRaw(MemoryRaw):
    """A memory store that counts the writes that reach it."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def _put_stored(self, *args: Any) -> None:
        self.puts += 1
        await super()._put_stored(*args)


async def test_a_keyed_store_writes_a_blob_once() -> None:
    raw = CountingRaw()
    store = Sha1Store(raw, "mem://b/")
    assert await store.write(DATA) == KEY
    assert await store.write(DATA) == KEY
    assert await store.write(bytearray(DATA)) == KEY
    assert raw.puts == 1
    assert store.writes_skipped == 2
    assert await store.get(KEY) == DATA


async def test_a_streamed_write_is_skipped_too() -> None:
    raw = CountingRaw()
    store = HashStore(raw, "mem://b/", algorithm="sha256")

    async def chunks() -> Any:
        yield DATA[:4]
        yield DATA[4:]

    key = await store.write(DATA)
    assert await store.write(chunks()) == key
    assert raw.puts == 1
    assert store.writes_skipped == 1


async def test_a_chain_asks_its_first_writable_source_and_counts_in_its_stats() -> None:
    cache_raw, source_raw = CountingRaw(), CountingRaw()
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(cache_raw, "mem://cache/"))
    chain.append_source(Sha1Store(source_raw, "mem://src/"), write=True)
    async with chain:
        assert await chain.write(DATA) == KEY
        assert await chain.write(DATA) == KEY
        assert source_raw.puts == 1
        assert chain.stats.writes_skipped == 1
        chain.reset_stats()
        assert chain.stats.writes_skipped == 0


async def test_a_copy_in_a_cache_alone_does_not_skip_the_upload() -> None:
    cache_raw, source_raw = CountingRaw(), CountingRaw()
    cache = Sha1Cache(cache_raw, "mem://cache/")
    await cache.put(KEY, DATA)
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(Sha1Store(source_raw, "mem://src/"), write=True)
    async with chain:
        assert await chain.write(DATA) == KEY
    assert source_raw.puts == 1
    assert chain.stats.writes_skipped == 0
