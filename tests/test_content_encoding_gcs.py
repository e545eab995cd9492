"""Objects uploaded to GCS with ``contentEncoding`` metadata read back decoded.

fake-gcs-server behaves as GCS does: an object stored gzip-encoded is sent as stored to a
client that accepts gzip, and decompressed ("transcoded") for one that does not, with
``X-Goog-Stored-Content-Encoding`` naming the stored encoding either way. What it cannot show
(an answer compressed on the way only, for an object stored plain) is tested against a
scripted server.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import pytest

from asyncbitstore import Composite, GSRaw, MemoryRaw, MirrorCache, Retry, Store
from asyncbitstore.errors import CompressedRange, InvalidDataFound, StoreNotAvailable
from tests.faults import CORRUPT, FaultProxy
from tests.hostile import Scripted

brotli = pytest.importorskip("brotli")
zstandard = pytest.importorskip("zstandard")

FAST = Retry(attempts=2, base=0.01, cap=0.02)
DATA = os.urandom(2000) * 50 + b"the end"
ENCODED = {
    "gzip": gzip.compress(DATA),
    "br": brotli.compress(DATA),
    "zstd": zstandard.ZstdCompressor().compress(DATA),
}


async def _stream(store: Store, uri: str, **kwargs: Any) -> bytes:
    async with aclosing(store.stream(uri, 4096, **kwargs)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def _upload(root: str, bucket: str, name: str, body: bytes, encoding: str) -> None:
    """A plain JSON API multipart upload with ``contentEncoding`` set, as other tools do."""
    meta = json.dumps({"name": name, "contentEncoding": encoding}).encode()
    parts = [
        b"--b\r\nContent-Type: application/json\r\n\r\n" + meta,
        b"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + body,
        b"--b--\r\n",
    ]
    url = f"{root}/upload/storage/v1/b/{bucket}/o?uploadType=multipart"
    headers = {"Content-Type": "multipart/related; boundary=b"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=b"\r\n".join(parts), headers=headers) as response,
    ):
        assert response.status == 200, await response.text()


@pytest.fixture
async def bucket(gcs_server: Any) -> AsyncIterator[tuple[str, str]]:
    name = f"enc-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, name)
    yield gcs_server.url, name


@pytest.mark.parametrize("encoding", list(ENCODED))
async def test_get_and_stream_decode_a_content_encoded_object(
    bucket: tuple[str, str], encoding: str
) -> None:
    root, name = bucket
    body = ENCODED[encoding]
    await _upload(root, name, "obj", body, encoding)
    uri = f"gs://{name}/obj"
    async with GSRaw(api_root=root) as store:
        assert await store.get(uri) == DATA
        assert await _stream(store, uri) == DATA
        assert await store.get(uri, stored=True) == body
        assert await _stream(store, uri, stored=True) == body
        assert await store.size(uri) == len(body)  # the stored size, as for framed blobs
        assert (await store.head(uri)).size == len(body)
        assert (await store.get_with_meta(uri))[0] == DATA
        with pytest.raises(CompressedRange, match=encoding):
            await store.get_range(uri, 0, 10)
        with pytest.raises(CompressedRange, match=encoding):
            await store.get_range(uri, 100, 110)


async def test_the_md5_check_covers_the_bytes_as_stored(bucket: tuple[str, str]) -> None:
    root, name = bucket
    await _upload(root, name, "obj", ENCODED["gzip"], "gzip")
    async with FaultProxy(root) as proxy, GSRaw(api_root=proxy.url, retry=FAST) as store:
        proxy.inject(CORRUPT, first=2, methods={"GET"})
        with pytest.raises(InvalidDataFound, match="md5"):
            await store.get(f"gs://{name}/obj")


async def test_a_decompression_bomb_hits_max_decoded_bytes(bucket: tuple[str, str]) -> None:
    root, name = bucket
    await _upload(root, name, "bomb", gzip.compress(bytes(32 << 20)), "gzip")
    async with GSRaw(api_root=root) as store:
        store.max_decoded_bytes = 4 << 20
        with pytest.raises(StoreNotAvailable, match="max_decoded_bytes"):
            await store.get(f"gs://{name}/bomb")
        total = 0
        async with aclosing(store.stream(f"gs://{name}/bomb", 1 << 20)) as chunks:
            async for chunk in chunks:
                assert len(chunk) <= 1 << 20
                total += len(chunk)
        assert total == 32 << 20


async def test_a_chain_caches_the_decoded_bytes(bucket: tuple[str, str]) -> None:
    root, name = bucket
    await _upload(root, name, "obj", ENCODED["gzip"], "gzip")
    memory = MemoryRaw()
    async with GSRaw(api_root=root) as source:
        chain = Composite()
        chain.append_cache(MirrorCache(memory, "mem://m/"))
        chain.append_source(source, cache_result=True)
        assert await _stream(chain, f"gs://{name}/obj") == DATA
        await chain.flush()
        copies = [u async for u in memory.list() if "/~records/" not in u]  # not the record
        assert [await memory.get(u, stored=True) for u in copies] == [DATA]


async def test_an_answer_compressed_on_the_way_is_no_part_of_the_stored_form() -> None:
    # GCS may gzip an object stored plain for a client that accepts gzip; the stored form
    # is then the plain bytes.
    plain = b"plain text " * 500
    body = gzip.compress(plain)

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            assert b"accept-encoding: gzip" in head.lower()
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Encoding: gzip\r\n"
                "X-Goog-Stored-Content-Encoding: identity\r\n\r\n".encode()
                + body
            )

    async with Scripted(handler) as server:
        store = GSRaw(api_root=f"http://{server.authority}", retry=FAST)
        async with store:
            uri = "gs://bucket/obj"
            assert await store.get(uri) == plain
            assert await store.get(uri, stored=True) == plain
            assert await _stream(store, uri, stored=True) == plain
            assert await _stream(store, uri) == plain
