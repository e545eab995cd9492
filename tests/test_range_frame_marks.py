"""Ranges of blobs on S3, GCS and HTTP cost one request where one is enough.

The package records the frame of each blob it writes to S3 or GCS in the object's metadata
(``bitstore-frame``), and a ranged GET's answer carries that metadata: so a range not from 0
of a blob written here costs exactly one request, plain or compressed. A blob with no mark
(written before marks existed, or by another tool) has its first bytes read once per version;
so has every HTTP object, which has no metadata. Requests are counted on a proxy between the
store and a real server (moto, SeaweedFS, fake-gcs-server, nginx).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from asyncbitstore import GSRaw, HTTPRaw, S3Raw
from asyncbitstore.compression.codecs import IDENTITY_HEADER, MAGIC, codec_named
from asyncbitstore.compression.store_io import FRAME_KEY, frame_metadata
from asyncbitstore.errors import CompressedRange, InvalidRange
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import FaultProxy
from tests.servers import NginxServer

DATA = os.urandom(50_000)
MAGIC_DATA = MAGIC + b"\x01\x01" + os.urandom(10_000)  # plain data that looks framed


def _gzip_frame(data: bytes) -> bytes:
    codec = codec_named("gzip")
    return codec.header + codec.compress(data, 6)


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


class Counter:
    """Requests a proxy received during a block."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.mark = len(proxy.requests)

    def since(self) -> int:
        seen = len(self.proxy.requests) - self.mark
        self.mark = len(self.proxy.requests)
        return seen


# -- the hook -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "mark"),
    [
        (DATA, "none"),
        (b"", "none"),
        (IDENTITY_HEADER + MAGIC_DATA, "identity"),
        (_gzip_frame(DATA), "gzip"),
        (MAGIC + b"\x01\x63rest", None),  # a codec this version does not know: no mark
    ],
)
async def test_frame_metadata_names_the_frame_of_bytes_and_of_streams(
    stored: bytes, mark: str | None
) -> None:
    expected = {} if mark is None else {FRAME_KEY: mark}
    metadata, data = await frame_metadata(stored)
    assert metadata == expected and data is stored
    metadata, stream = await frame_metadata(_chunks(stored, 3))
    assert metadata == expected
    assert not isinstance(stream, (bytes, bytearray, memoryview))
    assert b"".join([chunk async for chunk in stream]) == stored  # nothing lost by peeking


# -- S3 --------------------------------------------------------------------------------------------


@pytest.fixture(params=["moto", "seaweed"])
def s3_url(request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue(f"{request.param}_server")
    return str(server.url)


@pytest.fixture(params=[True, False], ids=["fast", "botocore"])
async def s3(s3_url: str, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, ...]]:
    async with (
        fresh_bucket(s3_url) as (bucket, admin),
        FaultProxy(s3_url) as proxy,
        S3Raw(endpoint_url=proxy.url, fast_path=request.param) as store,
    ):
        yield store, proxy, admin, bucket


async def test_s3_ranges_of_a_plain_blob_cost_one_request_each(s3: tuple[Any, ...]) -> None:
    store, proxy, admin, bucket = s3
    uri = f"s3://{bucket}/plain"
    await store.put(uri, DATA)
    assert (await store.head(uri)).metadata == {}  # the mark is the package's, not the user's
    assert (await admin.head_object(Bucket=bucket, Key="plain"))["Metadata"] == {FRAME_KEY: "none"}
    count = Counter(proxy)
    for i in range(32):
        start = 1 + i * 1000
        assert await store.get_range(uri, start, start + 700) == DATA[start : start + 700]
    assert count.since() == 32
    assert await store.get_range(uri, 0, 10) == DATA[:10]
    assert count.since() == 1


async def test_s3_a_range_of_a_compressed_blob_is_refused_after_one_request(
    s3: tuple[Any, ...],
) -> None:
    store, proxy, _, bucket = s3
    uri = f"s3://{bucket}/gz"
    await store.put(uri, DATA, compress="gzip")
    count = Counter(proxy)
    with pytest.raises(CompressedRange, match="gzip"):
        await store.get_range(uri, 100, 200)
    assert count.since() == 1
    # past the compressed bytes' end but within the data's: still refused as compressed
    with pytest.raises(CompressedRange):
        await store.get_range(uri, len(DATA) - 10, len(DATA))


