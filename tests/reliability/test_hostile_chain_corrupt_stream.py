"""A corrupt copy in a cache must not break streams of its key (the chain's stream())."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import InvalidDataFound, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store

SMALL = b"a small blob, read whole before its first byte is passed on"
LARGE = os.urandom(64 * 1024)
CHUNK = 1024
AHEAD = 4 * CHUNK  # the chain's read-ahead in these tests: LARGE is far bigger


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def tampered(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])  # same size, last byte wrong


class CountingCache(Sha1Cache):
    """A cache that counts the chunks its streams have produced."""

    pulled = 0

    async def stream(  # type: ignore[override]
        self, uri: str, chunk_size: int = CHUNK, *, stored: bool = False
    ) -> AsyncIterator[bytes]:
        async for chunk in super().stream(uri, chunk_size, stored=stored):
            self.pulled += 1
            yield chunk


async def _corrupt_cache(blob: bytes, verify: bool) -> Sha1Cache:
    cache = CountingCache(MemoryRaw(), "mem://c/", verify=verify)
    await cache.raw.put(f"mem://c/{sha1(blob)}", tampered(blob))
    return cache


def _empty_chain() -> Sha1Composite:
    chain = Sha1Composite()
    chain.stream_verify_ahead = AHEAD
    return chain


async def _chain(blob: bytes, *, verify: bool = True) -> tuple[Sha1Composite, Sha1Cache]:
    cache = await _corrupt_cache(blob, verify)
    source = Sha1Store(MemoryRaw(), "mem://s/")
    await source.put(sha1(blob), blob)
    chain = _empty_chain()
    chain.append_cache(cache)
    chain.append_source(source, cache_result=True)
    return chain, cache


async def _read(chain: Sha1Composite, key: str) -> bytes:
    async def read() -> bytes:
        return b"".join([chunk async for chunk in chain.stream(key, chunk_size=CHUNK)])

    return await asyncio.wait_for(read(), 20)


async def _refilled(chain: Sha1Composite, cache: Sha1Cache, blob: bytes) -> None:
    await asyncio.wait_for(chain.flush(), 20)
    assert await cache.raw.get(f"mem://c/{sha1(blob)}") == blob


@pytest.mark.parametrize("verify", [True, False])
async def test_a_small_corrupt_cached_copy_is_dropped_and_the_source_streamed(
    verify: bool,
) -> None:
    chain, cache = await _chain(SMALL, verify=verify)
    assert await _read(chain, sha1(SMALL)) == SMALL
    assert chain.stats.tiers[0].corrupt == 1
    await _refilled(chain, cache, SMALL)
    assert await _read(chain, sha1(SMALL)) == SMALL  # now a cache hit
    assert chain.stats.tiers[0].hits == 1


async def test_a_large_corrupt_cached_copy_raises_once_then_streams_from_the_source() -> None:
    chain, cache = await _chain(LARGE)
    key = sha1(LARGE)
    with pytest.raises(InvalidDataFound, match="stream it again"):
        await _read(chain, key)
    assert not await cache.raw.exists(f"mem://c/{key}")  # the corrupt copy is gone
    assert chain.stats.tiers[0].corrupt == 1
    assert await _read(chain, key) == LARGE
    await _refilled(chain, cache, LARGE)


async def test_a_large_cached_blob_is_not_held_whole_before_its_first_chunk() -> None:
    key = sha1(LARGE)
    cache = CountingCache(MemoryRaw(), "mem://c/", verify=True)
    await cache.put(key, LARGE)
    chain = _empty_chain()
    chain.append_cache(cache)
    stream = chain.stream(key, chunk_size=CHUNK)
    assert await anext(stream) == LARGE[:CHUNK]
    assert cache.pulled <= AHEAD // CHUNK + 1
    rest = b"".join([chunk async for chunk in stream])
    assert LARGE[:CHUNK] + rest == LARGE


async def test_a_corrupt_copy_in_a_cache_fed_by_a_later_cache_is_not_copied_forward() -> None:
    front = Sha1Cache(MemoryRaw(), "mem://front/")
    cache = await _corrupt_cache(LARGE, verify=False)
    chain = _empty_chain()
    chain.append_cache(front)
    chain.append_cache(cache)
    chain.append_source(Sha1Store(MemoryRaw(), "mem://empty/"))
    key = sha1(LARGE)
    with pytest.raises(InvalidDataFound):
        await _read(chain, key)
    await asyncio.wait_for(chain.flush(), 20)
    assert not await front.exists(key)
    assert not await cache.raw.exists(f"mem://c/{key}")
