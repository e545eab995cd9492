"""Load: many keys through a three-tier chain with ``iter_get``, memory flat, nothing leaked.

The chain is a bounded MemoryRaw cache, a FileRaw cache and an S3 source on SeaweedFS. Every
blob names its own number, so each result is checked against the blob it must be without a
table of expected blobs (which would itself grow with the run). The default run reads 6,000
keys twice (the second pass is served by the caches); ``benchmarks/load.py`` runs the same
code with 100,000 keys and prints the figures.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from asyncbitstore import (
    ChainStats,
    FileRaw,
    MemoryRaw,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)
from tests.contract.targets_s3 import fresh_bucket

from .conftest import blob, blob_index, open_fds, settled_tasks, sha1

SIZE = 2048  # bytes per blob: 6,000 blobs kept by mistake would add 12 MiB or more


def rss_mib() -> float:
    """The resident set size of this process now, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class LoadReport:
    """What one load run measured."""

    keys: int
    passes: int
    verified: int = 0
    seed_seconds: float = 0.0
    get_seconds: list[float] = field(default_factory=list)
    rss: list[tuple[int, float]] = field(default_factory=list)  # (results so far, MiB)
    leaked_fds: set[str] = field(default_factory=set)
    leaked_tasks: int = 0
    stats: ChainStats | None = None

    @property
    def steady_growth_mib(self) -> float:
        """RSS growth from the end of the first tenth of the run to its end."""
        start = next(mib for done, mib in self.rss if done >= self.keys * self.passes // 10)
        return max(mib for _, mib in self.rss) - start

    def lines(self) -> list[str]:
        rates = ", ".join(f"{self.keys / s:,.0f}/s" for s in self.get_seconds)
        return [
            f"keys {self.keys:,} x {self.passes} passes; {self.verified:,} blobs verified",
            f"seeding {self.seed_seconds:.1f} s; passes {rates}",
            "RSS MiB: " + " ".join(f"{mib:.0f}" for _, mib in self.rss),
            f"peak RSS {max(m for _, m in self.rss):.1f} MiB; growth after warm-up "
            f"{self.steady_growth_mib:.1f} MiB",
            f"leaked: {len(self.leaked_fds)} fds, {self.leaked_tasks} tasks",
        ]


def _keys(count: int) -> Iterator[str]:
    """Keys made as they are asked for: the key list itself would grow with ``count``."""
    return (sha1(blob(i, SIZE)) for i in range(count))


async def run_load(
    endpoint: str, bucket: str, cache_dir: Path, count: int, passes: int = 2
) -> LoadReport:
    """Seed ``count`` blobs in ``bucket``, then read them all ``passes`` times with iter_get."""
    report = LoadReport(count, passes)
    started = time.monotonic()
    async with S3Raw(endpoint_url=endpoint) as seeder:
        items = ((f"s3://{bucket}/{sha1(blob(i, SIZE))}", blob(i, SIZE)) for i in range(count))
        await seeder.put_many(items, concurrency=64)
    report.seed_seconds = time.monotonic() - started

    fds, tasks = open_fds(), await settled_tasks()
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(MemoryRaw(max_bytes=1 << 20), "mem://load/"))
    chain.append_cache(Sha1Cache(FileRaw(), f"{cache_dir}/"))
    chain.append_source(
        Sha1Store(S3Raw(endpoint_url=endpoint), f"s3://{bucket}/"), cache_result=True
    )
    every = max(1, count * passes // 40)
    done = 0
    report.rss.append((0, rss_mib()))
    async with chain:
        for _ in range(passes):
            seen = bytearray(count)
            started = time.monotonic()
            async with aclosing(chain.iter_get(_keys(count), concurrency=64)) as results:
                async for key, data in results:
                    assert data is not None, f"{key} missing"
                    i = blob_index(data)
                    assert data == blob(i, SIZE) and sha1(data) == key and not seen[i]
                    seen[i] = 1
                    done += 1
                    if done % every == 0:
                        report.rss.append((done, rss_mib()))
            report.get_seconds.append(time.monotonic() - started)
            assert all(seen)
            report.verified += count
            await chain.flush()
        report.stats = chain.stats
    report.leaked_fds = open_fds() - fds
    report.leaked_tasks = len(await settled_tasks() - tasks)
    return report


@pytest.mark.servers
async def test_6000_keys_through_three_tiers_keep_memory_flat_and_leak_nothing(
    seaweed_server: object, tmp_path: Path
) -> None:
    count = int(os.environ.get("ASYNCBITSTORE_LOAD_KEYS", "6000"))
    endpoint = seaweed_server.url  # type: ignore[attr-defined]
    async with fresh_bucket(endpoint) as (bucket, _):
        report = await run_load(endpoint, bucket, tmp_path / "cache", count)
        await asyncio.to_thread(_empty, tmp_path / "cache")
        async with S3Raw(endpoint_url=endpoint) as s3:  # faster than the one-by-one teardown
            await s3.delete_many(f"s3://{bucket}/{key}" for key in _keys(count))
    print("\n".join(["figures:", *report.lines()]))
    stats = report.stats
    assert stats is not None
    memory, files, source = stats.tiers
    assert report.verified == 2 * count
    assert source.hits == count and source.errors == 0  # the second pass came from the caches
    assert memory.hits + files.hits == count and files.hits > 0
    assert stats.fills_failed == 0
    assert report.steady_growth_mib < 8.0
    assert report.leaked_fds == set() and report.leaked_tasks == 0


def _empty(folder: Path) -> None:
    for entry in os.scandir(folder):
        os.unlink(entry.path)
