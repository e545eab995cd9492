"""Faults injected between a backend and its real server, with tests.faults.FaultProxy.

Origins: moto S3, fake-gcs-server and an aiohttp static HTTP server (SeaweedFS for the 2,000-key
runs, which moto serves too slowly). Every test counts the faults the proxy injected and, where
retries are the point, the requests the backend retried.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from asyncbitstore import (
    FileRaw,
    MemoryRaw,
    NotFoundInStore,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    Store,
    StoreNotAvailable,
)
from tests.faults import HANG, LATENCY, RESET, RESET_BODY, STATUS, TRUNCATE, FaultProxy

from .conftest import Origin, RetryLog, blob, blob_index, files_under, sha1

pytestmark = pytest.mark.servers

KiB = 1 << 10


def _keyed(origin: Origin, url: str) -> Sha1Store:
    """A SHA-1 keyed store over ``origin`` reached at ``url``; blobs named by their key."""
    return Sha1Store(origin.make(url), origin.uri(url, "k/"))


async def _seed(origin: Origin, blobs: list[bytes]) -> list[str]:
    keys = [sha1(b) for b in blobs]
    await origin.seed_many([(f"k/{k}", b) for k, b in zip(keys, blobs, strict=True)])
    return keys


# -- transient faults are retried ---------------------------------------------------------------


async def test_error_statuses_for_the_first_requests_are_retried_until_the_get_succeeds(
    origin: Origin, retries: RetryLog
) -> None:
    data = blob(1, 10 * KiB)
    [key] = await _seed(origin, [data])
    async with FaultProxy(origin.upstream) as proxy:
        rules = [proxy.inject(STATUS, status=s, first=2) for s in (500, 503, 429)]
        async with _keyed(origin, proxy.url) as store:
            assert await store.get(key) == data
    assert [r.injected for r in rules] == [2, 2, 2]
    assert proxy.faults == 6 and retries.retried == 6
    statuses = [r.status for r in proxy.requests]
    # A whole read may start with a ranged GET, answered 206 with the whole small object.
    assert statuses[:-1] == [500, 500, 503, 503, 429, 429] and statuses[-1] in (200, 206)


@pytest.mark.parametrize("kind", [RESET, TRUNCATE, RESET_BODY])
async def test_dropped_connections_and_cut_bodies_are_retried_and_never_returned_short(
    origin: Origin, retries: RetryLog, kind: str
) -> None:
    data = blob(2, 200 * KiB)
    [key] = await _seed(origin, [data])
    async with FaultProxy(origin.upstream) as proxy:
        rule = proxy.inject(kind, first=3, methods={"GET"})
        async with _keyed(origin, proxy.url) as store:
            assert await store.get(key) == data
    assert rule.injected == 3 and proxy.count_faults(kind) == 3
    assert proxy.count("GET") == 4  # each fault cost one more request, no more
    # The store's retry policy retried at least the first; aiohttp itself resends an idempotent
    # request once when a reused keep-alive connection drops before the answer.
    assert 1 <= retries.retried <= 3


# -- cut bodies never reach a cache -------------------------------------------------------------


def _cached_chain(origin: Origin, url: str, cache_dir: Path) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{cache_dir}/"))
    chain.append_source(_keyed(origin, url), cache_result=True)
    return chain


@pytest.mark.parametrize("kind", [TRUNCATE, RESET_BODY])
async def test_a_body_cut_on_every_attempt_is_an_outage_and_never_reaches_the_cache(
    origin: Origin, tmp_path: Path, kind: str
) -> None:
    data = blob(3, 256 * KiB)
    [key] = await _seed(origin, [data])
    cache_dir = tmp_path / "cache"
    async with FaultProxy(origin.upstream) as proxy:
        rule = proxy.inject(kind, methods={"GET"})
        async with _cached_chain(origin, proxy.url, cache_dir) as chain:
            with pytest.raises(StoreNotAvailable):
                await chain.get(key)
            received = bytearray()
            with pytest.raises(StoreNotAvailable):
                async for chunk in chain.stream(key, chunk_size=16 * KiB):
                    received += chunk
            await chain.flush()
            assert len(received) < len(data)  # what the stream handed out was a prefix ...
            assert data.startswith(received)
            assert files_under(cache_dir) == {}  # ... and none of it was kept
            assert rule.injected >= 2

            proxy.remove(rule)  # healthy again: the same calls now fill the cache
            assert await chain.get(key) == data
            await chain.flush()
    assert files_under(cache_dir) == {key: data}


# -- a hung tier, a tier that is down -----------------------------------------------------------


@pytest.mark.parametrize("fault", [HANG, LATENCY])
async def test_a_hung_tier_hits_its_timeout_and_the_chain_falls_through_to_the_next_tier(
    s3_origin: Origin, fault: str
) -> None:
    data = [blob(i) for i in range(10)]
    keys = await _seed(s3_origin, data)
    async with FaultProxy(s3_origin.upstream) as proxy:
        proxy.inject(fault, seconds=None if fault == HANG else 30.0)
        chain = Sha1Composite()
        chain.append_source(_keyed(s3_origin, proxy.url), timeout=0.3)
        chain.append_source(_keyed(s3_origin, s3_origin.upstream))
        async with chain:
            started = time.monotonic()
            assert await chain.get(keys[0]) == data[0]
            first = time.monotonic() - started
            assert await chain.get_many(keys, concurrency=10) == data
            total = time.monotonic() - started
            assert proxy.count() >= 1 and not any(r.status for r in proxy.requests)
    hung, healthy = chain.stats.tiers
    assert 0.3 <= first < 2.0
    assert total < 3.0  # the other nine waited one time limit together, not one each
    assert hung.timeouts == hung.errors >= 1 and hung.hits == 0
    assert healthy.hits == 11


def _down(proxy: FaultProxy, how: str) -> str:
    """Make the tier behind ``proxy`` fail as ``how``; return the URL to reach it at."""
    if how == "503":
        proxy.inject(STATUS, status=503)
    elif how == "reset":
        proxy.inject(RESET)
    else:  # refused: nothing listens at this port any more
        return "http://127.0.0.1:9"
    return proxy.url


@pytest.mark.parametrize("how", ["503", "reset", "refused"])
async def test_a_tier_that_is_down_makes_get_raise_store_not_available_never_not_found(
    s3_origin: Origin, gcs_origin: Origin, tmp_path: Path, how: str
) -> None:
    data = blob(4)
    [key] = await _seed(s3_origin, [data])  # only the tier that is down has it
    async with FaultProxy(s3_origin.upstream) as proxy:
        chain = Sha1Composite()
        chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
        chain.append_source(_keyed(gcs_origin, gcs_origin.upstream))  # answers "not there"
        chain.append_source(_keyed(s3_origin, _down(proxy, how)), cache_result=True)
        async with chain:
            with pytest.raises(StoreNotAvailable) as caught:
                await chain.get(key)
            assert not isinstance(caught.value, NotFoundInStore)
            assert "S3Raw" in str(caught.value)
            with pytest.raises(StoreNotAvailable):
                await chain.get_many([key])
            with pytest.raises(StoreNotAvailable):
                _ = [pair async for pair in chain.iter_get([key])]
            with pytest.raises(StoreNotAvailable):
                await chain.exists(key)
            with pytest.raises(StoreNotAvailable):
                _ = [c async for c in chain.stream(key)]
    assert files_under(tmp_path / "cache") == {}
    assert how == "refused" or proxy.faults >= 5


async def test_without_the_tier_that_is_down_the_same_key_is_simply_missing(
    gcs_origin: Origin, tmp_path: Path
) -> None:
    """The control for the test above: the chain's answer changes only by the outage."""
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
    chain.append_source(_keyed(gcs_origin, gcs_origin.upstream))
    async with chain:
        with pytest.raises(NotFoundInStore):
            await chain.get(sha1(blob(4)))
        assert await chain.get_many([sha1(blob(4))]) == [None]


