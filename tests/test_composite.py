"""The tier chain's semantics (asyncbitstore.composite): order, fills, outages, single flight."""

from __future__ import annotations

import asyncio
import hashlib
import pickle
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import (
    Composite,
    FileRaw,
    HashCache,
    HashStore,
    InvalidDataFound,
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    NotWritable,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
    StoreTimeout,
)
from asyncbitstore.testing import CallbackStore, FaultyStore


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


BLOB = b"the blob"
KEY = sha1(BLOB)


class API(Sha1APISource):
    """An API source that counts calls and can be slowed down."""

    def __init__(self, blobs: dict[str, bytes] | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.blobs = dict(blobs or {})
        self.delay = delay
        self.calls: list[str] = []

    async def api_get(self, key: str) -> bytes | None:
        self.calls.append(key)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.blobs.get(key)


class APIWithExists(API):
    async def api_exists(self, key: str) -> bool:
        return key in self.blobs


def mem_cache(name: str, **options: object) -> Sha1Cache:
    return Sha1Cache(MemoryRaw(**options), f"mem://{name}/")  # type: ignore[arg-type]


async def cached(cache: Sha1Cache, key: str) -> bool:
    return await cache.exists(key)


@pytest.fixture
def chain() -> Sha1Composite:
    """memory cache, file-free second cache, an API source with cache_result."""
    store = Sha1Composite()
    store.append_cache(mem_cache("first"))
    store.append_cache(mem_cache("second"))
    store.append_source(API({KEY: BLOB}), cache_result=True)
    return store


def tier_store(chain: Sha1Composite, index: int):
    return chain.tiers[index].store


async def test_a_source_hit_is_returned_and_filled_into_every_cache(chain: Sha1Composite) -> None:
    assert await chain.get(KEY) == BLOB
    await chain.flush()
    assert await cached(tier_store(chain, 0), KEY)
    assert await cached(tier_store(chain, 1), KEY)
    assert chain.stats.fills_done == 2


async def test_a_cache_hit_fills_only_the_caches_before_it(chain: Sha1Composite) -> None:
    await tier_store(chain, 1).put(KEY, BLOB)
    api = tier_store(chain, 2)
    assert await chain.get(KEY) == BLOB
    await chain.flush()
    assert await cached(tier_store(chain, 0), KEY)
    assert api.calls == []
    assert chain.stats.hits == {
        chain.tiers[0].name: 0,
        chain.tiers[1].name: 1,
        chain.tiers[2].name: 0,
    }
    assert chain.stats.fills_done == 1


async def test_tiers_are_asked_in_order_and_the_first_hit_wins() -> None:
    chain = Sha1Composite()
    chain.append_cache(mem_cache("a"))
    chain.append_source(API({KEY: b"from the first source"}))
    chain.append_source(API({KEY: b"from the second source"}))
    assert await chain.get(KEY) == b"from the first source"
    assert tier_store(chain, 2).calls == []


async def test_only_sources_appended_with_cache_result_fill_the_caches() -> None:
    other = b"another blob"
    chain = Sha1Composite()
    chain.append_cache(mem_cache("c"))
    chain.append_source(API({KEY: BLOB}))  # no cache_result
    chain.append_source(API({sha1(other): other}), cache_result=True)
    assert await chain.get(KEY) == BLOB
    assert await chain.get(sha1(other)) == other
    await chain.flush()
    cache = tier_store(chain, 0)
    assert not await cached(cache, KEY)
    assert await cached(cache, sha1(other))


async def test_a_cache_with_read_false_is_filled_but_never_read() -> None:
    chain = Sha1Composite()
    write_only = mem_cache("w")
    await write_only.put(KEY, BLOB)
    chain.append_cache(write_only, read=False)
    api = API({KEY: BLOB})
    chain.append_source(api, cache_result=True)
    assert await chain.get(KEY) == BLOB
    assert api.calls == [KEY]


async def test_tiers_that_reject_a_uri_are_skipped(tmp_path: Path) -> None:
    memory, files = MemoryRaw(), FileRaw()
    await files.put(f"{tmp_path}/x", b"on disk")
    chain = Composite()
    chain.append_source(FaultyStore(memory, outage=True))  # would fail if asked
    chain.append_source(files)
    assert await chain.get(f"{tmp_path}/x") == b"on disk"
    with pytest.raises(InvalidURI, match="one of the chain's tiers"):
        await chain.get("s3://bucket/key")


async def test_a_miss_in_every_tier_raises_not_found(chain: Sha1Composite) -> None:
    missing = sha1(b"nobody has this")
    with pytest.raises(NotFoundInStore) as caught:
        await chain.get(missing)
    assert missing in str(caught.value)
    assert not isinstance(caught.value, StoreNotAvailable)


async def test_a_failing_tier_is_skipped_and_the_next_one_answers() -> None:
    chain = Sha1Composite()
    chain.append_cache(FaultyCache(outage=True))
    chain.append_source(API({KEY: BLOB}))
    assert await chain.get(KEY) == BLOB
    assert chain.stats.tiers[0].errors == 1


def FaultyCache(**faults: object) -> Sha1Cache:
    return Sha1Cache(FaultyStore(MemoryRaw(), **faults), "mem://faulty/")  # type: ignore[arg-type]


async def test_an_outage_is_never_reported_as_a_missing_blob() -> None:
    chain = Sha1Composite()
    chain.append_cache(mem_cache("ok"))
    chain.append_source(Sha1Store(FaultyStore(MemoryRaw(), outage=True), "mem://down/"))
    chain.append_source(API({}))
    with pytest.raises(StoreNotAvailable) as caught:
        await chain.get(KEY)
    assert not isinstance(caught.value, NotFoundInStore)
    message = str(caught.value)
    assert KEY in message and "injected outage" in message and chain.tiers[1].name in message


async def test_a_cache_that_fails_to_write_does_not_fail_the_get() -> None:
    broken = MemoryRaw()
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FaultyStore(broken, error_rate=1.0), "mem://x/"))
    chain.append_source(API({KEY: BLOB}), cache_result=True)
    assert await chain.get(KEY) == BLOB
    await chain.flush()
    stats = chain.stats
    assert stats.fills_failed == 1 and stats.fills_done == 0
    assert len(broken) == 0


