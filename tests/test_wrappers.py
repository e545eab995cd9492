"""Small and Fanout: which writes each takes, where reads look, and how they sit in a chain."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import (
    MemoryRaw,
    NotFoundInStore,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreFull,
    StoreNotAvailable,
)
from asyncbitstore._core.data import PutData, as_bytes
from asyncbitstore.testing import FaultyStore
from asyncbitstore.wrappers import Fanout, Small, declines


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


class Capped(MemoryRaw):
    """A memory store that refuses writes beyond ``capacity`` bytes instead of evicting."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity

    async def put(self, uri: str, data: PutData) -> None:
        blob = await as_bytes(data)
        if self.used_bytes + len(blob) > self.capacity:
            raise StoreFull(self, uri, "capacity reached")
        await super().put(uri, blob)


# -- Small --------------------------------------------------------------------------------------


async def test_small_writes_blobs_up_to_max_size_and_refuses_bigger_ones_clearly() -> None:
    inner = MemoryRaw()
    small = Small(inner, 4)
    await small.put("mem://s/fits", b"1234")
    with pytest.raises(StoreFull, match=r"5 bytes exceed max_size=4") as caught:
        await small.put("mem://s/big", b"12345")
    assert "mem://s/big" in str(caught.value) and "Small(MemoryRaw" in str(caught.value)
    assert await inner.get("mem://s/fits") == b"1234"
    assert not await inner.exists("mem://s/big")
    assert small.declines("mem://s/x", 5) and not small.declines("mem://s/x", 4)


async def test_small_buffers_a_stream_and_stops_reading_once_it_is_too_big() -> None:
    inner = MemoryRaw()
    small = Small(inner, 10)
    pulled: list[bytes] = []

    async def endless() -> AsyncIterator[bytes]:
        while True:
            pulled.append(b"abcd")
            yield b"abcd"

    with pytest.raises(StoreFull, match="the stream exceed max_size=10"):
        await small.put("mem://s/endless", endless())
    assert len(pulled) == 3  # 12 bytes seen: no more is read
    await small.put("mem://s/ok", _chunks(b"abc", b"def"))
    assert await inner.get("mem://s/ok") == b"abcdef"
    assert len(inner) == 1


async def test_small_reads_and_deletes_pass_through() -> None:
    inner = MemoryRaw()
    await inner.put("mem://s/big", b"x" * 100)  # written around the wrapper
    small = Small(inner, 10)
    assert await small.get("mem://s/big") == b"x" * 100
    assert await small.size("mem://s/big") == 100
    assert await small.get_range("mem://s/big", 5, 8) == b"xxx"
    assert [u async for u in small.list("mem://s/")] == ["mem://s/big"]
    await small.delete("mem://s/big")
    assert not await inner.exists("mem://s/big")


async def test_small_over_a_cache_still_refuses_big_blobs_on_both_puts() -> None:
    cache = Sha1Cache(MemoryRaw(), "mem://c/")
    small = Small(cache, 8)
    big = b"too big for it"
    key = hashlib.sha1(big).hexdigest()
    with pytest.raises(StoreFull):
        await small.put(key, big)
    with pytest.raises(StoreFull):
        await small.put_or_raise(key, big)
    assert cache.put_failures == 0  # refused before the cache was asked
    assert not await cache.exists(key)


async def test_small_cache_in_a_chain_keeps_only_small_blobs() -> None:
    source = Sha1Store(MemoryRaw(), "mem://src/")
    blobs = [b"tiny", b"a blob that is far bigger than the cache takes"]
    keys = [await source.write(b) for b in blobs]
    cache = Sha1Cache(MemoryRaw(), "mem://cache/")
    chain = Sha1Composite()
    chain.append_cache(Small(cache, 16))
    chain.append_source(source, cache_result=True)
    assert await chain.get_many(keys) == blobs
    await chain.flush()
    assert await cache.exists(keys[0])
    assert not await cache.exists(keys[1])
    assert await chain.get(keys[1]) == blobs[1]  # still served from the source