# -- 2,000 keys ---------------------------------------------------------------------------------

BULK = 2000


@pytest.fixture(params=["s3", "gcs", "http"])
def bulk_origin(request: pytest.FixtureRequest) -> Origin:
    """SeaweedFS (moto is too slow for 2,000 keys), fake-gcs-server, the HTTP origin."""
    name = "weed" if request.param == "s3" else request.param
    return request.getfixturevalue(f"{name}_origin")  # type: ignore[no-any-return]


async def test_a_bulk_get_of_2000_keys_through_a_flaky_tier_returns_every_blob(
    bulk_origin: Origin, retries: RetryLog, tmp_path: Path
) -> None:
    data = [blob(i, 512) for i in range(BULK)]
    keys = await _seed(bulk_origin, data)
    cache_dir = tmp_path / "cache"
    async with FaultProxy(bulk_origin.upstream) as proxy:
        answered = proxy.inject(STATUS, status=503, fraction=0.06, seed=9)
        proxy.inject(RESET, fraction=0.02, seed=10)
        cut = proxy.inject(TRUNCATE, fraction=0.02, seed=11, methods={"GET"})
        async with _cached_chain(bulk_origin, proxy.url, cache_dir) as chain:
            got = await chain.get_many(keys)
            await chain.flush()
            stats = chain.stats
    print(f"figures: {BULK} keys, {proxy.faults} faults, {retries.retried} retried by policy")
    assert got == data
    assert 0.07 * BULK < proxy.faults < 0.14 * BULK  # about 10 % of the first attempts
    assert proxy.count() == BULK + proxy.faults  # each fault cost exactly one more request
    # Resets may be resent by aiohttp itself (see above); the rest by the store's policy.
    assert answered.injected + cut.injected <= retries.retried <= proxy.faults
    cached = files_under(cache_dir)
    assert all(sha1(content) == name for name, content in cached.items())
    assert len(cached) + stats.fills_dropped == BULK and stats.fills_failed == 0


