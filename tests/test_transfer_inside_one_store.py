"""`transfer` between one store (or two reaching the same blobs) copies with `Store.copy`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import FileRaw, MemoryRaw, S3Raw, transfer

from .contract.targets_s3 import fresh_bucket


class CountingCopies(MemoryRaw):
    """A MemoryRaw that counts in-store copies and streamed reads."""

    def __init__(self) -> None:
        super().__init__()
        self.copies = 0
        self.streams = 0

    async def _copy(self, src_uri: str, dst_uri: str) -> None:
        self.copies += 1
        await super()._copy(src_uri, dst_uri)

    def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        self.streams += 1
        return super()._stream_stored(uri, chunk_size)


async def test_transfer_within_one_store_uses_copy() -> None:
    store = CountingCopies()
    await store.put("mem://a/1", b"one")
    await store.put("mem://a/2", b"second blob", compress="gzip")
    stored = await store.get("mem://a/2", stored=True)
    result = await transfer(store, store, "mem://a/", dst_prefix="mem://b/")
    assert (result.copied, result.failed, result.skipped) == (2, 0, 0)
    assert result.bytes == 3 + len(stored)
    assert (store.copies, store.streams) == (2, 0)
    assert await store.get("mem://b/2", stored=True) == stored


async def test_reencoding_streams_even_inside_one_store() -> None:
    store = CountingCopies()
    await store.put("mem://a/1", b"one" * 100)
    result = await transfer(store, store, [("mem://a/1", "mem://c/1")], reencode="gzip")
    assert result.copied == 1
    assert (store.copies, store.streams) == (0, 1)
    assert await store.get("mem://c/1") == b"one" * 100


async def test_two_memory_stores_are_not_one() -> None:
    src, dst = CountingCopies(), CountingCopies()
    await src.put("mem://a/1", b"one")
    result = await transfer(src, dst, ["mem://a/1"])
    assert result.copied == 1
    assert (src.copies, src.streams) == (0, 1)
    assert await dst.get("mem://a/1") == b"one"


async def test_two_file_stores_on_one_root_copy_in_place(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"file bytes")
    src, dst = FileRaw(tmp_path), FileRaw(tmp_path)
    assert src._same_blobs(dst)
    assert not src._same_blobs(FileRaw(tmp_path / "a"))
    assert not src._same_blobs(MemoryRaw())
    result = await transfer(src, dst, f"{tmp_path}/a/", dst_prefix=f"{tmp_path}/b/")
    assert (result.copied, result.bytes) == (1, 10)
    assert (tmp_path / "b" / "f").read_bytes() == b"file bytes"


class NoBytesThrough(S3Raw):
    def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        raise AssertionError("streamed through the client")


@pytest.mark.servers
async def test_two_s3_stores_on_one_endpoint_copy_on_the_server(moto_server: Any) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, client):
        await client.put_object(Bucket=bucket, Key="in/k", Body=b"server side")
        src = NoBytesThrough(endpoint_url=moto_server.url)
        dst = NoBytesThrough(endpoint_url=moto_server.url)
        assert not src._same_blobs(NoBytesThrough(endpoint_url="http://127.0.0.1:9"))
        async with src, dst:
            result = await transfer(
                src, dst, f"s3://{bucket}/in/", dst_prefix=f"s3://{bucket}/out/"
            )
            assert (result.copied, result.failed, result.bytes) == (1, 0, 11)
            assert await src.get(f"s3://{bucket}/out/k") == b"server side"