async def test_ten_concurrent_gets_of_one_key_make_one_api_call() -> None:
    api = API({KEY: BLOB}, delay=0.05)
    chain = Sha1Composite()
    chain.append_source(api)
    results = await asyncio.gather(*(chain.get(KEY) for _ in range(10)))
    assert results == [BLOB] * 10
    assert api.calls == [KEY]
    assert chain.stats.single_flight_joins == 9


async def test_concurrent_gets_share_an_error_too() -> None:
    api = API({}, delay=0.02)
    chain = Sha1Composite()
    chain.append_source(api)
    outcomes = await asyncio.gather(*(chain.get(KEY) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, NotFoundInStore) for o in outcomes)
    assert len(api.calls) == 1


async def test_a_cancelled_leader_hands_the_fetch_to_a_waiting_caller() -> None:
    api = API({KEY: BLOB}, delay=0.05)
    chain = Sha1Composite()
    chain.append_source(api)
    leader = asyncio.ensure_future(chain.get(KEY))
    await asyncio.sleep(0.01)
    follower = asyncio.ensure_future(chain.get(KEY))
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await follower == BLOB
    assert leader.cancelled()
    assert len(api.calls) == 2  # the follower fetched again after the leader gave up


async def test_fills_are_bounded_and_the_excess_is_dropped_and_counted() -> None:
    slow_cache = FaultyCache(latency=0.05)
    chain = Sha1Composite(max_pending_fills=3)
    chain.append_cache(slow_cache)
    blobs = {sha1(bytes([i])): bytes([i]) for i in range(10)}
    chain.append_source(API(blobs), cache_result=True)
    assert await chain.get_many(list(blobs)) == list(blobs.values())
    assert chain.stats.fills_pending <= 3
    await chain.flush()
    stats = chain.stats
    assert stats.fills_done == 3 and stats.fills_dropped == 7 and stats.fills_pending == 0


async def test_get_returns_before_the_fill_and_flush_waits_for_it() -> None:
    chain = Sha1Composite()
    cache = FaultyCache(latency=0.05)
    chain.append_cache(cache)
    chain.append_source(API({KEY: BLOB}), cache_result=True)
    await chain.get(KEY)
    assert chain.stats.fills_pending == 1
    await chain.flush()
    assert chain.stats.fills_pending == 0
    assert await cache.exists(KEY)


