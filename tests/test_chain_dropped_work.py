"""Background work a chain drops (garbage-collected, or its event loop ended) is warned about."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import warnings

import pytest

from asyncbitstore import MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store
from asyncbitstore.testing import FaultyStore

BLOBS = [f"pending blob {n}".encode() for n in range(3)]
KEYS = [hashlib.sha1(blob).hexdigest() for blob in BLOBS]


async def _chain_with_slow_fills() -> Sha1Composite:
    """A chain whose cache fills take a long time: each get leaves one pending."""
    source = Sha1Store(MemoryRaw(), "mem://s/")
    for key, blob in zip(KEYS, BLOBS, strict=True):
        await source.put(key, blob)
    chain = Sha1Composite(name="leaky")
    chain.append_cache(FaultyStore(Sha1Cache(MemoryRaw(), "mem://c/"), latency=30.0), read=False)
    chain.append_source(source, cache_result=True)
    return chain


async def test_a_chain_collected_with_pending_fills_warns() -> None:
    chain = await _chain_with_slow_fills()
    for key in KEYS:
        await chain.get(key)
    assert chain.stats.fills_pending == 3
    tasks = list(chain._background._tasks)
    with pytest.warns(ResourceWarning, match=r"leaky.* 3 background writes? .*pending") as caught:
        del chain
        gc.collect()
    assert "aclose()" in str(caught[0].message) and "async with" in str(caught[0].message)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_closed_chain_does_not_warn() -> None:
    source = Sha1Store(MemoryRaw(), "mem://s/")
    for key, blob in zip(KEYS, BLOBS, strict=True):
        await source.put(key, blob)
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(MemoryRaw(), "mem://c/"))
    chain.append_source(source, cache_result=True)
    async with chain:
        for key in KEYS:
            await chain.get(key)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del chain
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_a_chain_with_nothing_pending_does_not_warn() -> None:
    chain = await _chain_with_slow_fills()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del chain
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_work_cut_short_by_the_end_of_the_event_loop_warns() -> None:
    chain: Sha1Composite | None = None

    async def main() -> None:
        nonlocal chain
        chain = await _chain_with_slow_fills()
        for key in KEYS:
            await chain.get(key)

    with pytest.warns(ResourceWarning, match=r"leaky: 3 background writes .*cancelled") as caught:
        asyncio.run(main())
    assert len([w for w in caught if issubclass(w.category, ResourceWarning)]) == 1
    assert "aclose()" in str(caught[0].message)
    assert chain is not None and chain.stats.fills_pending == 0
