"""Revalidating an unchanged object (``get_if_changed``) beside fetching it again (``get``).

Usage: ``python benchmarks/revalidate.py [--rounds 9] [--ops 200] [--size 262144]
[--server moto|seaweed] [--json out]``

Starts its own moto_server (``pip install 'moto[s3]'``; or SeaweedFS with ``--server seaweed``)
on loopback, stores one object of
``--size`` bytes (256 KiB by default), and in interleaved rounds (the order alternates every
round) runs ``--ops`` sequential calls of each:

- ``get``: ``S3Raw.get(uri)``, the whole body every time;
- ``get_if_changed``: ``S3Raw.get_if_changed(uri, known)`` with the object's current meta, a
  GET with ``If-None-Match`` that S3 answers 304 with no body.

Both the fast path (requests signed by the store) and botocore's are measured. For each it
prints the median client CPU time (``time.process_time()``: this process only, the server
excluded) and wall time per call, and the ratio revalidation / fetch (the goal: at most 0.3).
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
from tests.servers import MotoServer, SeaweedServer

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
BUCKET = "revalidate"
TARGET = 0.3


async def create_bucket(endpoint: str) -> None:
    config = AioConfig(s3={"addressing_style": "path"})
    async with get_session().create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=config
    ) as client:
        await client.create_bucket(Bucket=BUCKET)


async def measure(call: Callable[[], Awaitable[Any]], ops: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call over ``ops`` sequential calls."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(ops):
        await call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return cpu / ops * 1e6, wall / ops * 1e6


async def bench_path(
    endpoint: str, fast_path: bool, rounds: int, ops: int, size: int
) -> dict[str, list[tuple[float, float]]]:
    uri = f"s3://{BUCKET}/object-{size}"
    async with S3Raw(endpoint_url=endpoint, fast_path=fast_path) as store:
        await store.put(uri, os.urandom(size))
        known = await store.head(uri)

        async def fetch() -> None:
            assert len(await store.get(uri)) == size

        async def revalidate() -> None:
            assert await store.get_if_changed(uri, known) is None

        runs = {"get": fetch, "get_if_changed": revalidate}
        for run in runs.values():  # warm up: connections, credentials, caches
            await measure(run, 10)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for r in range(rounds):
            for name in ["get", "get_if_changed"] if r % 2 == 0 else ["get_if_changed", "get"]:
                results[name].append(await measure(runs[name], ops))
    return results


def report(label: str, results: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    cpu = {name: statistics.median(r[0] for r in runs) for name, runs in results.items()}
    wall = {name: statistics.median(r[1] for r in runs) for name, runs in results.items()}
    print(f"\n{label}: medians of {len(results['get'])} rounds, µs per call")
    print(f"  {'':16}{'CPU µs':>10}{'wall µs':>10}")
    for name in results:
        print(f"  {name:16}{cpu[name]:10.0f}{wall[name]:10.0f}")
    cpu_ratio = cpu["get_if_changed"] / cpu["get"]
    wall_ratio = wall["get_if_changed"] / wall["get"]
    verdict = "ok" if cpu_ratio <= TARGET else "over"
    print(f"  ratio (revalidate / get): CPU {cpu_ratio:.2f}x, wall {wall_ratio:.2f}x "
          f"(target <= {TARGET}x: {verdict})")  # fmt: skip
    return {"cpu_ratio": cpu_ratio, "wall_ratio": wall_ratio, **{
        f"{name}_{kind}_us": value
        for kind, figures in (("cpu", cpu), ("wall", wall))
        for name, value in figures.items()
    }}  # fmt: skip


async def bench(endpoint: str, rounds: int, ops: int, size: int) -> dict[str, Any]:
    await create_bucket(endpoint)
    out = {}
    for label, fast_path in (("fast path", True), ("botocore path", False)):
        results = await bench_path(endpoint, fast_path, rounds, ops, size)
        out[label] = report(f"{size // 1024} KiB object, {label}", results)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--ops", type=int, default=200, help="calls per round and case")
    parser.add_argument("--size", type=int, default=256 << 10, help="object size in bytes")
    parser.add_argument(
        "--server", choices=["moto", "seaweed"], default="moto",
        help="the S3 server to start (moto closes every connection; SeaweedFS keeps them)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    with MotoServer() if args.server == "moto" else SeaweedServer() as server:
        figures = asyncio.run(bench(server.url, args.rounds, args.ops, args.size))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"size": args.size, "rounds": args.rounds} | figures))


if __name__ == "__main__":
    main()