async def test_aclose_flushes_pending_fills_and_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    cache = FaultyCache(latency=0.03)
    async with Sha1Composite() as chain:
        chain.append_cache(cache)
        chain.append_source(API({KEY: BLOB}), cache_result=True)
        await chain.get(KEY)
    assert await cache.exists(KEY)
    assert asyncio.all_tasks() - before == set()


async def test_a_corrupt_cache_entry_is_dropped_and_refetched() -> None:
    cache = Sha1Cache(MemoryRaw(), "mem://v/", verify=True)
    await cache.raw.put(f"mem://v/{KEY}", b"corrupted bytes")
    api = API({KEY: BLOB})
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(api, cache_result=True)
    assert await chain.get(KEY) == BLOB
    assert api.calls == [KEY]
    await chain.flush()
    assert await cache.raw.get(f"mem://v/{KEY}") == BLOB
    assert chain.stats.tiers[0].corrupt == 1


async def test_corrupt_data_from_a_verifying_source_is_not_returned() -> None:
    chain = Sha1Composite()
    chain.append_cache(mem_cache("c"))
    source = Sha1Store(MemoryRaw(), "mem://s/", verify=True)
    await source.raw.put(f"mem://s/{KEY}", b"wrong")
    chain.append_source(source, cache_result=True)
    with pytest.raises(InvalidDataFound):
        await chain.get(KEY)
    await chain.flush()
    assert not await tier_store(chain, 0).exists(KEY)


async def test_a_slow_tier_times_out_and_the_chain_falls_through() -> None:
    chain = Sha1Composite()
    chain.append_source(
        Sha1Store(FaultyStore(MemoryRaw(), latency=5.0), "mem://slow/"), timeout=0.05
    )
    chain.append_source(API({KEY: BLOB}))
    assert await chain.get(KEY) == BLOB
    stats = chain.stats.tiers[0]
    assert stats.timeouts == 1 and stats.errors == 1


async def test_a_timeout_with_no_other_copy_is_an_outage() -> None:
    chain = Sha1Composite()
    chain.append_source(
        Sha1Store(FaultyStore(MemoryRaw(), latency=5.0), "mem://slow/"), timeout=0.02
    )
    with pytest.raises(StoreNotAvailable) as caught:
        await chain.get(KEY)
    assert "StoreTimeout" in str(caught.value)
    assert isinstance(caught.value.__cause__, StoreTimeout)


async def test_put_writes_the_first_writer_now_and_the_others_in_the_background() -> None:
    first, second = (
        Sha1Store(MemoryRaw(), "mem://1/"),
        Sha1Store(FaultyStore(MemoryRaw(), latency=0.03), "mem://2/"),
    )
    chain = Sha1Composite()
    chain.append_source(first, write=True)
    chain.append_source(second, write=True)
    chain.append_source(Sha1Store(MemoryRaw(), "mem://3/"))  # not writable
    await chain.put(KEY, BLOB)
    assert await first.get(KEY) == BLOB
    assert not await second.raw.inner.exists(f"mem://2/{KEY}")
    await chain.flush()
    assert await second.get(KEY) == BLOB
    assert not await tier_store(chain, 2).exists(KEY)


async def test_a_streamed_put_reaches_every_writer() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield BLOB[:3]
        yield BLOB[3:]

    chain = Sha1Composite()
    stores = [Sha1Store(MemoryRaw(), f"mem://w{i}/") for i in range(3)]
    for store in stores:
        chain.append_source(store, write=True)
    await chain.put(KEY, chunks())
    await chain.flush()
    assert [await s.get(KEY) for s in stores] == [BLOB] * 3


async def test_put_without_a_writable_tier_raises_not_writable(chain: Sha1Composite) -> None:
    with pytest.raises(NotWritable, match="write=True"):
        await chain.put(KEY, BLOB)


async def test_a_hash_chain_refuses_data_that_does_not_match_the_key() -> None:
    target = Sha1Store(MemoryRaw(), "mem://t/")
    chain = Sha1Composite()
    chain.append_source(target, write=True)
    with pytest.raises(InvalidDataFound):
        await chain.put(KEY, b"not the blob")

    async def wrong() -> AsyncIterator[bytes]:
        yield b"not the blob either"

    with pytest.raises(InvalidDataFound):
        await chain.put(KEY, wrong())
    assert not await target.exists(KEY)


