"""A four-tier chain on the local machine: no cloud account, no setup.

    memory cache (bounded)  ->  file cache  ->  file "remote"  ->  slow API

Fetches a few hundred blobs in bulk twice and prints where each fetch was served from and how
long it took. The first pass finds everything in the remote or the API and fills the caches in
the background; the second is served from the caches.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import tempfile
import time

from asyncbitstore import FileRaw, MemoryRaw, Sha1APISource, Sha1Cache, Sha1Composite, Sha1Store

BLOBS = 600
API_LATENCY = 0.02  # seconds per call: the expensive tier


class SlowAPI(Sha1APISource):
    """Stands in for a remote service that knows some blobs and answers slowly."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        super().__init__(verify=True)
        self.blobs = blobs
        self.calls = 0

    async def api_get(self, key: str) -> bytes | None:
        self.calls += 1
        await asyncio.sleep(API_LATENCY)
        return self.blobs.get(key)


def make_blobs(count: int) -> dict[str, bytes]:
    rng = random.Random(7)
    blobs = [rng.randbytes(rng.randint(1_000, 64_000)) for _ in range(count)]
    return {hashlib.sha1(blob).hexdigest(): blob for blob in blobs}


async def main() -> None:
    blobs = make_blobs(BLOBS)
    keys = list(blobs)
    half = len(keys) // 2
    with tempfile.TemporaryDirectory() as folder:
        remote = Sha1Store(FileRaw(), f"{folder}/remote/")
        await remote.put_many((key, blobs[key]) for key in keys[:half])  # the rest: API only
        api = SlowAPI({key: blobs[key] for key in keys[half:]})

        store = Sha1Composite()
        store.append_cache(Sha1Cache(MemoryRaw(max_bytes=8 << 20), "mem://hot/"))
        store.append_cache(Sha1Cache(FileRaw(), f"{folder}/cache/"))
        store.append_source(remote, cache_result=True)
        store.append_source(api, cache_result=True)

        async with store:
            passes = [
                ("first pass (cold caches)", keys),
                # Newest first: the bounded memory tier still holds the blobs filled last.
                ("second pass (warm caches, newest first)", keys[::-1]),
            ]
            for label, order in passes:
                store.reset_stats()
                started = time.perf_counter()
                results = await store.get_many(order, concurrency=64)
                elapsed = time.perf_counter() - started
                assert results == [blobs[key] for key in order], "every blob comes back intact"
                await store.flush()  # let the background cache fills land
                print(f"\n{label}: {len(keys)} blobs in {elapsed * 1000:.0f} ms")
                for tier in store.stats.tiers:
                    print(f"  {tier.hits:4d} hits  {tier.name}")
                stats = store.stats
                print(f"  cache fills: {stats.fills_done} done, {stats.fills_dropped} dropped")
            print(f"\nAPI calls in all: {api.calls} (each blob fetched from it once)")


if __name__ == "__main__":
    asyncio.run(main())
