"""MemoryRaw quirks beyond the contract suite: the ``max_bytes`` LRU bound and pickling."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from asyncbitstore import MemoryRaw, NotFoundInStore, StoreFull


def _uri(name: str) -> str:
    return f"mem://lru/{name}"


async def _contents(store: MemoryRaw) -> list[str]:
    return [uri.removeprefix("mem://lru/") async for uri in store.list("mem://lru/")]


async def test_lru_evicts_the_least_recently_used_and_a_get_refreshes_recency() -> None:
    store = MemoryRaw(max_bytes=10)
    await store.put(_uri("a"), b"aaaa")
    await store.put(_uri("b"), b"bbbb")
    assert await store.get(_uri("a")) == b"aaaa"  # a is now more recent than b
    await store.put(_uri("c"), b"cccc")
    assert await _contents(store) == ["a", "c"]
    assert store.evictions == 1
    with pytest.raises(NotFoundInStore):
        await store.get(_uri("b"))

    await store.get_range(_uri("a"), 0, 1)  # a read of part of a blob is a use too
    await store.put(_uri("d"), b"dddd")
    assert await _contents(store) == ["a", "d"]
    assert store.evictions == 2


async def test_a_put_may_evict_several_blobs_oldest_first() -> None:
    store = MemoryRaw(max_bytes=10)
    for name in "abcde":
        await store.put(_uri(name), b"xx")
    assert store.used_bytes == 10
    await store.put(_uri("big"), b"y" * 7)
    assert await _contents(store) == ["big", "e"]
    assert store.used_bytes == 9
    assert store.evictions == 4


async def test_used_bytes_and_evictions_account_for_overwrites_and_deletes() -> None:
    store = MemoryRaw(max_bytes=10)
    await store.put(_uri("a"), b"aaaa")
    await store.put(_uri("b"), b"bb")
    assert store.used_bytes == 6
    await store.put(_uri("a"), b"a")  # shrink: no eviction
    assert (store.used_bytes, store.evictions) == (3, 0)
    await store.put(_uri("a"), bytearray(b"a" * 8))  # grow: fits with b
    assert (store.used_bytes, store.evictions) == (10, 0)
    await store.put(_uri("b"), b"bbb")  # overwriting b makes it the newest; a goes
    assert await _contents(store) == ["b"]
    assert (store.used_bytes, store.evictions) == (3, 1)
    await store.delete(_uri("b"))
    await store.delete(_uri("b"))
    assert (store.used_bytes, len(store)) == (0, 0)


async def test_an_overwrite_refreshes_recency() -> None:
    store = MemoryRaw(max_bytes=6)
    await store.put(_uri("a"), b"aa")
    await store.put(_uri("b"), b"bb")
    await store.put(_uri("a"), b"AA")
    await store.put(_uri("c"), b"cccc")
    assert await _contents(store) == ["a", "c"]


async def test_without_a_bound_nothing_is_evicted_and_used_bytes_still_counts() -> None:
    store = MemoryRaw()
    for index in range(100):
        await store.put(_uri(str(index)), b"x" * 1000)
    assert (len(store), store.used_bytes, store.evictions) == (100, 100_000, 0)


async def test_a_blob_larger_than_max_bytes_raises_store_full_and_stores_nothing() -> None:
    store = MemoryRaw(max_bytes=8)
    await store.put(_uri("keep"), b"keep")
    with pytest.raises(StoreFull) as caught:
        await store.put(_uri("huge"), b"h" * 9)
    assert _uri("huge") in str(caught.value)
    assert "max_bytes=8" in str(caught.value)
    assert not await store.exists(_uri("huge"))
    # An oversized overwrite keeps the old blob; nothing was evicted to make room.
    with pytest.raises(StoreFull):
        await store.put(_uri("keep"), b"k" * 9)
    assert await store.get(_uri("keep")) == b"keep"
    assert (store.used_bytes, store.evictions) == (4, 0)


async def test_max_bytes_zero_takes_only_empty_blobs() -> None:
    store = MemoryRaw(max_bytes=0)
    await store.put(_uri("empty"), b"")
    assert await store.get(_uri("empty")) == b""
    with pytest.raises(StoreFull):
        await store.put(_uri("one"), b"1")


async def test_a_streamed_put_counts_its_joined_size() -> None:
    async def chunks() -> Any:
        yield b"abc"
        yield b"def"

    store = MemoryRaw(max_bytes=5)
    with pytest.raises(StoreFull):
        await store.put(_uri("s"), chunks())
    assert len(store) == 0
    assert store.used_bytes == 0


@pytest.mark.parametrize("max_bytes", [-1, True, False, 1.5, "10"])
def test_invalid_max_bytes_raise_value_error(max_bytes: Any) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryRaw(max_bytes=max_bytes)


async def test_pickling_keeps_the_blobs_the_bound_and_the_recency() -> None:
    store = MemoryRaw(max_bytes=6)
    await store.put(_uri("a"), b"aa")
    await store.put(_uri("b"), b"bb")
    await store.get(_uri("a"))
    clone = pickle.loads(pickle.dumps(store))
    assert await clone.get(_uri("b")) == b"bb"
    assert (clone.max_bytes, clone.used_bytes) == (6, 4)
    # The clone is independent of the original.
    await clone.put(_uri("c"), b"cccc")
    assert await _contents(clone) == ["b", "c"]  # a was least recent once b was read
    assert await _contents(store) == ["a", "b"]


def test_name_shows_the_bound() -> None:
    assert MemoryRaw().name == "MemoryRaw"
    assert MemoryRaw(max_bytes=1024).name == "MemoryRaw(max_bytes=1024)"