async def test_write_stores_under_the_digest_and_returns_it() -> None:
    target = Sha1Store(MemoryRaw(), "mem://t/")
    chain = Sha1Composite()
    chain.append_source(target, write=True)
    assert await chain.write(BLOB) == KEY
    assert await target.get(KEY) == BLOB


async def test_delete_removes_from_writable_tiers_and_caches(chain: Sha1Composite) -> None:
    writer = Sha1Store(MemoryRaw(), "mem://w/")
    readonly = Sha1Store(MemoryRaw(), "mem://r/")
    await readonly.put(KEY, BLOB)
    chain.append_source(writer, write=True)
    chain.append_source(readonly)
    await chain.put(KEY, BLOB)
    await chain.get(KEY)
    await chain.flush()
    await chain.delete(KEY)
    assert not await tier_store(chain, 0).exists(KEY)
    assert not await writer.exists(KEY)
    assert await readonly.exists(KEY)
    await chain.delete(KEY)  # idempotent


async def test_delete_waits_for_a_pending_fill_so_the_blob_does_not_come_back() -> None:
    cache = FaultyCache(latency=0.05)
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(API({KEY: BLOB}), cache_result=True)
    await chain.get(KEY)
    await chain.delete(KEY)
    await chain.flush()
    assert not await cache.exists(KEY)


async def test_exists_asks_an_api_source_only_through_api_exists() -> None:
    chain = Sha1Composite()
    plain = API({KEY: BLOB})
    chain.append_source(plain)
    assert await chain.exists(KEY) is False
    assert plain.calls == []
    with_exists = APIWithExists({KEY: BLOB})
    chain.append_source(with_exists)
    assert await chain.exists(KEY) is True
    assert with_exists.calls == []


async def test_exists_reports_an_outage_rather_than_false() -> None:
    chain = Sha1Composite()
    chain.append_cache(mem_cache("c"))
    chain.append_source(Sha1Store(FaultyStore(MemoryRaw(), outage=True), "mem://down/"))
    with pytest.raises(StoreNotAvailable):
        await chain.exists(KEY)
    await tier_store(chain, 0).put(KEY, BLOB)
    assert await chain.exists(KEY) is True


async def test_size_get_range_and_stream_come_from_the_first_tier_with_the_blob(
    chain: Sha1Composite,
) -> None:
    await tier_store(chain, 1).put(KEY, BLOB)
    assert await chain.size(KEY) == len(BLOB)
    assert await chain.get_range(KEY, 4, 8) == BLOB[4:8]
    assert b"".join([c async for c in chain.stream(KEY, chunk_size=3)]) == BLOB
    with pytest.raises(NotFoundInStore):
        await chain.size(sha1(b"absent"))


@pytest.mark.parametrize("uri", [KEY, KEY.upper(), f"sha1://{KEY}", f"SHA1://{KEY.upper()}"])
async def test_a_sha1_chain_accepts_every_form_of_a_key(chain: Sha1Composite, uri: str) -> None:
    assert chain.is_valid(uri)
    assert await chain.get(uri) == BLOB


@pytest.mark.parametrize(
    "uri", ["", "abc", KEY[:-1], KEY + "0", "g" * 40, f"sha256://{KEY}", f" {KEY}", f"{KEY}\n"]
)
async def test_a_sha1_chain_rejects_malformed_keys(chain: Sha1Composite, uri: str) -> None:
    assert not chain.is_valid(uri)
    with pytest.raises(InvalidURI, match="sha1"):
        await chain.get(uri)


