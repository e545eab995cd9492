"""Cancellation at random points leaves no task, no open connection and no partial blob.

Each operation (``get``, ``get_many``, ``iter_get``, ``stream``, ``put``) runs as a task that
is cancelled after a seeded random delay, on FileRaw, on S3Raw (moto behind the fault proxy,
which adds latency so that cancellations land mid-request) and on a chain (a FileRaw cache in
front of S3). After each cancellation: the loop's tasks are what they were, the blob being
written is absent or whole (no temp files, no pending multipart upload), the caches hold only
correct blobs; after all of them the small connection pool still serves, and once the store is
closed no connection to the proxy and no file descriptor is left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    FileRaw,
    NotFoundInStore,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    Store,
)
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import LATENCY, FaultProxy, open_connections

from .conftest import FAST, blob, files_under, open_fds, settled_tasks, sha1

KiB, MiB = 1 << 10, 1 << 20
OPS = ["get", "get_many", "iter_get", "stream", "put"]
ROUNDS = 6
BLOBS = [blob(i, 256 * KiB) for i in range(6)]
BIG = blob(99, 11 * MiB)  # more than two 5 MiB parts: an S3 put of it is a multipart upload


async def _slowly(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), 512 * KiB):
        yield data[offset : offset + 512 * KiB]
        await asyncio.sleep(0.005)


@dataclass
class Target:
    """A store under test, the URIs it reads, the URI it writes, and how to inspect it."""

    store: Store
    uris: list[str]
    put_uri: str
    writer: Store  # the store puts go to (S3: straight to the server, see the fixture)
    cache_dir: Path | None = None
    proxy: FaultProxy | None = None
    bucket: str = ""
    admin: Any = None

    async def run(self, op: str) -> None:
        if op == "get":
            assert await self.store.get(self.uris[0]) == BLOBS[0]
        elif op == "get_many":
            assert await self.store.get_many(self.uris, concurrency=3) == BLOBS
        elif op == "iter_get":
            async with aclosing(self.store.iter_get(self.uris, concurrency=3)) as results:
                async for _ in results:
                    pass
        elif op == "stream":
            async with aclosing(self.store.stream(self.uris[1], chunk_size=32 * KiB)) as chunks:
                assert b"".join([c async for c in chunks]) == BLOBS[1]
        else:
            await self.writer.put(self.put_uri, _slowly(BIG))

    async def written(self) -> bytes | None:
        """What is at ``put_uri`` now, read around the store under test."""
        if self.admin is not None:
            try:
                reply = await self.admin.get_object(Bucket=self.bucket, Key=self._key())
            except self.admin.exceptions.NoSuchKey:
                return None
            async with reply["Body"] as body:
                return bytes(await body.read())
        with contextlib.suppress(FileNotFoundError):
            return await asyncio.to_thread(Path(self.put_uri).read_bytes)
        return None

    def _key(self) -> str:
        """The S3 key ``put_uri`` is written at."""
        if isinstance(self.store, Sha1Composite):
            return f"k/{self.put_uri}"
        return self.put_uri.split("/", 3)[3]

    async def check_no_partial_blob(self) -> None:
        assert await self.written() in (None, BIG)
        if self.admin is not None:
            uploads = await self.admin.list_multipart_uploads(Bucket=self.bucket)
            assert uploads.get("Uploads", []) == []
        else:
            assert [n for n in files_under(Path(self.put_uri).parent) if ".abstmp-" in n] == []
        if self.cache_dir is not None:
            assert all(sha1(d) == n for n, d in files_under(self.cache_dir).items())

    async def forget_put(self) -> None:
        if self.admin is not None:
            await self.admin.delete_object(Bucket=self.bucket, Key=self._key())
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.put_uri)


@pytest.fixture
async def s3_bucket(moto_server: Any) -> AsyncIterator[tuple[str, Any]]:
    async with fresh_bucket(moto_server.url) as made:
        yield made


@pytest.fixture(params=["file", "s3", "chain"])
async def target(
    request: pytest.FixtureRequest, tmp_path: Path, s3_bucket: tuple[str, Any], moto_server: Any
) -> AsyncIterator[Target]:
    bucket, admin = s3_bucket
    if request.param == "file":
        for i, data in enumerate(BLOBS):
            (tmp_path / "src").mkdir(exist_ok=True)
            (tmp_path / "src" / str(i)).write_bytes(data)
        (tmp_path / "put").mkdir()
        store = FileRaw()
        uris = [f"{tmp_path}/src/{i}" for i in range(len(BLOBS))]
        yield Target(store, uris, f"{tmp_path}/put/x", store)
        return
    async with FaultProxy(moto_server.url) as proxy:
        proxy.inject(LATENCY, seconds=0.02)
        raw = S3Raw(endpoint_url=proxy.url, retry=FAST, max_connections=4)
        # Puts go straight to moto: a streamed multipart upload through the proxy is dropped
        # (ServerDisconnected on UploadPart; bytes bodies pass). A limit of tests/faults.py.
        direct = S3Raw(endpoint_url=moto_server.url, retry=FAST, part_size=5 * MiB)
        if request.param == "s3":
            for i, data in enumerate(BLOBS):
                await admin.put_object(Bucket=bucket, Key=f"src/{i}", Body=data)
            uris = [f"s3://{bucket}/src/{i}" for i in range(len(BLOBS))]
            yield Target(raw, uris, f"s3://{bucket}/put/x", direct, None, proxy, bucket, admin)
        else:
            for data in BLOBS:
                await admin.put_object(Bucket=bucket, Key=f"k/{sha1(data)}", Body=data)
            chain = Sha1Composite()
            chain.append_cache(Sha1Cache(FileRaw(), f"{tmp_path}/cache/"))
            chain.append_source(Sha1Store(raw, f"s3://{bucket}/k/"), cache_result=True)
            chain.append_source(Sha1Store(direct, f"s3://{bucket}/k/"), write=True)
            uris = [sha1(d) for d in BLOBS]
            cache = tmp_path / "cache"
            yield Target(chain, uris, sha1(BIG), chain, cache, proxy, bucket, admin)
        await raw.aclose()
        await direct.aclose()


def _ours(task: asyncio.Task[Any]) -> bool:
    """Not one of the proxy's own connection handlers (the test's harness, not the store)."""
    return not task.get_coro().__qualname__.startswith("RequestHandler.")


async def _settle(baseline: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks beyond ``baseline`` still running after up to half a second."""
    for _ in range(50):
        extra = {t for t in await settled_tasks() - baseline if _ours(t)}
        if not extra:
            break
        await asyncio.sleep(0.01)
    return extra


