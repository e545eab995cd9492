"""transfer(): copies between stores, streaming, with skips, failures and prefix mapping."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import FileRaw, GSRaw, MemoryRaw, S3Raw, Sha1Store
from asyncbitstore.testing import FaultyStore
from asyncbitstore.transfer import transfer

from .contract.targets_s3 import fresh_bucket


def _blob(i: int) -> bytes:
    return f"blob {i} ".encode() * (i % 7 + 1)


class StreamOnlyFileRaw(FileRaw):
    """A FileRaw that refuses whole-blob reads, to show transfer streams."""

    async def get(self, uri: str) -> bytes:
        raise AssertionError("transfer must stream, not get()")


async def test_a_thousand_blobs_copy_with_a_mapped_prefix_and_a_second_run_copies_nothing(
    tmp_path: Path,
) -> None:
    src = MemoryRaw()
    await src.put_many([(f"mem://src/d{i % 10}/{i}", _blob(i)) for i in range(1000)])
    await src.put("mem://other/not-copied", b"x")
    dst = FileRaw()
    base = f"{tmp_path}/copy/"

    first = await transfer(src, dst, "mem://src/", dst_prefix=base, concurrency=16)
    assert (first.copied, first.skipped, first.failed) == (1000, 0, 0)
    assert first.bytes == sum(len(_blob(i)) for i in range(1000))
    for i in range(1000):
        assert await dst.get(f"{base}d{i % 10}/{i}") == _blob(i)
    assert len([u async for u in dst.list(base)]) == 1000

    second = await transfer(src, dst, "mem://src/", dst_prefix=base, skip_existing=True)
    assert (second.copied, second.skipped, second.failed, second.bytes) == (0, 1000, 0, 0)
    await dst.aclose()


async def test_transfer_streams_each_blob_instead_of_reading_it_whole(tmp_path: Path) -> None:
    src = StreamOnlyFileRaw()
    big = bytes(range(256)) * 8192  # 2 MiB: several chunks
    await src.put(f"{tmp_path}/a/big", big)
    dst = MemoryRaw()
    result = await transfer(src, dst, f"{tmp_path}/a/", dst_prefix="mem://d/", chunk_size=64 * 1024)
    assert (result.copied, result.bytes) == (1, len(big))
    assert await dst.get("mem://d/big") == big
    await src.aclose()


async def test_skip_existing_by_size_copies_changed_sizes_and_by_digest_changed_bytes() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    await src.put_many(
        [("mem://s/same", b"aaaa"), ("mem://s/resized", b"bb"), ("mem://s/edited", b"cccc")]
    )
    await dst.put_many(
        [("mem://s/same", b"aaaa"), ("mem://s/resized", b"b"), ("mem://s/edited", b"CCCC")]
    )

    by_size = await transfer(src, dst, "mem://s/", skip_existing="size")
    assert (by_size.copied, by_size.skipped) == (1, 2)
    assert await dst.get("mem://s/resized") == b"bb"
    assert await dst.get("mem://s/edited") == b"CCCC"  # same size: left alone

    by_digest = await transfer(src, dst, "mem://s/", skip_existing="digest")
    assert (by_digest.copied, by_digest.skipped) == (1, 2)
    assert await dst.get("mem://s/edited") == b"cccc"

    exists = await transfer(src, dst, ["mem://s/same", "mem://s/new"], skip_existing="exists")
    assert (exists.copied, exists.skipped, exists.failed) == (0, 1, 1)  # "new" is not in src


async def test_uris_pairs_and_async_iterables_name_what_to_copy() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    await src.put_many([(f"mem://s/{i}", _blob(i)) for i in range(5)])

    async def uris() -> AsyncIterator[str]:
        for i in range(3):
            await asyncio.sleep(0)
            yield f"mem://s/{i}"

    assert (await transfer(src, dst, uris())).copied == 3
    assert await dst.get("mem://s/2") == _blob(2)
    pairs = [("mem://s/3", "mem://t/three"), ("mem://s/4", "mem://t/four")]
    assert (await transfer(src, dst, pairs)).copied == 2
    assert await dst.get("mem://t/four") == _blob(4)


async def test_a_keyed_destination_skips_by_digest_on_exists() -> None:
    src = MemoryRaw()
    blobs = [_blob(i) for i in range(4)]
    keys = [hashlib.sha1(b).hexdigest() for b in blobs]
    await src.put_many([(f"mem://k/{k}", b) for k, b in zip(keys, blobs, strict=True)])
    dst = Sha1Store(MemoryRaw(), "mem://dst/", verify=True)
    pairs = [(f"mem://k/{k}", k) for k in keys]
    assert (await transfer(src, dst, pairs)).copied == 4
    again = await transfer(src, dst, pairs, skip_existing="digest")
    assert (again.copied, again.skipped) == (0, 4)
    assert await dst.get(keys[1]) == blobs[1]


async def test_store_failures_are_counted_per_blob_and_the_rest_still_copy() -> None:
    inner = MemoryRaw()
    await inner.put_many([(f"mem://s/{i}", _blob(i)) for i in range(200)])
    src = FaultyStore(inner, error_rate=0.2, seed=3)
    dst = MemoryRaw()
    result = await transfer(src, dst, [f"mem://s/{i}" for i in range(200)], concurrency=8)
    assert result.failed > 0 and result.copied > 0
    assert result.copied + result.failed == 200
    assert set(result.errors) <= {f"mem://s/{i}" for i in range(200)}
    assert len(dst) == result.copied
    for uri in result.errors:
        assert not await dst.exists(uri)


async def test_bad_arguments_are_refused() -> None:
    src, dst = MemoryRaw(), MemoryRaw()
    with pytest.raises(ValueError):
        await transfer(src, dst, "mem://s/", skip_existing="mtime")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'br', 'gzip', 'zstd'"):
        await transfer(src, dst, "mem://s/", reencode="lz4")
    with pytest.raises(ValueError, match="level"):
        await transfer(src, dst, "mem://s/", reencode="gzip", level=42)
    with pytest.raises(ValueError):
        await transfer(src, dst, "mem://s/", concurrency=0)
    with pytest.raises(TypeError):
        await transfer(src, dst, [("mem://s/a",)])  # type: ignore[list-item]


async def test_a_thousand_blobs_from_s3_to_gcs_verified_then_nothing_to_copy(
    moto_server: Any, gcs_server: Any
) -> None:
    bucket = f"xfer-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    async with (
        fresh_bucket(moto_server.url) as (s3_bucket, _),
        S3Raw(endpoint_url=moto_server.url) as s3,
        GSRaw(api_root=gcs_server.url) as gs,
    ):
        await s3.put_many([(f"s3://{s3_bucket}/in/{i:04}", _blob(i)) for i in range(1000)])
        src, dst = f"s3://{s3_bucket}/in/", f"gs://{bucket}/out/"
        first = await transfer(s3, gs, src, dst_prefix=dst, concurrency=32)
        assert (first.copied, first.failed) == (1000, 0)
        listed = [uri async for uri in gs.list(dst)]
        assert sorted(listed) == [f"{dst}{i:04}" for i in range(1000)]
        copies = await gs.get_many(listed)
        assert copies == [_blob(i) for i in range(1000)]

        second = await transfer(s3, gs, src, dst_prefix=dst, skip_existing=True)
        assert (second.copied, second.skipped, second.bytes) == (0, 1000, 0)
