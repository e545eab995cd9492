"""After `chain.put(k, v2)` or `chain.delete(k)` returns, no read through the chain gives the old
content, whatever was in flight: each race staged deterministically with a source whose reads
wait on an event the test controls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    Composite,
    FileRaw,
    MemoryRaw,
    NotFoundInStore,
    PrefixCache,
    PrefixStore,
    S3Raw,
)
from tests.contract.targets_s3 import fresh_bucket

KEY = "mem://b/k"


class Gated(MemoryRaw):
    """A memory store whose reads take the current bytes, then wait for `gate` (when held)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        return self.gate

    async def _pause(self) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()

    async def get(self, uri: str, *, stored: bool = False, raw: bool | None = None) -> bytes:
        data = self._blobs.get(uri)  # what a slow read began with
        await self._pause()
        if data is None:
            raise NotFoundInStore(self, uri)
        return data

    async def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        data = self._blobs.get(uri)
        await self._pause()
        if data is None:
            raise NotFoundInStore(self, uri)
        for offset in range(0, len(data), chunk_size):
            yield data[offset : offset + chunk_size]


def build(**options: Any) -> tuple[Composite, MemoryRaw, Gated]:
    cache, source = MemoryRaw(), Gated()
    chain = Composite(**options)
    chain.append_cache(cache, name="cache")
    chain.append_source(source, name="source", write=True, cache_result=True)
    return chain, cache, source


async def assert_everywhere(chain: Composite, cache: MemoryRaw, expected: bytes | None) -> None:
    """Every tier and every kind of read gives `expected` (None: missing)."""
    await chain.flush()
    if expected is None:
        assert not await cache.exists(KEY)
        assert not await chain.exists(KEY)
        with pytest.raises(NotFoundInStore):
            await chain.get(KEY)
        return
    if await cache.exists(KEY):
        assert await cache.get(KEY) == expected
    assert await chain.get(KEY) == expected
    assert b"".join([c async for c in chain.stream(KEY)]) == expected
    assert await chain.get_range(KEY, 0, len(expected)) == expected
    assert await chain.size(KEY) == len(expected)
    await chain.flush()
    assert await cache.get(KEY) == expected  # filled by the reads above, with the new bytes


async def test_a_get_begun_before_a_put_does_not_fill_the_old_bytes() -> None:
    chain, cache, source = build()
    await source.put(KEY, b"old")
    gate = source.hold()
    reader = asyncio.create_task(chain.get(KEY))
    await source.entered.wait()  # the read has taken the old bytes
    source.gate = None
    await chain.put(KEY, b"new")
    gate.set()
    assert await reader == b"old"  # it began before the put: either answer is allowed
    await assert_everywhere(chain, cache, b"new")
    assert len(chain._writes) <= 1  # at most this key, until the next sweep


async def test_a_get_after_a_put_does_not_join_a_flight_begun_before() -> None:
    chain, cache, source = build()
    await source.put(KEY, b"old")
    gate = source.hold()
    early = asyncio.create_task(chain.get(KEY))
    await source.entered.wait()
    await chain.put(KEY, b"new")  # the source's put is not held
    late = asyncio.create_task(chain.get(KEY))
    await asyncio.sleep(0)
    gate.set()
    assert await early == b"old"
    assert await late == b"new"
    await assert_everywhere(chain, cache, b"new")


async def test_a_miss_read_before_a_put_is_not_remembered() -> None:
    chain, cache, source = build(negative_ttl=60)
    gate = source.hold()
    reader = asyncio.create_task(chain.get(KEY))
    await source.entered.wait()  # the read found nothing
    source.gate = None
    await chain.put(KEY, b"new")
    gate.set()
    with pytest.raises(NotFoundInStore):
        await reader
    assert chain.negative_hits == 0
    await assert_everywhere(chain, cache, b"new")
    assert chain.negative_hits == 0


async def test_a_get_begun_before_a_delete_does_not_bring_it_back() -> None:
    chain, cache, source = build()
    await source.put(KEY, b"old")
    gate = source.hold()
    reader = asyncio.create_task(chain.get(KEY))
    await source.entered.wait()
    source.gate = None
    await chain.delete(KEY)
    gate.set()
    assert await reader == b"old"
    await assert_everywhere(chain, cache, None)


