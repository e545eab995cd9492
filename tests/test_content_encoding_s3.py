"""Objects another tool wrote with ``Content-Encoding`` read back decoded from S3.

The objects are written by a plain SDK call (``put_object(ContentEncoding=...)``), as
``aws s3 cp --content-encoding gzip`` or cloud-files would, on moto and on SeaweedFS, and read
through both request paths (the fast path and aiobotocore's).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest

from asyncbitstore import Composite, HashComposite, HashStore, MemoryRaw, MirrorCache, S3Raw, Store
from asyncbitstore.errors import CompressedRange, InvalidDataFound, StoreNotAvailable
from tests.contract.targets_s3 import fresh_bucket

brotli = pytest.importorskip("brotli")
zstandard = pytest.importorskip("zstandard")

DATA = os.urandom(3000) * 40 + b"the end"
ENCODED = {
    "gzip": gzip.compress(DATA),
    "br": brotli.compress(DATA),
    "zstd": zstandard.ZstdCompressor().compress(DATA),
    "deflate": zlib.compress(DATA),
    "identity": DATA,
    "gzip, br": brotli.compress(gzip.compress(DATA)),
}


async def _stream(store: Store, uri: str, **kwargs: Any) -> bytes:
    async with aclosing(store.stream(uri, 4096, **kwargs)) as chunks:
        out = []
        async for chunk in chunks:
            assert len(chunk) <= 4096
            out.append(chunk)
        return b"".join(out)


@pytest.fixture(params=["moto", "seaweed"])
async def bucket(request: Any) -> AsyncIterator[tuple[str, str, Any]]:
    """(endpoint, bucket, admin client) on each S3 server."""
    server = request.getfixturevalue(f"{request.param}_server")
    async with fresh_bucket(server.url) as (name, admin):
        yield server.url, name, admin


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("encoding", list(ENCODED))
async def test_get_and_stream_decode_a_content_encoded_object(
    bucket: tuple[str, str, Any], fast_path: bool, encoding: str
) -> None:
    endpoint, name, admin = bucket
    body = ENCODED[encoding]
    await admin.put_object(Bucket=name, Key="obj", Body=body, ContentEncoding=encoding)
    uri = f"s3://{name}/obj"
    async with S3Raw(endpoint_url=endpoint, fast_path=fast_path) as store:
        assert store.verify_checksums  # the ETag check runs on the stored bytes
        assert await store.get(uri) == DATA
        assert await _stream(store, uri) == DATA
        assert await store.get(uri, stored=True) == body
        assert await _stream(store, uri, stored=True) == body
        assert await store.size(uri) == len(body)  # the stored size, as for framed blobs
        data, _ = await store.get_with_meta(uri)
        assert data == DATA


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_range_of_a_content_encoded_object_is_refused(
    bucket: tuple[str, str, Any], fast_path: bool
) -> None:
    endpoint, name, admin = bucket
    await admin.put_object(Bucket=name, Key="obj", Body=ENCODED["gzip"], ContentEncoding="gzip")
    async with S3Raw(endpoint_url=endpoint, fast_path=fast_path) as store:
        for start, end in ((0, 10), (100, 200)):
            with pytest.raises(CompressedRange, match="gzip"):
                await store.get_range(f"s3://{name}/obj", start, end)


@pytest.mark.parametrize("fast_path", [True, False])
async def test_an_unknown_encoding_is_never_handed_out_as_data(
    bucket: tuple[str, str, Any], fast_path: bool
) -> None:
    endpoint, name, admin = bucket
    await admin.put_object(Bucket=name, Key="obj", Body=b"\x1f\x9d...", ContentEncoding="compress")
    uri = f"s3://{name}/obj"
    async with S3Raw(endpoint_url=endpoint, fast_path=fast_path) as store:
        with pytest.raises(InvalidDataFound, match=r"compress.*stored=True"):
            await store.get(uri)
        with pytest.raises(InvalidDataFound, match="compress"):
            await _stream(store, uri)
        assert await store.get(uri, stored=True) == b"\x1f\x9d..."


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_damaged_encoded_body_raises(bucket: tuple[str, str, Any], fast_path: bool) -> None:
    endpoint, name, admin = bucket
    await admin.put_object(
        Bucket=name, Key="obj", Body=ENCODED["gzip"][:-20], ContentEncoding="gzip"
    )
    uri = f"s3://{name}/obj"
    async with S3Raw(endpoint_url=endpoint, fast_path=fast_path) as store:
        with pytest.raises(InvalidDataFound, match="gzip"):
            await store.get(uri)
        with pytest.raises(InvalidDataFound, match="gzip"):
            await _stream(store, uri)


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_decompression_bomb_hits_max_object_bytes(
    bucket: tuple[str, str, Any], fast_path: bool
) -> None:
    endpoint, name, admin = bucket
    bomb = gzip.compress(bytes(64 << 20))  # 64 MiB of zeros in about 64 KiB
    assert len(bomb) < 1 << 20
    await admin.put_object(Bucket=name, Key="bomb", Body=bomb, ContentEncoding="gzip")
    uri = f"s3://{name}/bomb"
    async with S3Raw(endpoint_url=endpoint, fast_path=fast_path, max_object_bytes=8 << 20) as store:
        with pytest.raises(StoreNotAvailable, match="max_object_bytes"):
            await store.get(uri)
        total = 0  # stream has no size bound, but its memory stays at a chunk
        async with aclosing(store.stream(uri, 1 << 20)) as chunks:
            async for chunk in chunks:
                assert len(chunk) <= 1 << 20
                total += len(chunk)
        assert total == 64 << 20


async def test_chains_cache_the_decoded_bytes(bucket: tuple[str, str, Any]) -> None:
    endpoint, name, admin = bucket
    digest = hashlib.sha256(DATA).hexdigest()
    for key in ("obj", f"cas/{digest}"):
        await admin.put_object(Bucket=name, Key=key, Body=ENCODED["br"], ContentEncoding="br")
    uri = f"s3://{name}/obj"
    async with S3Raw(endpoint_url=endpoint) as source:
        memory = MemoryRaw()
        chain = Composite()
        chain.append_cache(MirrorCache(memory, "mem://m/"))
        chain.append_source(source, cache_result=True)
        assert await chain.get(uri) == DATA
        await chain.flush()
        copies = [u async for u in memory.list() if "/~records/" not in u]  # not the record
        assert [await memory.get(u, stored=True) for u in copies] == [DATA]

        # Content-addressed: the key is the digest of the decoded bytes, checked on the way.
        keyed = HashComposite()
        cache = HashStore(MemoryRaw(), "mem://c/")
        keyed.append_cache(cache)
        keyed.append_source(HashStore(source, f"s3://{name}/cas/", verify=True), cache_result=True)
        assert await keyed.get(digest) == DATA
        await keyed.flush()
        assert await cache.get(digest, stored=True) == DATA
