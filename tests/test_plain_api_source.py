"""API sources whose ``api_get``/``api_exists`` are plain (blocking) functions, as in
epic-bitstore: they run on a bounded worker thread pool and behave like async ones."""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import threading
import time
from collections.abc import Awaitable

import pytest

from asyncbitstore import (
    HashAPISource,
    MemoryRaw,
    NotFoundInStore,
    Sha1APISource,
    Sha1Cache,
    Sha1Composite,
    StoreNotAvailable,
)

BLOB = b"a blob served by a blocking API"
KEY = hashlib.sha1(BLOB).hexdigest()
MISSING = "0" * 40


class BlockingAPI(Sha1APISource):
    """An epic-bitstore style source: a plain ``api_get`` that blocks for ``delay`` seconds."""

    def __init__(self, blobs: dict[str, bytes], delay: float = 0.0, max_workers: int = 16) -> None:
        super().__init__(max_workers=max_workers)
        self.blobs = blobs
        self.delay = delay
        self.threads: set[str] = set()
        self.workers: set[threading.Thread] = set()
        self.calls = 0

    def api_get(self, sha1: str) -> bytes | None:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.workers.add(threading.current_thread())
        if self.delay:
            time.sleep(self.delay)
        return self.blobs.get(sha1)


def chain_of(source: Sha1APISource) -> tuple[Sha1Composite, Sha1Cache]:
    cache = Sha1Cache(MemoryRaw(), "mem://cache/")
    chain = Sha1Composite(circuit_threshold=2)
    chain.append_cache(cache)
    chain.append_source(source, cache_result=True)
    return chain, cache


async def test_a_plain_api_get_serves_hits_and_fills_the_cache() -> None:
    source = BlockingAPI({KEY: BLOB})
    chain, cache = chain_of(source)
    async with chain:
        for _ in range(5):  # more than the circuit threshold: no outage is ever counted
            assert await chain.get(KEY) == BLOB
            await cache.delete(KEY)
        assert await chain.get(KEY) == BLOB
        await chain.flush()
        assert await cache.get(KEY) == BLOB
        with pytest.raises(NotFoundInStore):
            await chain.get(MISSING)
        (tier,) = [t for t in chain.stats.tiers if t.hits]
        assert tier.errors == 0
        assert tier.circuit in (None, "closed")
    assert threading.main_thread().name not in source.threads  # ran on worker threads


async def test_plain_gets_run_concurrently_on_the_pool() -> None:
    blobs = {hashlib.sha1(bytes([i])).hexdigest(): bytes([i]) for i in range(8)}
    source = BlockingAPI(blobs, delay=0.5)
    chain, _ = chain_of(source)
    async with chain:
        started = time.monotonic()
        got = await asyncio.gather(*(chain.get(key) for key in blobs))
        took = time.monotonic() - started
    assert got == list(blobs.values())
    assert took < 8 * 0.5 / 2  # one at a time would take 4 s
    assert len(source.threads) > 1


async def test_max_workers_bounds_the_pool() -> None:
    blobs = {hashlib.sha1(bytes([i])).hexdigest(): bytes([i]) for i in range(6)}
    source = BlockingAPI(blobs, delay=0.05, max_workers=2)
    async with source:
        await asyncio.gather(*(source.get(key) for key in blobs))
    assert len(source.threads) <= 2
    with pytest.raises(ValueError, match="max_workers"):
        BlockingAPI({}, max_workers=0)


async def test_errors_of_a_plain_api_get_keep_their_meaning() -> None:
    class Failing(Sha1APISource):
        def api_get(self, sha1: str) -> bytes | None:
            raise ConnectionError("the API is down")

    with pytest.raises(ConnectionError, match="the API is down"):
        await Failing().get(KEY)
    chain = Sha1Composite()
    chain.append_source(Failing())
    with pytest.raises(StoreNotAvailable, match="the API is down"):
        await chain.get(KEY)
    with pytest.raises(NotFoundInStore):
        await BlockingAPI({}).get(KEY)


async def test_a_plain_api_exists_is_used_and_runs_on_the_pool() -> None:
    seen: list[str] = []

    class Checked(BlockingAPI):
        def api_exists(self, sha1: str) -> bool:
            seen.append(threading.current_thread().name)
            return sha1 in self.blobs

    source = Checked({KEY: BLOB})
    assert source.has_api_exists and source.exists_is_cheap
    async with source:
        assert await source.exists(KEY)
        assert not await source.exists(MISSING)
    assert source.calls == 0  # api_get was never asked
    assert seen and threading.main_thread().name not in seen


async def test_a_plain_def_returning_an_awaitable_still_works() -> None:
    class Wrapped(Sha1APISource):
        async def _fetch(self, sha1: str) -> bytes | None:
            return BLOB if sha1 == KEY else None

        def api_get(self, sha1: str) -> Awaitable[bytes | None]:
            return self._fetch(sha1)

    source = Wrapped()
    assert await source.get(KEY) == BLOB
    with pytest.raises(NotFoundInStore):
        await source.get(MISSING)


async def test_the_pool_is_shut_down_on_aclose_and_rebuilt_on_use() -> None:
    source = BlockingAPI({KEY: BLOB})
    assert await source.get(KEY) == BLOB
    workers = set(source.workers)
    assert workers and all(thread.is_alive() for thread in workers)
    await source.aclose()
    await source.aclose()  # twice is fine
    for thread in workers:
        thread.join(5)
        assert not thread.is_alive()
    assert await source.get(KEY) == BLOB  # usable again
    source.workers.clear()  # (threads do not pickle; the test's record of them goes)
    copy = pickle.loads(pickle.dumps(source))  # the pool does not travel either
    assert await copy.get(KEY) == BLOB
    await copy.aclose()
    await source.aclose()


async def test_async_sources_do_not_use_the_pool() -> None:
    class Async(HashAPISource):
        async def api_get(self, key: str) -> bytes | None:
            return threading.current_thread().name.encode()

    source = Async(algorithm="sha1")
    assert await source.get(KEY) == threading.current_thread().name.encode()