def test_small_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="max_size"):
        Small(MemoryRaw(), -1)
    with pytest.raises(TypeError):
        Small("mem://", 1)  # type: ignore[arg-type]


# -- Fanout -------------------------------------------------------------------------------------


async def test_fanout_writes_to_the_first_store_with_room_and_reads_from_all() -> None:
    first, second = Capped(10), Capped(100)
    fan = Fanout(first, second)
    await fan.put("mem://f/a", b"12345678")
    await fan.put("mem://f/b", b"12345678")  # the first is full now: spills over
    assert await first.exists("mem://f/a") and not await first.exists("mem://f/b")
    assert await second.get("mem://f/b") == b"12345678"
    assert await fan.get_many(["mem://f/a", "mem://f/b", "mem://f/c"]) == [
        b"12345678",
        b"12345678",
        None,
    ]
    assert await fan.size("mem://f/b") == 8
    assert await fan.exists("mem://f/b") and not await fan.exists("mem://f/c")
    assert [u async for u in fan.list("mem://f/")] == ["mem://f/a", "mem://f/b"]


async def test_fanout_raises_store_full_when_no_store_has_room() -> None:
    fan = Fanout(Small(MemoryRaw(), 2), Capped(3))
    with pytest.raises(StoreFull, match="no store has room") as caught:
        await fan.put("mem://f/x", b"four")
    assert "declines 4 bytes" in str(caught.value) and "capacity reached" in str(caught.value)
    assert fan.declines("mem://f/x", 4) is False  # Capped cannot tell in advance
    assert Fanout(Small(MemoryRaw(), 2), Small(MemoryRaw(), 3)).declines("mem://f/x", 4)
    assert declines(MemoryRaw(), "mem://f/x", 10**12) is False


async def test_fanout_replays_a_stream_refused_midway_to_the_next_store() -> None:
    first, second = Capped(5), MemoryRaw()
    fan = Fanout(first, second)
    await fan.put("mem://f/s", _chunks(b"abc", b"def", b"ghi"))
    assert await second.get("mem://f/s") == b"abcdefghi"
    assert len(first) == 0


async def test_fanout_put_removes_a_shadowing_copy_from_earlier_stores() -> None:
    first, second = Capped(10), MemoryRaw()
    fan = Fanout(first, second)
    await fan.put("mem://f/k", b"old")
    await fan.put("mem://f/k", b"new but longer")  # too big for the first store
    assert not await first.exists("mem://f/k")
    assert await fan.get("mem://f/k") == b"new but longer"
    await fan.delete("mem://f/k")
    assert not await second.exists("mem://f/k")


async def test_fanout_skips_a_failing_store_but_never_calls_an_outage_a_miss() -> None:
    down = FaultyStore(MemoryRaw(), outage=True)
    holder = MemoryRaw()
    await holder.put("mem://f/here", b"found")
    fan = Fanout(down, holder)
    assert await fan.get("mem://f/here") == b"found"
    assert [c async for c in fan.stream("mem://f/here")] == [b"found"]
    with pytest.raises(StoreNotAvailable, match="injected outage"):
        await fan.get("mem://f/missing")
    with pytest.raises(StoreNotAvailable):
        await fan.put("mem://f/new", b"x")  # an outage is not "full": no spill-over
    with pytest.raises(NotFoundInStore):
        await Fanout(MemoryRaw(), MemoryRaw()).get("mem://f/missing")


async def test_fanout_routes_by_uri_and_uses_the_raising_put_of_caches() -> None:
    cache = Sha1Cache(Capped(4), "mem://c/")
    spill = Sha1Store(MemoryRaw(), "mem://s/")
    fan = Fanout(cache, spill)
    key = hashlib.sha1(b"12345").hexdigest()
    await fan.put(key, b"12345")  # HashCache.put would swallow StoreFull: Fanout must see it
    assert await spill.exists(key) and not await cache.exists(key)
    assert cache.put_failures == 0
    assert not fan.is_valid("mem://x/y")


def test_fanout_needs_stores() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Fanout()
    with pytest.raises(TypeError):
        Fanout(MemoryRaw(), object())  # type: ignore[arg-type]
