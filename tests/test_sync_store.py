"""``asyncbitstore.sync.SyncStore``: a store's methods as blocking functions, on one private
event-loop thread, safe to call from many threads."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import itertools
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    FileRaw,
    InvalidURI,
    MemoryRaw,
    NotFoundInStore,
    NotWritable,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from asyncbitstore.sync import InsideRunningLoop, SyncStore
from tests.contract.targets_s3 import fresh_bucket

THREADS = 16
PER_THREAD = 20


def sync_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("asyncbitstore-sync")}


def memory_chain() -> Composite:
    chain = Composite()
    chain.append_cache(MemoryRaw())
    chain.append_source(MemoryRaw(), write=True, cache_result=True)
    return chain


def hammer(store: SyncStore[Any], prefix: str) -> None:
    """16 threads each put and read back their own blobs, all at once."""

    def work(worker: int) -> list[bool]:
        results = []
        for i in range(PER_THREAD):
            uri = f"{prefix}{worker}/{i}"
            data = f"{worker}:{i}".encode() * 50
            store.put(uri, data)
            results.append(store.get(uri) == data and store.exists(uri))
        return results

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(work, range(THREADS)))
    assert all(all(row) for row in outcomes)
    uris = [f"{prefix}{w}/{i}" for w in range(THREADS) for i in range(PER_THREAD)]
    blobs = store.get_many(uris)
    assert blobs == [f"{w}:{i}".encode() * 50 for w in range(THREADS) for i in range(PER_THREAD)]


def test_many_threads_at_once_on_a_memory_chain() -> None:
    before = sync_threads()
    with SyncStore(memory_chain()) as store:
        hammer(store, "mem://t/")
        assert len(sync_threads() - before) == 1  # one loop thread serves every caller
        stats = store.stats
        assert stats is not None
        # each blob read twice (get, get_many): once from the source, once from the cache
        assert [t.hits for t in stats.tiers] == [THREADS * PER_THREAD] * 2
        assert stats.fills_done == THREADS * PER_THREAD


@pytest.fixture
async def bucket(moto_server: Any) -> AsyncIterator[str]:
    async with fresh_bucket(moto_server.url) as (name, _):
        yield name


@pytest.mark.servers
def test_many_threads_at_once_on_s3(bucket: str, moto_server: Any) -> None:
    with SyncStore(S3Raw(endpoint_url=moto_server.url)) as store:
        hammer(store, f"s3://{bucket}/sync/")
        listed = list(store.list(f"s3://{bucket}/sync/0/"))
        assert sorted(listed) == sorted(f"s3://{bucket}/sync/0/{i}" for i in range(PER_THREAD))
        assert store.delete_many(listed) == PER_THREAD
        assert not store.exists(listed[0])


def test_iter_get_pulls_its_input_lazily() -> None:
    pulled = 0

    def endless() -> Iterator[str]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield f"mem://lazy/{i % 10}"

    raw = MemoryRaw()
    with SyncStore(raw) as store:
        store.put_many((f"mem://lazy/{i}", bytes([i])) for i in range(10))
        results = store.iter_get(endless(), concurrency=4, ordered=True)
        first = [next(results) for _ in range(5)]
        assert first == [(f"mem://lazy/{i}", bytes([i])) for i in range(5)]
        results.close()  # cancels the fetches and waits for them
        seen = pulled
        assert seen <= 5 + 4 * 4  # a bounded read-ahead, nowhere near the whole input
        time.sleep(0.2)
        assert pulled == seen  # nothing runs on after close
        assert list(store.iter_get(["mem://lazy/1", "mem://lazy/x"], ordered=True)) == [
            ("mem://lazy/1", b"\x01"),
            ("mem://lazy/x", None),
        ]


async def test_calling_it_inside_a_running_loop_is_refused() -> None:
    store = SyncStore(MemoryRaw())
    with pytest.raises(InsideRunningLoop, match=r"await .*get"):
        store.get("mem://a/b")
    with pytest.raises(InsideRunningLoop, match="await"):
        next(store.iter_get(["mem://a/b"]))
    with pytest.raises(InsideRunningLoop, match="await"), store.local_path("mem://a/b"):
        pass
    assert isinstance(InsideRunningLoop("x"), RuntimeError)
    await asyncio.to_thread(store.close)


def test_close_stops_the_thread_and_closes_the_store() -> None:
    closed: list[str] = []

    class Tracked(MemoryRaw):
        async def aclose(self) -> None:
            closed.append("closed")

    before = sync_threads()
    store = SyncStore(Tracked())
    store.put("mem://c/1", b"x")
    (thread,) = sync_threads() - before
    store.close()
    assert not thread.is_alive() and thread not in threading.enumerate()
    assert closed == ["closed"]
    store.close()  # twice is fine
    with SyncStore(Tracked()) as again:
        again.put("mem://c/1", b"x")
        (thread,) = sync_threads() - before
    assert not thread.is_alive()
    assert closed == ["closed", "closed"]
    gone = weakref.ref(again)
    del again
    gc.collect()
    assert gone() is None  # nothing (an exit hook, say) keeps a closed SyncStore alive


def test_exceptions_keep_their_type() -> None:
    chain = Sha1Composite()
    chain.append_source(Sha1Store(MemoryRaw(), "mem://s/"))
    with SyncStore(chain) as store:
        with pytest.raises(NotFoundInStore):
            store.get("0" * 40)
        with pytest.raises(InvalidURI):
            store.get("not a key")
        with pytest.raises(NotWritable):
            store.put("0" * 40, b"x")
        with pytest.raises(KeyError):  # NotFoundInStore is a KeyError, as in epic-bitstore
            store.size("0" * 40)
    with SyncStore(MemoryRaw()) as plain, pytest.raises(NotWritable, match="write"):
        plain.write(b"no digest keys here")


def test_the_other_methods(tmp_path: Path) -> None:
    cache = Sha1Cache(FileRaw(), f"{tmp_path}/cache/")
    chain = Sha1Composite()
    chain.append_cache(cache)
    chain.append_source(Sha1Store(MemoryRaw(), "mem://src/"), write=True, cache_result=True)
    blob = bytes(range(256)) * 40
    key = hashlib.sha1(blob).hexdigest()
    with SyncStore(chain) as store:
        assert store.write(blob) == key
        assert store.size(key) == len(blob)
        assert store.get_range(key, 10, 20) == blob[10:20]
        assert b"".join(store.stream(key, chunk_size=1000)) == blob
        assert all(len(c) <= 1000 for c in store.stream(key, 1000))
        assert store.exists_many([key, "0" * 40]) == {key: True, "0" * 40: False}
        store.flush()
        with store.local_path(key) as path:
            assert path.read_bytes() == blob
        doc = {"a": [1, 2]}
        json_key = hashlib.sha1(b'{"a":[1,2]}').hexdigest()
        store.put_json(json_key, doc)
        assert store.get_json(json_key) == doc
        assert store.get(json_key, stored=True) == b'{"a":[1,2]}'  # keywords pass through
        store.delete(json_key)
        assert not store.exists(json_key)
        streamed = store.stream(key, 1000)
        next(streamed)
        streamed.close()  # stopping early is fine
        assert "SyncStore" in repr(store)
    with SyncStore(MemoryRaw()) as empty, pytest.raises(NotFoundInStore):
        empty.get("mem://x/y")


def test_it_needs_a_store() -> None:
    with pytest.raises(TypeError, match="Store"):
        SyncStore(object())  # type: ignore[type-var]
