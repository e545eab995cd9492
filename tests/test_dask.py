"""asyncbitstore.dask on a real two-process LocalCluster: moto S3 source, Redis and file caches.

The corpus (5,000 blobs in moto) is uploaded once per module. Each test builds its own chain
with its own Redis namespace and file-cache folder, so figures and cache contents are its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")

import dask.bag as db
import redis.asyncio as aioredis
from distributed import Client, LocalCluster

from asyncbitstore import FileRaw, S3Raw, Sha1Cache, Sha1Composite, Sha1Store, Store
from asyncbitstore.dask import (
    close_worker_stores,
    read_blobs,
    reset_worker_stats,
    store_token,
    warm,
    worker_stats,
    write_blobs,
)
from asyncbitstore.raw.redis import RedisRaw
from asyncbitstore.testing import FaultyStore
from tests.contract.targets_s3 import admin_client, fresh_bucket
from tests.servers import FAKE_CREDENTIAL, MotoServer, RedisServer

pytestmark = [
    pytest.mark.servers,
    pytest.mark.slow,
]

N_BLOBS = 5_000
N_SMALL = 1_000  # the warm and worker-kill tests: one source pass each through moto (~250/s)
REDIS_DB = 7

WORKER_ENV = {
    "AWS_ACCESS_KEY_ID": FAKE_CREDENTIAL,
    "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIAL,
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "NO_PROXY": "127.0.0.1,localhost",
}


def blob(i: int) -> bytes:
    """Blob ``i``: 32 to 512 bytes, distinct for every ``i``."""
    return hashlib.sha256(str(i).encode()).digest() * (1 + i % 16)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


# -- test tiers (picklable, imported by the workers from this module) ----------------------------


class PerProcessDir(FaultyStore):
    """A file tier whose folder is private to each process: ``<base>/p<pid>/...``.

    The chain is pickled once for all workers; this stands in for each machine's own disk.
    URIs stay ``<base>/...`` everywhere, and the process id is looked up on every call.
    """

    def __init__(self, base: Path) -> None:
        super().__init__(FileRaw(base))
        self.base = str(base) + "/"

    def _local(self, uri: str) -> str:
        return f"{self.base}p{os.getpid()}/{uri[len(self.base) :]}"

    async def get(self, uri: str) -> bytes:
        return await self.inner.get(self._local(self.check_uri(uri)))

    async def put(self, uri: str, data: Any) -> None:
        await self.inner.put(self._local(self.check_uri(uri)), data)

    async def exists(self, uri: str) -> bool:
        return await self.inner.exists(self._local(self.check_uri(uri)))

    async def delete(self, uri: str) -> None:
        await self.inner.delete(self._local(self.check_uri(uri)))


class DieOnce(FaultyStore):
    """Kills its process (``os._exit``) at its ``after``-th get, once per ``marker`` file."""

    def __init__(self, inner: Store, marker: Path, after: int) -> None:
        super().__init__(inner)
        self.marker = str(marker)
        self.after = after

    async def get(self, uri: str) -> bytes:
        self.calls += 1
        if self.calls == self.after:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass  # another process died already: serve normally
            else:
                os._exit(17)  # no cleanup at all, as with a killed machine
        return await self.inner.get(uri)


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Client]:
    """Two worker processes, one thread each, loopback only."""
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            env=WORKER_ENV,
        ) as local,
        Client(local) as client,
    ):
        yield client
        close_worker_stores(client=client)


@pytest.fixture(scope="module")
async def corpus(moto_server: MotoServer) -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """``(source prefix, {sha1: blob})`` for N_BLOBS blobs in a fresh moto bucket."""
    blobs = {sha1(blob(i)): blob(i) for i in range(N_BLOBS)}
    bucket = f"dask{os.getpid()}-{secrets.token_hex(3)}"
    async with admin_client(moto_server.url) as admin:
        await admin.create_bucket(Bucket=bucket)
        try:
            prefix = f"s3://{bucket}/blobs/"
            async with S3Raw(endpoint_url=moto_server.url) as s3:
                await s3.put_many(((prefix + k, v) for k, v in blobs.items()), concurrency=32)
            yield prefix, blobs
        finally:  # in batches: one DELETE per object would take moto ~20 s
            names = [f"blobs/{key}" for key in blobs]
            for start in range(0, len(names), 1000):
                batch = [{"Key": name} for name in names[start : start + 1000]]
                await admin.delete_objects(Bucket=bucket, Delete={"Objects": batch})
            await admin.delete_bucket(Bucket=bucket)


class Caches:
    """This test's Redis namespace and file-cache folder, and checks of what they hold."""

    def __init__(self, redis_server: RedisServer, tmp_path: Path) -> None:
        self.redis = RedisRaw(f"{redis_server.url}/{REDIS_DB}")
        self.redis_prefix = self.redis.uri(f"dask-{secrets.token_hex(4)}/")
        self.files = tmp_path / "filecache"
        self.files.mkdir()
        self.redis_url = f"{redis_server.url}/{REDIS_DB}"

    def chain(self, moto_url: str, source_prefix: str, source: Any = None) -> Sha1Composite:
        """File cache, then Redis cache, then the S3 source (filling both caches)."""
        chain = Sha1Composite()
        chain.append_cache(Sha1Cache(PerProcessDir(self.files), str(self.files) + "/"))
        chain.append_cache(Sha1Cache(self.redis, self.redis_prefix))
        s3 = Sha1Store(S3Raw(endpoint_url=moto_url), source_prefix)
        chain.append_source(s3 if source is None else source(s3), cache_result=True)
        return chain

    async def redis_blobs(self) -> dict[str, bytes]:
        """Every blob in this test's Redis namespace, read behind the store's back."""
        namespace = self.redis_prefix.removeprefix(self.redis.base)
        client = aioredis.Redis.from_url(self.redis_url)
        try:
            names = [name async for name in client.scan_iter(match=namespace + "*", count=1000)]
            values = await client.mget(names) if names else []
        finally:
            await client.aclose()
        return {n.decode()[len(namespace) :]: v for n, v in zip(names, values, strict=True)}

    def file_blobs(self) -> dict[Path, bytes]:
        """Every file in every process's file-cache folder, temporary files included."""
        return {p: p.read_bytes() for p in self.files.rglob("*") if p.is_file()}


