"""A large S3 object is read as parallel ranges, all pinned to the first answer's ETag.

Against moto and SeaweedFS: `get`, `get(stored=True)`, `stream` and a compressed blob give the
object's bytes; the ranges after the first are asked with `If-Match`; an object overwritten
between two ranges raises `ObjectChanged`, never bytes of two versions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import ObjectChanged, Retry, S3Raw
from tests.contract.targets_s3 import fresh_bucket
from tests.pinned_probes import CountsPinned, OverwritesFirst

pytestmark = pytest.mark.servers

MiB = 1 << 20
PART = 5 * MiB
FAST = Retry(attempts=3, base=0.01, cap=0.02)


class Counting(CountsPinned, S3Raw):
    """Counts the pinned ranges asked (a `get` writes them into its buffer, a `stream` takes
    them as bytes), and the most in flight at once."""

    async def _pinned_range_into(
        self, uri: str, where: Any, first: int, last: int, version: str, out: memoryview, /
    ) -> None:
        await self._before(uri, where, first, last, version)
        with self._counted():
            await super()._pinned_range_into(uri, where, first, last, version, out)


class Overwriting(OverwritesFirst, Counting):
    """Replaces the object on the server, through a botocore client, before its first pinned
    range is asked."""

    client: Any

    async def _replace(self, uri: str, where: Any) -> None:
        bucket, key = where
        await self.client.put_object(Bucket=bucket, Key=key, Body=self.replacement)


@pytest.fixture(params=["moto", "seaweed"])
def endpoint(request: pytest.FixtureRequest) -> str:
    server = request.getfixturevalue(f"{request.param}_server")
    return str(server.url)


@pytest.fixture
async def bucket(endpoint: str) -> AsyncIterator[tuple[str, Any]]:
    async with fresh_bucket(endpoint) as found:
        yield found


def _store(cls: type[Counting], endpoint: str, **options: Any) -> Counting:
    options = {"part_size": PART, "parallel_threshold": 2 * PART, "retry": FAST, **options}
    store = cls(endpoint_url=endpoint, **options)
    store.pinned = []
    return store


async def test_a_large_get_is_parallel_ranges_pinned_to_the_first_etag(
    endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, client = bucket
    data = os.urandom(4 * PART + 123)
    async with _store(Counting, endpoint, max_concurrency=3) as store:
        uri = f"s3://{name}/big"
        await store.put(uri, data)
        assert await store.get(uri) == data
        etag = (await client.head_object(Bucket=name, Key="big"))["ETag"]
        assert sorted(store.pinned) == [
            (PART * i, min(PART * (i + 1), len(data)), etag) for i in range(1, 5)
        ]
        assert 1 < store.most <= 3
        store.pinned.clear()
        assert await store.get(uri, stored=True) == data
        chunks = [chunk async for chunk in store.stream(uri, chunk_size=MiB)]
        assert b"".join(chunks) == data
        assert max(len(chunk) for chunk in chunks) <= MiB
        assert len(store.pinned) == 8


async def test_below_the_threshold_the_rest_is_one_pinned_request_and_small_objects_one(
    endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, _ = bucket
    async with _store(Counting, endpoint) as store:
        medium, small = os.urandom(PART + 7), b"small"
        await store.put(f"s3://{name}/m", medium)
        await store.put(f"s3://{name}/s", small)
        await store.put(f"s3://{name}/e", b"")
        assert await store.get(f"s3://{name}/m") == medium
        assert store.pinned == []  # the fast path's plain GET takes it whole
        assert await store.get(f"s3://{name}/s") == small
        assert await store.get(f"s3://{name}/e") == b""
        assert store.pinned == []
    async with _store(Counting, endpoint, fast_path=False) as store:
        assert await store.get(f"s3://{name}/m") == medium
        assert [(a, b) for a, b, _ in store.pinned] == [(PART, PART + 7)]


async def test_without_a_threshold_nothing_is_read_in_ranges(
    endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, _ = bucket
    data = os.urandom(3 * PART)
    async with _store(Counting, endpoint, parallel_threshold=None) as store:
        await store.put(f"s3://{name}/big", data)
        assert await store.get(f"s3://{name}/big") == data
        assert b"".join([c async for c in store.stream(f"s3://{name}/big")]) == data
        assert store.pinned == []


async def test_a_compressed_large_blob_is_decoded_from_its_assembled_stored_form(
    endpoint: str, bucket: tuple[str, Any]
) -> None:
    name, _ = bucket
    data = os.urandom(3 * PART)
    async with _store(Counting, endpoint) as store:
        await store.put(f"s3://{name}/z", data, compress="gzip")
        assert await store.get(f"s3://{name}/z") == data
        assert b"".join([c async for c in store.stream(f"s3://{name}/z")]) == data
        assert store.pinned


@pytest.mark.parametrize("read", ["get", "stream"])
async def test_an_object_replaced_between_ranges_raises_object_changed(
    endpoint: str, bucket: tuple[str, Any], read: str
) -> None:
    name, client = bucket
    old, new = os.urandom(3 * PART), os.urandom(3 * PART)
    async with _store(Overwriting, endpoint) as store:
        assert isinstance(store, Overwriting)
        store.client, store.replacement = client, new
        uri = f"s3://{name}/moving"
        await store.put(uri, old)
        etag = (await client.head_object(Bucket=name, Key="moving"))["ETag"]
        with pytest.raises(ObjectChanged) as raised:
            if read == "get":
                await store.get(uri)
            else:
                async for _ in store.stream(uri):
                    pass
        assert raised.value.version == etag
        assert "read it again" in str(raised.value)
        store.pinned = [(0, 0, "")]  # no more overwrites: the new version reads whole
        assert await store.get(uri) == new


async def test_botocores_path_pins_ranges_too(moto_server: Any) -> None:
    data, new = os.urandom(3 * PART), os.urandom(3 * PART)
    store = _store(Overwriting, moto_server.url, fast_path=False)
    assert isinstance(store, Overwriting)
    async with fresh_bucket(moto_server.url) as (name, client), store:
        uri = f"s3://{name}/big"
        await store.put(uri, data)
        store.client, store.replacement = client, new
        store.pinned = [(0, 0, "")]  # no overwrite yet
        assert await store.get(uri) == data
        assert len(store.pinned) == 3
        store.pinned = []
        with pytest.raises(ObjectChanged):
            await store.get(uri)