async def test_s3_streamed_and_multipart_puts_are_marked(s3: tuple[Any, ...]) -> None:
    store, proxy, _, bucket = s3
    big = os.urandom(store.part_size + 1000)
    async with S3Raw(endpoint_url=proxy.upstream, fast_path=store.fast_path) as direct:
        await direct.put(f"s3://{bucket}/big", _chunks(big, 1 << 20), compress="gzip")
    await store.put(f"s3://{bucket}/small", _chunks(DATA, 777))
    count = Counter(proxy)
    with pytest.raises(CompressedRange):
        await store.get_range(f"s3://{bucket}/big", 5, 50)
    assert await store.get_range(f"s3://{bucket}/small", 5, 50) == DATA[5:50]
    assert count.since() == 2


async def test_s3_plain_data_that_starts_with_the_magic_costs_two(s3: tuple[Any, ...]) -> None:
    store, proxy, _, bucket = s3
    uri = f"s3://{bucket}/magic"
    await store.put(uri, MAGIC_DATA)
    count = Counter(proxy)
    assert await store.get_range(uri, 3, 300) == MAGIC_DATA[3:300]
    assert count.since() == 2  # the mark says "identity": the second read is shifted past it


async def test_s3_a_stored_copy_keeps_its_frame(s3: tuple[Any, ...]) -> None:
    store, proxy, _, bucket = s3
    await store.put(f"s3://{bucket}/src", DATA, compress="zstd" if _has("zstandard") else "gzip")
    stored = await store.get(f"s3://{bucket}/src", stored=True)
    await store.put(f"s3://{bucket}/dst", _chunks(stored, 5), stored=True)
    count = Counter(proxy)
    with pytest.raises(CompressedRange):
        await store.get_range(f"s3://{bucket}/dst", 10, 20)
    assert count.since() == 1


async def test_s3_unmarked_blobs_still_read_right(s3: tuple[Any, ...]) -> None:
    """Written by another tool (or before marks): the first bytes are read once per ETag."""
    store, proxy, admin, bucket = s3
    await admin.put_object(Bucket=bucket, Key="old-gz", Body=_gzip_frame(DATA))
    await admin.put_object(Bucket=bucket, Key="old-id", Body=IDENTITY_HEADER + MAGIC_DATA)
    await admin.put_object(Bucket=bucket, Key="old", Body=DATA)
    count = Counter(proxy)
    with pytest.raises(CompressedRange):
        await store.get_range(f"s3://{bucket}/old-gz", 10, 20)
    assert count.since() == 2
    assert await store.get_range(f"s3://{bucket}/old-id", 10, 20) == MAGIC_DATA[10:20]
    assert count.since() == 3
    uri = f"s3://{bucket}/old"
    assert await store.get_range(uri, 10, 20) == DATA[10:20]
    assert count.since() == 2
    for start in range(100, 3200, 100):
        assert await store.get_range(uri, start, start + 50) == DATA[start : start + 50]
    assert count.since() == 31  # the verdict is remembered for this ETag
    # overwritten, compressed, by another tool: a new ETag, so its first bytes are read again
    await admin.put_object(Bucket=bucket, Key="old", Body=_gzip_frame(DATA))
    count.since()
    with pytest.raises(CompressedRange):
        await store.get_range(uri, 10, 20)
    assert count.since() == 2
    # the store pickles without what it learnt
    assert "_verdicts" in store.__dict__
    assert "_verdicts" not in pickle.loads(pickle.dumps(store)).__dict__


async def test_s3_a_range_past_the_end_is_still_invalid(s3: tuple[Any, ...]) -> None:
    store, _, _, bucket = s3
    uri = f"s3://{bucket}/p"
    await store.put(uri, DATA)
    with pytest.raises(InvalidRange) as caught:
        await store.get_range(uri, len(DATA) + 5, len(DATA) + 10)
    assert not isinstance(caught.value, CompressedRange)
    assert await store.get_range(uri, len(DATA) - 5, len(DATA) + 100) == DATA[-5:]