@pytest.fixture
def caches(redis_server: RedisServer, tmp_path: Path) -> Caches:
    return Caches(redis_server, tmp_path)


def tier_names(chain: Sha1Composite) -> tuple[str, str, str]:
    names = [tier.name for tier in chain.tiers]
    assert len(names) == 3
    return names[0], names[1], names[2]


# -- tests -----------------------------------------------------------------------------------------


async def test_read_blobs_fills_the_shared_redis_tier_and_a_second_run_hits_only_caches(
    cluster: Client, corpus: tuple[str, dict[str, bytes]], moto_server: MotoServer, caches: Caches
) -> None:
    prefix, blobs = corpus
    chain = caches.chain(moto_server.url, prefix)
    files, redis, source = tier_names(chain)
    keys = sorted(blobs)

    first = await asyncio.to_thread(read_blobs(chain, keys).compute)
    assert len(first) == N_BLOBS
    assert dict(first) == blobs  # every blob, verified byte for byte
    stats = await asyncio.to_thread(worker_stats, chain, client=cluster)
    assert stats.tier(source).hits == N_BLOBS
    assert stats.fills_done == 2 * N_BLOBS  # each blob written to the file and Redis caches
    assert stats.fills_failed == stats.fills_dropped == 0

    held = await caches.redis_blobs()
    assert held == blobs  # the shared tier holds every blob after the run
    # Per-process file caches: together they hold every blob, each under its own digest.
    on_disk = {p.name: data for p, data in caches.file_blobs().items()}
    assert set(on_disk) == set(blobs)
    assert all(sha1(data) == name for name, data in on_disk.items())

    await asyncio.to_thread(reset_worker_stats, chain, client=cluster)
    second = await asyncio.to_thread(read_blobs(chain, db.from_sequence(keys, 7)).compute)
    assert dict(second) == blobs
    stats = await asyncio.to_thread(worker_stats, chain, client=cluster)
    assert stats.tier(source).hits == 0  # served from the caches alone
    assert stats.tier(files).hits + stats.tier(redis).hits == N_BLOBS
    assert stats.tier(redis).hits > 0  # a partition on the other worker found Redis filled


async def test_read_blobs_reuses_each_workers_loop_and_clients_across_partitions(
    cluster: Client, corpus: tuple[str, dict[str, bytes]], moto_server: MotoServer, caches: Caches
) -> None:
    prefix, blobs = corpus
    source = Sha1Store(S3Raw(endpoint_url=moto_server.url), prefix)
    keys = sorted(blobs)[:200]
    token = store_token(source)

    def where(part: list[tuple[str, bytes | None]]) -> list[tuple[int, int, int]]:
        from asyncbitstore import dask as bsdask

        runtime = bsdask._RUNTIME
        live = runtime._live[token].store
        client = live.raw._connections._value  # type: ignore[attr-defined]
        loop = runtime.loop_thread.loop
        assert loop is not None and client is not None
        return [(os.getpid(), id(loop), id(client))]

    pairs = read_blobs(source, keys, npartitions=20)
    seen = await asyncio.to_thread(pairs.map_partitions(where).compute)
    assert len(seen) == 20
    by_process: dict[int, set[tuple[int, int]]] = {}
    for pid, loop, client in seen:
        by_process.setdefault(pid, set()).add((loop, client))
    assert all(len(pairs) == 1 for pairs in by_process.values())  # one loop, one client each
    assert os.getpid() not in by_process


