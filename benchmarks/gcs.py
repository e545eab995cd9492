"""GSRaw.get_many beside a plain gcloud-aio-storage download loop, on fake-gcs-server.

2,000 objects of 4 KiB, concurrency 32, rounds interleaved (ours, then the baseline, and so on)
so that drift in the server or the machine hits both alike. Reported: medians of objects/s and
of client CPU seconds per 1,000 objects (``time.process_time``: this process only, the server
excluded). Target: GSRaw costs under 15 % more than the plain loop.

Then one whole-object ``get`` of 256 MiB, in a process of its own (``tests/raw/_gcs_rss.py``),
read in one request (``parallel_threshold=None``): how much its peak resident memory grows,
against the object's size. Target: at most 1.15× (the body lands in one buffer sized from
``Content-Length``).

Last, a ``get`` of one 64 MiB object: GSRaw as it is (parallel ranges of ``chunk_size``, 8 MiB,
eight at a time) beside GSRaw with ``parallel_threshold=None`` (one request), on loopback and
through `_throttle`'s proxy at 40 MB/s per connection; rounds rotate the order. (obstore is not
measured: its GCS client uses the XML API, ``/bucket/object``, which fake-gcs-server answers 404
here.)

Run: python benchmarks/gcs.py [--rounds N] [--json out.json]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import arguments
from _large_get import THROTTLE_MBPS, Read, compare, show
from _throttle import throttled

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gcloud.aio.storage import Storage

from asyncbitstore import GSRaw
from tests.servers import FakeGCSServer

COUNT = 2_000
SIZE = 4096
CONCURRENCY = 32
TARGET = 1.15
LARGE = 256 << 20
LARGE_TARGET = 1.15
PARALLEL = 64 << 20
ROOT = Path(__file__).resolve().parent.parent


async def _round(run: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(objects/s, CPU s per 1,000 objects) of one round."""
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return COUNT / wall, cpu / COUNT * 1000


async def bench(server: FakeGCSServer, rounds: int) -> dict[str, dict[str, float]]:
    url, bucket = server.url, f"bench-{uuid.uuid4().hex[:8]}"
    server.create_bucket(bucket)
    names = [f"objects/{i:05}" for i in range(COUNT)]
    blobs = {name: os.urandom(SIZE) for name in names}
    uris = [f"gs://{bucket}/{name}" for name in names]
    async with GSRaw(api_root=url) as store, Storage(api_root=url) as storage:
        await store.put_many(((f"gs://{bucket}/{n}", b) for n, b in blobs.items()), concurrency=32)

        async def ours() -> None:
            got = await store.get_many(uris, concurrency=CONCURRENCY)
            assert got[0] == blobs[names[0]] and got[-1] == blobs[names[-1]]

        async def plain() -> None:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(name: str) -> bytes:
                async with gate:
                    return await storage.download(bucket, name)

            got = await asyncio.gather(*(one(n) for n in names))
            assert got[0] == blobs[names[0]] and got[-1] == blobs[names[-1]]

        await ours()  # warm up: connections, caches
        await plain()
        results: dict[str, list[tuple[float, float]]] = {"GSRaw.get_many": [], "plain loop": []}
        for _ in range(rounds):
            results["GSRaw.get_many"].append(await _round(ours))
            results["plain loop"].append(await _round(plain))
    return {
        case: {
            "objects_per_s": statistics.median(r[0] for r in runs),
            "cpu_s_per_1000": statistics.median(r[1] for r in runs),
        }
        for case, runs in results.items()
    }


async def _upload_large(server: FakeGCSServer) -> tuple[str, str]:
    """A small object to warm up on and one of `LARGE` bytes: their URIs."""
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    server.create_bucket(bucket)
    warm, big = f"gs://{bucket}/warm", f"gs://{bucket}/large"
    async with GSRaw(api_root=server.url) as store:
        await store.put(warm, b"w" * 1000)
        await store.put(big, os.urandom(1 << 20) * (LARGE >> 20))
    return warm, big


def large_get(server: FakeGCSServer) -> float:
    """Peak resident memory growth of one whole-object get of `LARGE` bytes, per byte."""
    warm, big = asyncio.run(_upload_large(server))
    probe = ROOT / "tests" / "raw" / "_gcs_rss.py"
    single = json.dumps({"parallel_threshold": None})
    done = subprocess.run(
        [sys.executable, str(probe), server.url, warm, big, single],
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, check=True,
    )  # fmt: skip
    size, grown = map(int, done.stdout.split())
    assert size == LARGE
    return grown / LARGE


async def parallel_get(server: FakeGCSServer, rounds: int) -> dict[str, dict[str, float]]:
    """Seconds per `get` of a `PARALLEL`-byte object: parallel ranges vs one request."""
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    server.create_bucket(bucket)
    uri = f"gs://{bucket}/parallel"
    async with GSRaw(api_root=server.url) as store:
        await store.put(uri, os.urandom(1 << 20) * (PARALLEL >> 20))
    table = {}
    with throttled(server.url, THROTTLE_MBPS) as slow:
        for link, root in (("loopback", server.url), (f"{THROTTLE_MBPS} MB/s", slow)):
            stores = {
                "GSRaw (parallel ranges)": GSRaw(api_root=root),
                "GSRaw parallel_threshold=None": GSRaw(api_root=root, parallel_threshold=None),
            }

            def reader(store: GSRaw) -> Read:
                async def read() -> int:
                    return len(await store.get(uri))

                return read

            try:
                clients = {name: reader(store) for name, store in stores.items()}
                times = await compare(clients, PARALLEL, rounds)
            finally:
                for store in stores.values():
                    await store.aclose()
            title = f"get of {PARALLEL >> 20} MiB, {link}, medians of {rounds} rounds"
            table[link] = show(title, times, PARALLEL)
    return table


def main() -> None:
    args = arguments(__doc__ or "")
    rounds = max(args.rounds, 5)
    with FakeGCSServer() as server:
        figures = asyncio.run(bench(server, rounds))
        large = large_get(server)
        parallel = asyncio.run(parallel_get(server, rounds))
    ours, plain = figures["GSRaw.get_many"], figures["plain loop"]
    cpu_ratio = ours["cpu_s_per_1000"] / plain["cpu_s_per_1000"]
    speed_ratio = plain["objects_per_s"] / ours["objects_per_s"]
    print(f"{COUNT} objects of {SIZE} B, concurrency {CONCURRENCY}, medians of {rounds} rounds")
    print(f"{'case':<18}{'objects/s':>12}{'CPU s/1000':>12}")
    for case, figure in figures.items():
        print(f"{case:<18}{figure['objects_per_s']:>12.0f}{figure['cpu_s_per_1000']:>12.4f}")
    print(f"CPU ratio {cpu_ratio:.3f}, time ratio {speed_ratio:.3f} (target < {TARGET})")
    print(f"{LARGE >> 20} MiB get: peak RSS grew {large:.2f}x the object", end=" ")
    print(f"(target <= {LARGE_TARGET})")
    if args.json is not None:
        summary = {
            "figures": figures,
            "cpu_ratio": cpu_ratio,
            "time_ratio": speed_ratio,
            "large_get_rss_per_byte": large,
            "parallel_get": parallel,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
