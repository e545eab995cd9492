"""Every read through a chain is counted in its tier's stats: calls, errors and timeouts."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import (
    MemoryRaw,
    NotFoundInStore,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
    TierStats,
)
from asyncbitstore.testing import FaultyStore

BLOB = b"counted " * 64
KEY = hashlib.sha1(BLOB).hexdigest()


async def _chain(**faults: float | bool) -> tuple[Sha1Composite, FaultyStore]:
    """A chain of an empty cache, then a source holding BLOB behind injected faults."""
    source = Sha1Store(MemoryRaw(), "mem://source/")
    await source.put(KEY, BLOB)
    faulty = FaultyStore(source, **faults)  # type: ignore[arg-type]
    chain = Sha1Composite(circuit_threshold=None)
    chain.append_cache(Sha1Store(MemoryRaw(), "mem://cache/"), name="cache")
    chain.append_source(faulty, name="source", timeout=0.2)
    return chain, faulty


async def _read(chain: Sha1Composite, kind: str) -> object:
    if kind == "size":
        return await chain.size(KEY)
    if kind == "get_range":
        return await chain.get_range(KEY, 2, 10)
    if kind == "exists":
        return await chain.exists(KEY)
    if kind == "stream":
        return b"".join([chunk async for chunk in chain.stream(KEY)])
    return await chain.get(KEY)


READS = ["size", "get_range", "exists", "stream", "get"]
ANSWERS = {
    "size": len(BLOB),
    "get_range": BLOB[2:10],
    "exists": True,
    "stream": BLOB,
    "get": BLOB,
}


@pytest.mark.parametrize("kind", READS)
async def test_each_read_counts_a_call_on_each_tier_asked(kind: str) -> None:
    chain, _ = await _chain()
    assert await _read(chain, kind) == ANSWERS[kind]
    cache, source = chain.stats.tiers
    assert (cache.calls, source.calls) == (1, 1)
    assert (cache.errors, source.errors, source.timeouts) == (0, 0, 0)
    await chain.aclose()


@pytest.mark.parametrize("kind", READS)
async def test_each_read_counts_an_error(kind: str) -> None:
    chain, _ = await _chain(outage=True)
    with pytest.raises(StoreNotAvailable):
        await _read(chain, kind)
    source = chain.stats.tier("source")
    assert (source.calls, source.errors, source.timeouts) == (1, 1, 0)
    assert chain.stats.tier("cache").errors == 0
    await chain.aclose()


@pytest.mark.parametrize("kind", READS)
async def test_each_read_counts_a_timeout(kind: str) -> None:
    chain, _ = await _chain(latency=5.0)
    with pytest.raises(StoreNotAvailable, match=r"no answer within 0\.2 s"):
        await _read(chain, kind)
    source = chain.stats.tier("source")
    assert (source.calls, source.errors, source.timeouts) == (1, 1, 1)
    await chain.aclose()


async def test_a_miss_is_a_call_but_not_an_error() -> None:
    chain, _ = await _chain()
    with pytest.raises(NotFoundInStore):
        await chain.size("0" * 40)
    assert [(t.calls, t.errors) for t in chain.stats.tiers] == [(1, 0), (1, 0)]
    await chain.aclose()


def test_calls_is_a_count_with_a_default_at_the_end() -> None:
    stats = TierStats("t", 1, 2)  # positional fields as before
    assert (stats.hits, stats.misses, stats.calls) == (1, 2, 0)
    assert "calls" in TierStats.COUNTS
    later = TierStats("t", calls=5)
    assert later.minus(TierStats("t", calls=2)).calls == 3
    stats.merge(later)
    assert stats.calls == 5


def test_prometheus_exposes_calls() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry, generate_latest

    from asyncbitstore.prometheus import expose

    chain = Sha1Composite(name="counted")
    chain.append_source(Sha1Store(MemoryRaw(), "mem://p/"), name="src")
    chain.tiers[0].stats.calls = 3
    registry = CollectorRegistry()
    expose(chain, registry=registry)
    text = generate_latest(registry).decode()
    assert 'asyncbitstore_tier_calls_total{chain="counted",tier="src"} 3.0' in text
    assert 'asyncbitstore_tier_hits_total{chain="counted",tier="src"} 0.0' in text


class BreaksMidStream(Sha1Store):
    """A source whose stream fails after its first chunk."""

    async def _stream(self, uri: str, chunk_size: int, stored: bool) -> AsyncIterator[bytes]:
        yield b"first chunk"
        raise StoreNotAvailable(self, "connection reset mid-stream", uri=uri)


async def test_a_stream_failing_after_its_first_chunk_counts_an_error() -> None:
    source = BreaksMidStream(MemoryRaw(), "mem://broken/")
    chain = Sha1Composite()
    chain.append_source(source, name="broken")
    with pytest.raises(StoreNotAvailable, match="mid-stream"):
        async for _ in chain.stream(KEY):
            pass
    broken = chain.stats.tier("broken")
    assert (broken.calls, broken.hits, broken.errors) == (1, 1, 1)
    await chain.aclose()