@pytest.mark.servers
@pytest.mark.parametrize("op", OPS)
async def test_cancelling_at_random_points_leaves_no_task_connection_or_partial_blob(
    target: Target, op: str
) -> None:
    fds = open_fds()
    tasks = await settled_tasks()
    for _ in range(2):  # uncancelled: warm up, then learn how long the operation takes here
        started = time.monotonic()
        await target.run(op)
        took = time.monotonic() - started
        if op == "put":
            await target.forget_put()
    draw = random.Random(f"{op}-{type(target.store).__name__}")
    cancelled = 0
    for _ in range(ROUNDS):
        running = asyncio.ensure_future(target.run(op))
        if draw.random() < 0.5:  # after a few turns of the loop: early, even for fast calls
            for _ in range(draw.randrange(4)):
                await asyncio.sleep(0)
        else:  # anywhere in the call
            await asyncio.sleep(draw.uniform(0.0, took))
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            cancelled += 1
        if isinstance(target.store, Sha1Composite):
            await target.store.flush()  # fills a finished read started are allowed to finish
        assert await _settle(tasks) == set(), f"tasks left after cancelling {op}"
        await target.check_no_partial_blob()
        if op == "put":
            await target.forget_put()
    assert cancelled >= 2  # rounds cut off, not finished first

    # The pool of four connections is whole: twenty reads at once all get through.
    reads = [target.store.get(target.uris[i % len(BLOBS)]) for i in range(20)]
    assert await asyncio.wait_for(asyncio.gather(*reads), 10) == [
        BLOBS[i % len(BLOBS)] for i in range(20)
    ]
    await target.store.aclose()
    await target.writer.aclose()
    gc.collect()  # an unclosed session would warn now (and warnings are errors)
    if target.proxy is not None:
        for _ in range(50):
            if open_connections(target.proxy.port) == 0:
                break
            await asyncio.sleep(0.02)
        assert open_connections(target.proxy.port) == 0
    assert open_fds() - fds == set()


@pytest.mark.servers
async def test_a_cancelled_put_keeps_the_previous_blob_whole(target: Target) -> None:
    if isinstance(target.store, Sha1Composite):
        pytest.skip("a content-addressed key has one content: nothing to overwrite")
    old = b"the previous blob" * 1000
    await target.writer.put(target.put_uri, old)
    running = asyncio.ensure_future(target.writer.put(target.put_uri, _slowly(BIG)))
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert await target.written() == old
    assert await target.writer.get(target.put_uri) == old
    await target.writer.delete(target.put_uri)
    with pytest.raises(NotFoundInStore):
        await target.writer.get(target.put_uri)