async def test_a_dead_tier_in_front_of_a_healthy_one_costs_a_few_timeouts_for_2000_keys(
    s3_origin: Origin,
) -> None:
    data = [blob(i, 64) for i in range(BULK)]
    healthy = Sha1Store(MemoryRaw(), "mem://healthy/")
    await healthy.put_many((sha1(b), b) for b in data)
    async with FaultProxy(s3_origin.upstream) as proxy:
        proxy.inject(HANG)
        chain = Sha1Composite(circuit_threshold=5, circuit_cooldown=60)
        chain.append_source(_keyed(s3_origin, proxy.url), timeout=0.25)
        chain.append_source(healthy)
        async with chain:
            started = time.monotonic()
            got = await chain.get_many([sha1(b) for b in data], concurrency=64)
            elapsed = time.monotonic() - started
            dead = chain.stats.tiers[0]
    print(f"figures: dead tier reached {proxy.count()} times for {BULK} keys in {elapsed:.2f} s")
    assert got == data
    # The first wave (64 keys in flight, and the few started before the fifth failure came
    # back) waits one time limit together; then the circuit is open and the other keys skip
    # the dead tier at once: no request of theirs reaches it.
    assert proxy.count() <= dead.timeouts <= 64 + 5
    assert dead.skipped == BULK - dead.timeouts
    assert dead.circuit == "open" and dead.circuit_opened >= 1
    assert elapsed < 4 * 0.25 + 1.0  # a few time limits; not one per key (2000 x 0.25 s)


async def test_a_tripped_tier_is_probed_after_its_cooldown_and_used_again_once_healthy(
    s3_origin: Origin,
) -> None:
    data = [blob(i) for i in range(8)]
    keys = await _seed(s3_origin, data)
    spare = Sha1Store(MemoryRaw(), "mem://spare/")
    await spare.put_many(zip(keys, data, strict=True))
    async with FaultProxy(s3_origin.upstream) as proxy:
        outage = proxy.inject(STATUS, status=503)
        chain = Sha1Composite(circuit_threshold=3, circuit_cooldown=0.5)
        chain.append_source(_keyed(s3_origin, proxy.url))
        chain.append_source(spare)
        async with chain:
            for key, expected in zip(keys[:3], data[:3], strict=True):
                assert await chain.get(key) == expected  # from the spare, after retries
            assert chain.stats.tiers[0].circuit == "open"
            reached = proxy.count()
            assert await chain.get(keys[3]) == data[3]
            assert proxy.count() == reached  # skipped: not one request during the cool-down
            proxy.remove(outage)
            await asyncio.sleep(0.6)
            assert chain.stats.tiers[0].circuit == "half-open"
            assert await chain.get(keys[4]) == data[4]  # the probe, answered by the tier
            assert chain.stats.tiers[0].circuit == "closed"
            assert await chain.get(keys[5]) == data[5]
            front = chain.stats.tiers[0]
    assert proxy.count() == reached + 2
    assert front.hits == 2 and front.skipped == 1 and front.circuit_opened == 1
    assert outage.injected == 3 * 8  # three keys, eight attempts each


async def test_a_store_reached_through_the_proxy_is_unaffected_when_no_rule_fires(
    origin: Origin,
) -> None:
    """The proxy itself neither changes bytes nor drops requests: the baseline of this file."""
    data = [blob(i, 3000) for i in range(20)]
    keys = await _seed(origin, data)
    async with FaultProxy(origin.upstream) as proxy:
        proxy.inject(STATUS, status=500, fraction=0.0)
        store: Store = _keyed(origin, proxy.url)
        async with store:
            assert await store.get_many(keys) == data
            assert [blob_index(d) for d in await store.get_many(keys[:3])] == [0, 1, 2]
    assert proxy.faults == 0 and proxy.count() == 23
