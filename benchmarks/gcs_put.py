"""Large GCS PUTs: today's resumable upload beside parts uploaded in parallel and composed.

Usage: ``python benchmarks/gcs_put.py [--rounds 3] [--size-mib 128] [--part-mib 8]
[--concurrency 8] [--rate 40]``

Starts its own fake-gcs-server and writes one object of ``--size-mib`` MiB from memory, on
loopback and through `benchmarks/_throttle.py`'s proxy (``--rate`` MB/s per connection), in two
ways whose order alternates from round to round:

- ``resumable``: ``GSRaw.put`` as it is (one resumable upload, its chunks one after another);
- ``composed``: parts of ``--part-mib`` MiB put as temporary objects, ``--concurrency`` at a
  time, joined by one ``compose`` call (at most 32 sources), then deleted: what a parallel
  upload would cost, measured before writing one.

Reported: medians (min–max) of MB/s and the ratio of ``composed`` to ``resumable``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp
from _throttle import throttled

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "puts"


async def resumable(api: str, data: bytes) -> None:
    from asyncbitstore import GSRaw

    async with GSRaw(api_root=api) as store:
        await store.put(f"gs://{BUCKET}/resumable-{uuid.uuid4().hex}", data)


async def composed(api: str, data: bytes, part: int, concurrency: int) -> None:
    from asyncbitstore import GSRaw

    view = memoryview(data)
    names = [f"tmp-{uuid.uuid4().hex}" for _ in range(0, len(data), part)]
    if len(names) > 32:
        raise SystemExit("one compose takes at most 32 sources: raise --part-mib")
    slots = asyncio.Semaphore(concurrency)
    async with GSRaw(api_root=api, chunk_size=part) as store:

        async def one(n: int, name: str) -> None:
            async with slots:
                await store.put(f"gs://{BUCKET}/{name}", view[n * part : (n + 1) * part])

        await asyncio.gather(*(one(n, name) for n, name in enumerate(names)))
        body = {"sourceObjects": [{"name": name} for name in names]}
        url = f"{api}/storage/v1/b/{BUCKET}/o/composed-{uuid.uuid4().hex}/compose"
        async with aiohttp.ClientSession() as session, session.post(url, json=body) as answer:
            answer.raise_for_status()
        await store.delete_many([f"gs://{BUCKET}/{name}" for name in names])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=128)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=40.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.servers import FakeGCSServer

    data = bytes(range(256)) * ((args.size_mib << 20) // 256)
    part = args.part_mib << 20
    with FakeGCSServer() as server, throttled(server.url, args.rate) as slow:
        server.create_bucket(BUCKET)
        for link, api in (("loopback", server.url), ("throttled", slow)):
            rates: dict[str, list[float]] = {"resumable": [], "composed": []}
            for r in range(args.rounds):
                ways = list(rates) if r % 2 == 0 else list(reversed(rates))
                for way in ways:
                    start = time.perf_counter()
                    if way == "resumable":
                        asyncio.run(resumable(api, data))
                    else:
                        asyncio.run(composed(api, data, part, args.concurrency))
                    rates[way].append(len(data) / (time.perf_counter() - start) / 1e6)
            medians = {way: statistics.median(values) for way, values in rates.items()}
            for way, values in rates.items():
                print(f"{link:9} {way:9} {medians[way]:7.0f} MB/s "
                      f"({min(values):.0f}–{max(values):.0f})")  # fmt: skip
            print(f"{link:9} composed/resumable {medians['composed'] / medians['resumable']:.2f}×")


if __name__ == "__main__":
    main()
