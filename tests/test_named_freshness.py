"""Freshness of named cache copies in a chain: ttl, revalidation, stale copies while the source is
down, records surviving a restart, and the figures, on local stores with a clock we advance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    FileRaw,
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    ObjectMeta,
    PrefixCache,
    PrefixStore,
    Sha1Cache,
    StoreNotAvailable,
)
from asyncbitstore.freshness import FRESH
from asyncbitstore.store import Store
from asyncbitstore.testing import FaultyStore

KEY = "img/1.png"
TTL = 10.0


class Clock:
    """Wall-clock time that moves only when told."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingRaw(MemoryRaw):
    """A memory store that notes each read it answers and the body bytes it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.body = 0

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        self.reads.append("get")
        data = await super().get(uri, stored=stored)
        self.body += len(data)
        return data

    async def get_with_meta(self, uri: str) -> tuple[bytes, ObjectMeta]:
        self.reads.append("get_with_meta")
        data, meta = await super().get_with_meta(uri)
        self.body += len(data)
        return data, meta

    async def get_if_changed(self, uri: str, known: ObjectMeta) -> tuple[bytes, ObjectMeta] | None:
        self.reads.append("get_if_changed")
        return await super().get_if_changed(uri, known)  # a change is read with `get`


class Setup:
    def __init__(
        self,
        *,
        ttl: float | None = TTL,
        revalidate: bool = False,
        serve_stale: bool = True,
        cache_raw: Store | None = None,
        cache_prefix: str = "mem://cache/",
        max_bytes: int | None = None,
    ) -> None:
        self.clock = Clock()
        self.raw = CountingRaw()
        self.origin = PrefixStore(self.raw, "mem://src/")
        self.source = FaultyStore(self.origin)
        self.cache = PrefixCache(
            cache_raw if cache_raw is not None else MemoryRaw(),
            cache_prefix,
            max_bytes=max_bytes,
            ttl=ttl,
            revalidate=revalidate,
            serve_stale=serve_stale,
            clock=self.clock,
        )
        self.chain = Composite(circuit_threshold=None)
        self.chain.append_cache(self.cache, name="cache")
        self.chain.append_source(self.source, name="source", cache_result=True)

    def stats(self, tier: str = "cache") -> Any:
        stats = self.chain.chain_stats
        assert stats is not None
        return stats.tier(tier)

    async def filled(self, data: bytes = b"one") -> None:
        await self.origin.put(KEY, data)
        assert await self.chain.get(KEY) == data
        await self.chain.flush()
        assert await self.cache.get(KEY) == data
        self.raw.reads.clear()
        self.raw.body = 0
        self.chain.reset_stats()


async def test_a_fill_fetches_once_with_meta_and_records_it() -> None:
    s = Setup()
    await s.origin.put(KEY, b"one")
    assert await s.chain.get(KEY) == b"one"
    await s.chain.flush()
    assert s.raw.reads == ["get_with_meta"]  # one read, not a get and a head
    record = await s.cache.copy_record(KEY)
    assert record is not None and record.fetched_at == s.clock.now
    assert record.meta == await s.origin.head(KEY)


async def test_a_fresh_copy_is_served_and_a_stale_one_refetched() -> None:
    s = Setup()
    await s.filled()
    await s.origin.put(KEY, b"two")
    s.clock.advance(TTL - 1)
    assert await s.chain.get(KEY) == b"one"  # fresh: the source is not asked
    assert s.raw.reads == []
    s.clock.advance(2)
    assert await s.chain.get(KEY) == b"two"  # stale: a miss, the source answers
    assert s.stats().misses == 1
    await s.chain.flush()
    assert await s.cache.get(KEY) == b"two"
    s.raw.reads.clear()
    assert await s.chain.get(KEY) == b"two"
    assert s.raw.reads == []  # fresh again


async def test_without_ttl_a_copy_is_trusted_for_ever() -> None:
    s = Setup(ttl=None)
    await s.filled()
    await s.origin.put(KEY, b"two")
    s.clock.advance(1e9)
    assert await s.chain.get(KEY) == b"one"
    assert s.raw.reads == []


async def test_revalidation_of_an_unchanged_copy_moves_no_body_and_renews_it() -> None:
    s = Setup(revalidate=True)
    await s.filled()
    s.clock.advance(TTL + 1)
    assert await s.chain.get(KEY) == b"one"
    assert s.raw.reads == ["get_if_changed"]
    assert s.raw.body == 0
    assert s.stats().revalidated_unchanged == 1 and s.stats().revalidated_changed == 0
    await s.chain.flush()
    record = await s.cache.copy_record(KEY)
    assert record is not None and record.fetched_at == s.clock.now  # renewed
    s.raw.reads.clear()
    assert await s.chain.get(KEY) == b"one"
    assert s.raw.reads == []  # fresh for another ttl


async def test_revalidation_of_a_changed_copy_serves_and_keeps_the_new_bytes() -> None:
    s = Setup(revalidate=True)
    await s.filled()
    await s.origin.put(KEY, b"two!")
    s.clock.advance(TTL + 1)
    assert await s.chain.get(KEY) == b"two!"
    assert s.stats().revalidated_changed == 1
    await s.chain.flush()
    assert await s.cache.get(KEY) == b"two!"
    record = await s.cache.copy_record(KEY)
    assert record is not None and record.meta == await s.origin.head(KEY)
    assert record.fetched_at == s.clock.now


@pytest.mark.parametrize("read", ["size", "head", "exists", "get_range", "stream"])
async def test_other_reads_revalidate_too(read: str) -> None:
    s = Setup(revalidate=True)
    await s.filled()
    await s.origin.put(KEY, b"twotwo")
    s.clock.advance(TTL + 1)
    answer = await _read(s.chain, read)
    assert (
        answer
        == {
            "size": 6,
            "head": (await s.origin.head(KEY)).size,
            "exists": True,
            "get_range": b"wo",
            "stream": b"twotwo",
        }[read]
    )
    assert s.stats().revalidated_changed == 1
    await s.chain.flush()
    assert await s.cache.get(KEY) == b"twotwo"


async def _read(chain: Composite, read: str) -> Any:
    if read == "head":
        return (await chain.head(KEY)).size
    if read == "get_range":
        return await chain.get_range(KEY, 1, 3)
    if read == "stream":
        return b"".join([chunk async for chunk in chain.stream(KEY)])
    if read == "get":
        return await chain.get(KEY)
    return await getattr(chain, read)(KEY)


@pytest.mark.parametrize("revalidate", [False, True])
async def test_an_object_gone_at_the_source_is_a_miss_and_its_copy_dropped(
    revalidate: bool,
) -> None:
    s = Setup(revalidate=revalidate)
    await s.filled()
    await s.origin.delete(KEY)
    s.clock.advance(TTL + 1)
    with pytest.raises(NotFoundInStore):
        await s.chain.get(KEY)
    assert not await s.cache.exists(KEY)
    assert await s.cache.copy_record(KEY) is None
    s.source.outage = True  # nothing stale is left to serve
    with pytest.raises(StoreNotAvailable):
        await s.chain.get(KEY)
    assert s.stats().stale_served == 0


@pytest.mark.parametrize("revalidate", [False, True])
@pytest.mark.parametrize("read", ["get", "size", "head", "exists", "get_range", "stream"])
async def test_a_stale_copy_is_served_while_the_source_is_down(revalidate: bool, read: str) -> None:
    s = Setup(revalidate=revalidate)
    await s.filled(b"stale")
    s.source.outage = True
    s.clock.advance(TTL + 1)
    expected = {"get": b"stale", "size": 5, "head": 5, "exists": True, "get_range": b"ta"}
    assert await _read(s.chain, read) == expected.get(read, b"stale")
    assert s.stats().stale_served == 1
    assert s.stats("source").errors >= 1


@pytest.mark.parametrize("revalidate", [False, True])
async def test_without_serve_stale_the_outage_is_raised(revalidate: bool) -> None:
    s = Setup(revalidate=revalidate, serve_stale=False)
    await s.filled()
    s.source.outage = True
    s.clock.advance(TTL + 1)
    with pytest.raises(StoreNotAvailable):
        await s.chain.get(KEY)
    assert s.stats().stale_served == 0
    assert await s.cache.get(KEY) == b"one"  # an outage drops nothing


async def test_a_copy_without_a_record_is_stale_with_a_ttl_and_trusted_without() -> None:
    for ttl, expected in ((TTL, b"source"), (None, b"copied")):
        s = Setup(ttl=ttl)
        await s.origin.put(KEY, b"source")
        await s.cache.put(KEY, b"copied")  # put directly: no source meta, no record
        assert await s.cache.copy_record(KEY) is None
        assert await s.chain.get(KEY) == expected


@pytest.mark.parametrize("max_bytes", [None, 1 << 20])
async def test_records_survive_a_restart_and_stay_out_of_listings(
    tmp_path: Path, max_bytes: int | None
) -> None:
    s = Setup(
        revalidate=True, cache_raw=FileRaw(), cache_prefix=f"{tmp_path}/c/", max_bytes=max_bytes
    )
    await s.filled()
    before = await s.cache.copy_record(KEY)
    assert before is not None and before.meta is not None
    again = PrefixCache(
        FileRaw(), f"{tmp_path}/c/", max_bytes=max_bytes, ttl=TTL, revalidate=True, clock=s.clock
    )
    assert await again.copy_record(KEY) == before
    assert [name async for name in again.list()] == [KEY]
    assert [name async for name in again.list("", flat=True)] == ["img/"]
    chain = Composite(circuit_threshold=None)
    chain.append_cache(again, name="cache")
    chain.append_source(s.source, name="source", cache_result=True)
    s.clock.advance(TTL + 1)
    assert await chain.get(KEY) == b"one"
    assert s.raw.reads == ["get_if_changed"] and s.raw.body == 0  # the record was used
    await chain.aclose()


async def test_record_keys_are_reserved_in_a_prefix_cache_only() -> None:
    cache = PrefixCache(MemoryRaw(), "mem://c/")
    with pytest.raises(InvalidURI, match="~records"):
        await cache.get("~records/img/1.png")
    assert not cache.is_valid("~records/x")
    store = PrefixStore(MemoryRaw(), "mem://s/")
    await store.put("~records/x", b"mine")
    chain = Composite()
    chain.append_cache(cache)
    chain.append_source(store, cache_result=True)
    assert await chain.get("~records/x") == b"mine"  # the cache is skipped for it


async def test_delete_removes_the_record_with_the_copy() -> None:
    s = Setup()
    await s.filled()
    raw_keys = [uri async for uri in s.cache.raw.list("mem://cache/")]
    assert len(raw_keys) == 2  # the copy and its record
    await s.cache.delete(KEY)
    assert [uri async for uri in s.cache.raw.list("mem://cache/")] == []


async def test_content_addressed_copies_never_go_stale() -> None:
    cache = Sha1Cache(MemoryRaw(), "mem://sha/")
    assert not cache.copies_expire and not cache.keeps_records
    assert await cache.copy_state("0" * 40) is FRESH
    assert await cache.copy_record("0" * 40) is None


async def test_figures_in_json_and_prometheus() -> None:
    s = Setup(revalidate=True)
    await s.filled()
    s.clock.advance(TTL + 1)
    await s.chain.get(KEY)
    s.source.outage = True
    s.clock.advance(TTL + 1)
    await s.chain.get(KEY)
    stats = s.chain.chain_stats
    assert stats is not None
    figures = json.loads(json.dumps(stats.as_dict()))
    tier = next(t for t in figures["tiers"] if t["name"] == "cache")
    assert tier["stale_served"] == 1 and tier["revalidated_unchanged"] == 1
    assert tier["revalidated_changed"] == 0
    pytest.importorskip("prometheus_client")
    from prometheus_client import CollectorRegistry

    from asyncbitstore.prometheus import expose, render

    registry = CollectorRegistry()
    expose(s.chain, registry=registry, chain_label="fresh")
    text = render(registry)[0].decode()
    assert 'asyncbitstore_tier_stale_served_total{chain="fresh",tier="cache"} 1.0' in text
    assert (
        'asyncbitstore_tier_revalidated_total{chain="fresh",outcome="unchanged",tier="cache"} 1.0'
        in text
    )


async def test_a_streamed_fill_records_its_time_but_no_validator() -> None:
    s = Setup(revalidate=True)
    await s.origin.put(KEY, b"streamed")
    assert b"".join([chunk async for chunk in s.chain.stream(KEY)]) == b"streamed"
    await s.chain.flush()
    record = await s.cache.copy_record(KEY)
    assert record is not None and record.meta is None and record.fetched_at == s.clock.now
    s.raw.reads.clear()
    s.clock.advance(TTL + 1)
    assert await s.chain.get(KEY) == b"streamed"  # nothing to revalidate with: fetched again
    assert s.raw.reads == ["get_with_meta"]


def test_a_cache_pickles_with_its_options_and_forgets_what_it_remembered() -> None:
    import pickle

    cache = PrefixCache(MemoryRaw(), "mem://p/", ttl=5, revalidate=True, serve_stale=False)
    assert cache.is_valid(KEY)
    again = pickle.loads(pickle.dumps(cache))
    assert (again.ttl, again.revalidate, again.serve_stale) == (5.0, True, False)
    assert again.copies_expire and again._known == {} and again._located == {}
    with pytest.raises(ValueError, match="ttl"):
        PrefixCache(MemoryRaw(), "mem://p/", ttl=-1)
    with pytest.raises(TypeError, match="revalidate"):
        PrefixCache(MemoryRaw(), "mem://p/", ttl=1, revalidate="yes")  # type: ignore[arg-type]
