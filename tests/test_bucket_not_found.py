"""A missing bucket is not a missing key: S3Raw and GSRaw raise BucketNotFound, chains too.

Servers: moto and SeaweedFS for S3 (both the fast path and botocore's), fake-gcs-server for GCS.
A HEAD answer carries no body, so ``exists`` and ``size`` must find out about the bucket some
other way; these tests pin that they do, on every server.
"""

from __future__ import annotations

import asyncio
import pickle
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import asyncbitstore
from asyncbitstore import (
    BucketNotFound,
    FileRaw,
    GSRaw,
    NotFoundInStore,
    Retry,
    S3Raw,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
)
from tests.contract.targets_s3 import fresh_bucket
from tests.hostile import Scripted
from tests.servers import FakeGCSServer

pytestmark = pytest.mark.servers

FAST = Retry(attempts=3, base=0.01, cap=0.02)
MISSING = "no-such-bucket-i19"
KEY = "0" * 40


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def _list(chunks: AsyncIterator[str]) -> list[str]:
    return [uri async for uri in chunks]


async def _raised(call: Awaitable[Any]) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


def _every_call(store: Any, uri: str, prefix: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "get": lambda: store.get(uri),
        "get_range": lambda: store.get_range(uri, 0, 4),
        "stream": lambda: _drain(store.stream(uri)),
        "size": lambda: store.size(uri),
        "exists": lambda: store.exists(uri),
        "delete": lambda: store.delete(uri),
        "list": lambda: _list(store.list(prefix)),
    }


def _check_bucket_error(error: BaseException, what: str, bucket: str = MISSING) -> None:
    assert isinstance(error, BucketNotFound), (what, repr(error))
    assert isinstance(error, StoreNotAvailable) and not isinstance(error, NotFoundInStore)
    assert error.bucket == bucket
    assert f"bucket {bucket!r} does not exist" in str(error), (what, str(error))
    assert "check its name" in str(error) and "endpoint" in str(error)


# -- the error ----------------------------------------------------------------------------------


def test_the_error_names_the_bucket_pickles_and_is_exported() -> None:
    error = BucketNotFound("S3Raw", "photos", uri="s3://photos/a")
    assert str(error) == (
        "S3Raw is not available for 's3://photos/a': bucket 'photos' does not exist; check its "
        "name, and the endpoint and credentials the store uses"
    )
    folder = BucketNotFound("FileRaw", "/srv/blobs", kind="folder")
    assert "folder '/srv/blobs' does not exist" in str(folder) and folder.uri is None
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is BucketNotFound and str(again) == str(error)
    assert (again.bucket, again.kind, again.uri, again.store) == (
        "photos", "bucket", "s3://photos/a", "S3Raw"
    )  # fmt: skip
    assert asyncbitstore.BucketNotFound is BucketNotFound
    assert "BucketNotFound" in asyncbitstore.__all__
    assert "BucketNotFound" in asyncbitstore.errors.__all__


# -- S3 -----------------------------------------------------------------------------------------