@pytest.mark.parametrize("bad", [None, 42, KEY.encode()])
async def test_a_chain_raises_type_error_for_a_non_str_key(
    chain: Sha1Composite, bad: object
) -> None:
    with pytest.raises(TypeError):
        await chain.get(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        chain.is_valid(bad)  # type: ignore[arg-type]


async def test_stats_count_hits_misses_bytes_and_latency(chain: Sha1Composite) -> None:
    await chain.get(KEY)
    await chain.flush()
    await chain.get(KEY)
    with pytest.raises(NotFoundInStore):
        await chain.get(sha1(b"absent"))
    stats = chain.stats
    first, second, api = stats.tiers
    assert (first.hits, first.misses) == (1, 2)
    assert (second.hits, second.misses) == (0, 2)
    assert (api.hits, api.misses, api.bytes) == (1, 1, len(BLOB))
    assert first.latency.count == 3 and first.latency.quantile(0.99) > 0
    table = stats.table()
    assert all(tier.name in table for tier in stats.tiers)
    chain.reset_stats()
    assert chain.stats.tiers[0].hits == 0


async def test_a_chain_pickles_and_works_where_it_is_unpickled(tmp_path: Path) -> None:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
    chain.append_source(Sha1Store(FileRaw(), f"{tmp_path}/source/"), cache_result=True, write=True)
    await chain.put(KEY, BLOB)
    await chain.get(KEY)
    await chain.flush()
    clone = pickle.loads(pickle.dumps(chain))
    async with clone:
        assert await clone.get(KEY) == BLOB
        assert clone.stats.tiers[0].hits >= 1
    await chain.aclose()


async def test_a_plain_chain_drops_cached_copies_when_a_uri_is_overwritten(tmp_path: Path) -> None:
    chain = Composite()
    chain.append_cache(MemoryRaw())
    source = MemoryRaw()
    chain.append_source(source, write=True, cache_result=True)
    # One MemoryRaw answers mem:// as cache and another as source: same URIs, two tiers.
    await chain.put("mem://b/k", b"v1")
    assert await chain.get("mem://b/k") == b"v1"
    await chain.flush()
    await chain.put("mem://b/k", b"v2")
    assert await chain.get("mem://b/k") == b"v2"


def test_tiers_must_be_stores_and_share_the_chain_algorithm() -> None:
    chain = Sha1Composite()
    with pytest.raises(TypeError):
        chain.append_source(object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sha256"):
        chain.append_cache(HashCache(MemoryRaw(), "mem://c/", algorithm="sha256"))
    with pytest.raises(ValueError, match="timeout"):
        chain.append_source(mem_cache("x"), timeout=-1)


def test_tier_names_are_unique() -> None:
    chain = Sha1Composite()
    chain.append_cache(mem_cache("a"))
    chain.append_cache(mem_cache("a"))
    names = [tier.name for tier in chain.tiers]
    assert len(set(names)) == 2


async def test_hash_chain_with_sha256_tiers() -> None:
    from asyncbitstore import HashComposite

    chain = HashComposite(algorithm="sha256")
    store = HashStore(MemoryRaw(), "mem://h/", algorithm="sha256")
    chain.append_source(store, write=True)
    key = await chain.write(b"payload")
    assert key == hashlib.sha256(b"payload").hexdigest()
    assert await chain.get(f"sha256://{key}") == b"payload"


async def test_stores_that_fail_the_get_with_a_callback_are_counted() -> None:
    async def handler(uri: str) -> bytes | None:
        raise RuntimeError("bug in user code")

    chain = Composite()
    chain.append_source(CallbackStore(handler, name="buggy"))
    with pytest.raises(StoreNotAvailable, match="bug in user code"):
        await chain.get("anything")
    assert chain.stats.tier("buggy").errors == 1


class FlakyStream(Sha1Store):
    """A source whose stream fails after its first chunk."""

    async def stream(self, uri: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        yield (await self.get(uri))[:2]
        raise StoreNotAvailable(self, "connection reset mid-body")


@pytest.fixture
def streaming_chain(tmp_path: Path) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
    return chain


async def _source_with_blob(prefix: str, cls: type[Sha1Store] = Sha1Store) -> Sha1Store:
    source = cls(MemoryRaw(), f"mem://{prefix}/")
    await source.put(KEY, BLOB)
    return source


async def test_a_streamed_blob_is_teed_into_the_caches(streaming_chain: Sha1Composite) -> None:
    streaming_chain.append_source(await _source_with_blob("s"), cache_result=True)
    assert b"".join([c async for c in streaming_chain.stream(KEY, chunk_size=3)]) == BLOB
    await streaming_chain.flush()
    assert await tier_store(streaming_chain, 0).get(KEY) == BLOB
    assert streaming_chain.stats.fills_done == 1


async def test_a_stream_stopped_early_leaves_nothing_in_the_cache(
    streaming_chain: Sha1Composite, tmp_path: Path
) -> None:
    streaming_chain.append_source(await _source_with_blob("s"), cache_result=True)
    stream = streaming_chain.stream(KEY, chunk_size=2)
    assert await anext(stream) == BLOB[:2]
    await stream.aclose()  # type: ignore[attr-defined]
    await streaming_chain.flush()
    assert not await tier_store(streaming_chain, 0).exists(KEY)
    assert list((tmp_path / "cache").glob("*")) == []  # no temporary file either
    assert streaming_chain.stats.fills_dropped == 1


async def test_a_source_failing_mid_stream_leaves_nothing_in_the_cache(
    streaming_chain: Sha1Composite,
) -> None:
    streaming_chain.append_source(await _source_with_blob("f", FlakyStream), cache_result=True)
    received = []
    with pytest.raises(StoreNotAvailable, match="mid-body"):
        async for chunk in streaming_chain.stream(KEY):
            received.append(chunk)  # noqa: PERF401 - keeps chunks that came before the failure
    assert received == [BLOB[:2]]
    await streaming_chain.flush()
    assert not await tier_store(streaming_chain, 0).exists(KEY)


async def test_a_stream_with_the_wrong_digest_is_not_cached(streaming_chain: Sha1Composite) -> None:
    source = Sha1Store(MemoryRaw(), "mem://bad/")
    await source.raw.put(f"mem://bad/{KEY}", b"tampered")
    streaming_chain.append_source(source, cache_result=True)
    with pytest.raises(InvalidDataFound):
        _ = [c async for c in streaming_chain.stream(KEY)]
    await streaming_chain.flush()
    assert not await tier_store(streaming_chain, 0).exists(KEY)


async def test_concurrent_streams_of_one_key_make_one_source_fetch(
    streaming_chain: Sha1Composite,
) -> None:
    api = API({KEY: BLOB}, delay=0.05)
    streaming_chain.append_source(api, cache_result=True)

    async def read() -> bytes:
        return b"".join([c async for c in streaming_chain.stream(KEY)])

    assert await asyncio.gather(*(read() for _ in range(20))) == [BLOB] * 20
    assert api.calls == [KEY]


async def test_negative_ttl_remembers_a_missing_key_until_it_expires() -> None:
    api = API({}, delay=0)
    chain = Sha1Composite(negative_ttl=0.2)
    chain.append_source(api)
    for _ in range(3):
        with pytest.raises(NotFoundInStore):
            await chain.get(KEY)
    assert api.calls == [KEY]
    assert chain.stats.negative_hits == 2
    await asyncio.sleep(0.25)
    api.blobs[KEY] = BLOB
    assert await chain.get(KEY) == BLOB
    assert len(api.calls) == 2


async def test_negative_ttl_never_remembers_an_outage_and_put_forgets_the_key() -> None:
    down = FaultyStore(MemoryRaw(), outage=True)
    chain = Sha1Composite(negative_ttl=60)
    chain.append_source(Sha1Store(down, "mem://d/"))
    writable = Sha1Store(MemoryRaw(), "mem://w/")
    chain.append_source(writable, write=True)
    with pytest.raises(StoreNotAvailable):
        await chain.get(KEY)
    down.outage = False
    with pytest.raises(NotFoundInStore):
        await chain.get(KEY)  # now a real miss: remembered
    await chain.put(KEY, BLOB)
    assert await chain.get(KEY) == BLOB
    assert down.calls == 3


def test_negative_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Sha1Composite(negative_ttl=0)


async def test_a_cache_that_declines_a_big_blob_is_skipped_and_counted() -> None:
    from asyncbitstore import Small

    big = b"x" * 100
    small_cache = Sha1Cache(Small(MemoryRaw(), 10), "mem://small/")
    chain = Sha1Composite()
    chain.append_cache(small_cache)
    chain.append_source(API({sha1(big): big, KEY: BLOB[:5]}), cache_result=True)
    assert await chain.get(sha1(big)) == big
    assert await chain.get(KEY) == BLOB[:5]
    await chain.flush()
    stats = chain.stats
    assert (stats.fills_declined, stats.fills_done, stats.fills_failed) == (1, 1, 0)
    assert not await small_cache.exists(sha1(big))


async def test_streams_record_each_tier_latency(streaming_chain: Sha1Composite) -> None:
    streaming_chain.append_source(await _source_with_blob("lat"), cache_result=True)
    _ = [c async for c in streaming_chain.stream(KEY)]
    cache, source = streaming_chain.stats.tiers
    assert cache.latency.count == 1 and source.latency.count == 1