def _has(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


# -- GCS -------------------------------------------------------------------------------------------


@pytest.fixture
async def gcs(gcs_server: Any) -> AsyncIterator[tuple[GSRaw, FaultProxy, str, str]]:
    name = f"marks-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, name)
    async with FaultProxy(gcs_server.url) as proxy, GSRaw(api_root=proxy.url) as store:
        yield store, proxy, gcs_server.url, name


async def _upload_unmarked(root: str, bucket: str, name: str, body: bytes) -> None:
    """A JSON API upload with no custom metadata, as another tool (or an older version) does."""
    url = f"{root}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}"
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as response:
        assert response.status == 200, await response.text()


async def test_gcs_ranges_cost_one_request(gcs: tuple[GSRaw, FaultProxy, str, str]) -> None:
    store, proxy, root, bucket = gcs
    await store.put(f"gs://{bucket}/plain", DATA)
    await store.put(f"gs://{bucket}/gz", DATA, compress="gzip")
    await store.put(f"gs://{bucket}/stream", _chunks(DATA, 1000))
    async with GSRaw(api_root=root) as direct:  # a resumable upload, past the proxy
        big = os.urandom(direct.chunk_size + 1000)
        await direct.put(f"gs://{bucket}/big", _chunks(big, 1 << 20), compress="gzip")
    meta = await store.head(f"gs://{bucket}/plain")
    assert meta.metadata == {}  # the mark is kept out of sight
    count = Counter(proxy)
    for start in range(1, 32_000, 1000):
        got = await store.get_range(f"gs://{bucket}/plain", start, start + 10)
        assert got == DATA[start : start + 10]
    assert count.since() == 32
    assert await store.get_range(f"gs://{bucket}/stream", 5, 50) == DATA[5:50]
    assert count.since() == 1
    for uri in (f"gs://{bucket}/gz", f"gs://{bucket}/big"):
        with pytest.raises(CompressedRange, match="gzip"):
            await store.get_range(uri, 100, 200)
        assert count.since() == 1


async def test_gcs_unmarked_blobs_still_read_right(
    gcs: tuple[GSRaw, FaultProxy, str, str],
) -> None:
    store, proxy, root, bucket = gcs
    await _upload_unmarked(root, bucket, "old-gz", _gzip_frame(DATA))
    await _upload_unmarked(root, bucket, "old", DATA)
    count = Counter(proxy)
    with pytest.raises(CompressedRange):
        await store.get_range(f"gs://{bucket}/old-gz", 10, 20)
    assert count.since() == 2
    for _ in range(3):
        assert await store.get_range(f"gs://{bucket}/old", 10, 20) == DATA[10:20]
    assert count.since() == 4  # one read of the first bytes, then the generation is known


# -- HTTP ------------------------------------------------------------------------------------------


async def test_http_learns_the_frame_once_per_etag(tmp_path: Path, nginx_bin: Path) -> None:
    (tmp_path / "plain").write_bytes(DATA)
    (tmp_path / "gz").write_bytes(_gzip_frame(DATA))
    with NginxServer(tmp_path, binary=nginx_bin) as nginx:
        async with FaultProxy(nginx.url) as proxy, HTTPRaw() as store:
            count = Counter(proxy)
            uri = f"{proxy.url}/plain"
            for start in range(1, 32_000, 1000):
                assert await store.get_range(uri, start, start + 10) == DATA[start : start + 10]
            assert count.since() == 33  # the first range reads the first bytes alongside
            for _ in range(2):
                with pytest.raises(CompressedRange):
                    await store.get_range(f"{proxy.url}/gz", 10, 20)
            assert count.since() == 3
            # the file changes (nginx's ETag holds its mtime and size): learnt again
            (tmp_path / "plain").write_bytes(_gzip_frame(DATA))
            with pytest.raises(CompressedRange):
                await store.get_range(uri, 10, 20)
            assert count.since() == 2