async def test_a_stream_begun_before_a_put_does_not_fill_the_old_bytes() -> None:
    chain, cache, source = build()
    await source.put(KEY, b"old")
    gate = source.hold()

    async def read() -> bytes:
        return b"".join([c async for c in chain.stream(KEY)])

    reader = asyncio.create_task(read())
    await source.entered.wait()
    source.gate = None
    await chain.put(KEY, b"new")
    gate.set()
    assert await reader == b"old"
    await assert_everywhere(chain, cache, b"new")


async def test_replication_of_an_older_put_never_lands_after_a_newer_write() -> None:
    first, second = MemoryRaw(), Gated()
    chain = Composite()
    chain.append_source(first, name="first", write=True)
    chain.append_source(second, name="second", write=True)

    slow_put = second.put
    gate = asyncio.Event()

    async def held_put(uri: str, data: Any, **options: Any) -> None:
        await gate.wait()
        await slow_put(uri, data, **options)

    second.put = held_put  # type: ignore[method-assign]
    await chain.put(KEY, b"v1")  # its replication waits on the gate
    newer = asyncio.create_task(chain.put(KEY, b"v2"))
    await asyncio.sleep(0.01)
    gate.set()
    await newer
    await chain.flush()
    assert await second.get(KEY) == b"v2"
    gate.clear()
    await chain.put(KEY, b"v3")  # replication held again
    deleting = asyncio.create_task(chain.delete(KEY))
    await asyncio.sleep(0.01)
    gate.set()
    await deleting
    await chain.flush()
    assert not await first.exists(KEY)
    assert not await second.exists(KEY)


def test_write_generations_stay_bounded() -> None:
    from asyncbitstore.composite._generations import WriteGenerations

    busy: set[str] = set()
    generations = WriteGenerations(busy.__contains__, max_entries=100)
    since = generations.now()
    busy.add("a")
    generations.begin("a")
    assert not since.current("a")  # a write under way
    generations.end("a")
    assert not since.current("a")
    assert generations.now().current("a")
    for n in range(1_000):
        busy.add(f"k{n}")
        generations.begin(f"k{n}")
        generations.end(f"k{n}")
        assert len(generations) <= 100
    assert not since.current("a")  # dropped while busy: older reads outdated
    busy.clear()  # the old keys are idle now: swept once the table grows again
    sizes = []
    for n in range(200):
        busy.clear()  # one key in flight at a time
        busy.add(f"z{n}")
        generations.begin(f"z{n}")
        generations.end(f"z{n}")
        sizes.append(len(generations))
    assert min(sizes) <= 2


async def test_no_stale_read_after_a_put_on_real_servers(moto_server: Any, tmp_path: Path) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, _):
        memory = PrefixCache(MemoryRaw(), "mem://hot/")
        files = PrefixCache(FileRaw(), f"{tmp_path}/warm/")
        source = PrefixStore(S3Raw(endpoint_url=moto_server.url), f"s3://{bucket}/named/")
        chain = Composite()
        chain.append_cache(memory, name="memory")
        chain.append_cache(files, name="files")
        chain.append_source(source, name="source", write=True, cache_result=True)
        async with chain:
            await chain.put("a/b.txt", b"old")
            assert await chain.get("a/b.txt") == b"old"
            await chain.flush()
            assert await memory.get("a/b.txt") == b"old"
            # Reads of the old copy under way while the new one is put.
            readers = [asyncio.create_task(chain.get("a/b.txt")) for _ in range(5)]
            streams = [asyncio.create_task(_read_all(chain, "a/b.txt")) for _ in range(2)]
            await asyncio.sleep(0)
            await chain.put("a/b.txt", b"new!")
            for task in [*readers, *streams]:
                assert await task in (b"old", b"new!")
            assert await chain.get("a/b.txt") == b"new!"
            assert await chain.get_range("a/b.txt", 0, 4) == b"new!"
            assert await chain.size("a/b.txt") == 4
            await chain.flush()
            for tier in (memory, files, source):
                if tier is source or await tier.exists("a/b.txt"):
                    assert await tier.get("a/b.txt") == b"new!"
            await chain.delete("a/b.txt")
            await chain.flush()
            for tier in (memory, files, source):
                assert not await tier.exists("a/b.txt")
            assert not await chain.exists("a/b.txt")


async def _read_all(chain: Composite, key: str) -> bytes:
    return b"".join([c async for c in chain.stream(key)])