@pytest.fixture(params=["moto", "seaweed"])
def endpoint(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_server").url)


@pytest.mark.parametrize("fast_path", [True, False])
async def test_every_s3_call_on_a_missing_bucket_raises_bucket_not_found(
    endpoint: str, fast_path: bool
) -> None:
    uri = f"s3://{MISSING}/key"
    async with S3Raw(endpoint_url=endpoint, retry=FAST, fast_path=fast_path) as store:
        for what, call in _every_call(store, uri, f"s3://{MISSING}/").items():
            _check_bucket_error(await _raised(call()), what)
            # asked twice: a remembered bucket check must not turn into "not found" later
            _check_bucket_error(await _raised(call()), what)


async def test_an_s3_put_into_a_missing_bucket_raises_bucket_not_found(moto_server: Any) -> None:
    # moto only: SeaweedFS creates a missing bucket on an admin's first write.
    for fast_path in (True, False):
        async with S3Raw(endpoint_url=moto_server.url, retry=FAST, fast_path=fast_path) as store:
            _check_bucket_error(await _raised(store.put(f"s3://{MISSING}/k", b"x")), "put")
            big = b"x" * (store.part_size + 1)  # multipart
            _check_bucket_error(await _raised(store.put(f"s3://{MISSING}/k", big)), "put")


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_missing_s3_key_in_a_bucket_is_still_not_found(
    endpoint: str, fast_path: bool
) -> None:
    async with fresh_bucket(endpoint) as (bucket, _):
        uri = f"s3://{bucket}/missing"
        async with S3Raw(endpoint_url=endpoint, retry=FAST, fast_path=fast_path) as store:
            for _ in range(2):  # before and after the bucket is known
                assert await store.exists(uri) is False
                error = await _raised(store.size(uri))
                assert type(error) is NotFoundInStore and "bucket" not in str(error)
                assert type(await _raised(store.get(uri))) is NotFoundInStore
            await store.delete(uri)
            assert await _list(store.list(f"s3://{bucket}/")) == []


async def test_a_pickled_s3_store_checks_the_bucket_again(moto_server: Any) -> None:
    async with S3Raw(endpoint_url=moto_server.url, retry=FAST) as store:
        _check_bucket_error(await _raised(store.exists(f"s3://{MISSING}/k")), "exists")
        copy = pickle.loads(pickle.dumps(store))
    async with copy:
        _check_bucket_error(await _raised(copy.exists(f"s3://{MISSING}/k")), "exists")


# -- GCS ----------------------------------------------------------------------------------------


@pytest.fixture
async def gcs(gcs_server: FakeGCSServer) -> AsyncIterator[GSRaw]:
    async with GSRaw(api_root=gcs_server.url, retry=FAST) as store:
        yield store


async def test_every_gcs_call_on_a_missing_bucket_raises_bucket_not_found(gcs: GSRaw) -> None:
    uri = f"gs://{MISSING}/key"
    calls = _every_call(gcs, uri, f"gs://{MISSING}/")
    calls["put"] = lambda: gcs.put(uri, b"data")
    calls["put big"] = lambda: gcs.put(uri, b"x" * (gcs.chunk_size + 1))  # resumable
    for what, call in calls.items():
        _check_bucket_error(await _raised(call()), what)


async def test_a_missing_gcs_object_in_a_bucket_is_still_not_found(
    gcs: GSRaw, gcs_server: FakeGCSServer
) -> None:
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    uri = f"gs://{bucket}/missing"
    for _ in range(2):
        assert await gcs.exists(uri) is False
        assert type(await _raised(gcs.size(uri))) is NotFoundInStore
        assert type(await _raised(gcs.get(uri))) is NotFoundInStore
    await gcs.delete(uri)


# -- through a chain ----------------------------------------------------------------------------


def _chain(cache: Path, source: Any, prefix: str) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{cache}/"))
    chain.append_source(Sha1Store(source, prefix), write=True, cache_result=True)
    return chain


async def _check_chain(chain: Sha1Composite) -> None:
    async with chain:
        for what, call in {
            "get": lambda: chain.get(KEY),
            "stream": lambda: _drain(chain.stream(KEY)),
            "size": lambda: chain.size(KEY),
            "exists": lambda: chain.exists(KEY),
        }.items():
            error = await _raised(call())
            assert isinstance(error, StoreNotAvailable), (what, repr(error))
            assert not isinstance(error, NotFoundInStore), what
            assert f"bucket {MISSING!r} does not exist" in str(error), (what, str(error))


async def test_a_chain_over_a_missing_s3_bucket_is_not_available(
    endpoint: str, tmp_path: Path
) -> None:
    source = S3Raw(endpoint_url=endpoint, retry=FAST)
    await _check_chain(_chain(tmp_path / "cache", source, f"s3://{MISSING}/files/"))


async def test_a_chain_over_a_missing_gcs_bucket_is_not_available(
    gcs_server: FakeGCSServer, tmp_path: Path
) -> None:
    source = GSRaw(api_root=gcs_server.url, retry=FAST)
    await _check_chain(_chain(tmp_path / "cache", source, f"gs://{MISSING}/files/"))


async def _head_404_bucket_403(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    """HEAD of an object: 404 (no body); HEAD of the bucket: 403, as for a key without
    s3:ListBucket."""
    while head := await server.head(reader):
        path = head.split(b" ")[1].split(b"?")[0]
        status = "404 Not Found" if path.strip(b"/").count(b"/") else "403 Forbidden"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_bucket_the_store_may_not_inspect_counts_as_existing(fast_path: bool) -> None:
    async with Scripted(_head_404_bucket_403) as server:
        url = f"http://{server.authority}"
        async with S3Raw(endpoint_url=url, retry=FAST, fast_path=fast_path) as store:
            assert await store.exists("s3://private/a") is False
            assert type(await _raised(store.size("s3://private/b"))) is NotFoundInStore
        heads = [r.split(b" ")[:2] for r in server.requests]
        # one HeadBucket only: its 403 is remembered as "exists"
        assert [path.split(b"?")[0] for _, path in heads] == [
            b"/private/a", b"/private", b"/private/b"
        ]  # fmt: skip