async def test_warm_returns_figures_summed_over_partitions_and_workers(
    cluster: Client, corpus: tuple[str, dict[str, bytes]], moto_server: MotoServer, caches: Caches
) -> None:
    prefix, blobs = corpus
    chain = caches.chain(moto_server.url, prefix)
    files, redis, source = tier_names(chain)
    keys = sorted(blobs)[:N_SMALL]
    missing = "0" * 40

    stats = await asyncio.to_thread(warm, chain, [*keys, missing], npartitions=8, client=cluster)
    assert stats.tier(source).hits == N_SMALL
    assert stats.tier(source).bytes == sum(len(blobs[k]) for k in keys)
    assert stats.tier(source).misses == 1  # the missing key, counted and skipped
    assert stats.tier(files).misses == N_SMALL + 1
    assert stats.fills_done == 2 * N_SMALL
    assert stats.fills_pending == 0
    assert stats.tier(source).latency.count == N_SMALL + 1
    assert len(await caches.redis_blobs()) == N_SMALL

    again = await asyncio.to_thread(warm, chain, keys, npartitions=8, client=cluster)
    assert again.tier(source).hits == 0
    assert again.tier(files).hits + again.tier(redis).hits == N_SMALL
    assert again.tier(files).errors == again.tier(redis).errors == 0


async def test_write_blobs_returns_the_keys_in_order_and_the_blobs_are_readable(
    cluster: Client, moto_server: MotoServer, caches: Caches
) -> None:
    data = [secrets.token_bytes(64 + i) for i in range(300)]
    async with fresh_bucket(moto_server.url) as (bucket, _):
        chain = Sha1Composite()
        raw = S3Raw(endpoint_url=moto_server.url)
        chain.append_source(Sha1Store(raw, f"s3://{bucket}/w/"), write=True)
        keys = await asyncio.to_thread(write_blobs(chain, data, npartitions=4).compute)
        assert keys == [sha1(d) for d in data]
        async with raw:
            stored = await raw.get_many([f"s3://{bucket}/w/{k}" for k in keys])
        assert stored == data


def test_store_without_write_or_stats_is_refused_before_anything_runs(tmp_path: Path) -> None:
    raw = FileRaw(tmp_path)
    with pytest.raises(TypeError, match="write"):
        write_blobs(raw, [b"x"])
    with pytest.raises(TypeError, match="flush"):
        warm(raw, ["a"])
    with pytest.raises(TypeError, match="single str"):
        read_blobs(raw, "not-a-list-of-keys")
    with pytest.raises(ValueError, match="npartitions"):
        read_blobs(raw, ["/a"], npartitions=0)


@pytest.fixture
def fresh_cluster() -> Iterator[Client]:
    """A cluster of its own, since one of its workers will be killed."""
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            env=WORKER_ENV,
        ) as local,
        Client(local) as client,
    ):
        yield client
        close_worker_stores(client=client)


async def test_a_worker_killed_mid_run_leaves_whole_blobs_only_and_the_bag_completes(
    fresh_cluster: Client,
    corpus: tuple[str, dict[str, bytes]],
    moto_server: MotoServer,
    caches: Caches,
    tmp_path: Path,
) -> None:
    prefix, blobs = corpus
    marker = tmp_path / "died"
    keys = sorted(blobs)[-N_SMALL:]

    def dying(s3: Store) -> Store:
        return DieOnce(s3, marker, after=N_SMALL // 8)  # mid-partition, fills in flight

    chain = caches.chain(moto_server.url, prefix, dying)
    result = await asyncio.to_thread(read_blobs(chain, keys, npartitions=4).compute)
    assert marker.exists()  # a worker did die
    assert sorted(result) == sorted((k, blobs[k]) for k in keys)  # complete after the retry

    for key, data in (await caches.redis_blobs()).items():
        assert sha1(data) == key  # whole blobs only
    for path, data in caches.file_blobs().items():
        if not path.name.startswith(".abstmp-"):  # unfinished writes, never served or listed
            assert sha1(data) == path.name
