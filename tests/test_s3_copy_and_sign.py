"""S3Raw: `copy` on the server (CopyObject, multipart UploadPartCopy) and presigned URLs.

moto does not check signatures (nor the expiry of presigned URLs) unless told to, so what
signing must refuse is checked against SeaweedFS, which verifies SigV4 with the
``testing``/``testing`` key pair; moto confirms that GET/PUT/HEAD/DELETE URLs do their job.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from asyncbitstore import NotFoundInStore, S3Raw, StoreNotAvailable

from .contract.targets_s3 import fresh_bucket

pytestmark = pytest.mark.servers

MiB = 1 << 20
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NoBytesThrough(S3Raw):
    """An S3Raw that fails any read of an object's bytes: a copy must not need one."""

    async def _get_stored(self, uri: str) -> bytes:
        raise AssertionError("the copy read the object through the client")

    def _stream_stored(self, uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        raise AssertionError("the copy streamed the object through the client")


def _fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    # A body without a content type is sent as a form by urllib, which moto then parses away.
    headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with _DIRECT.open(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    return await asyncio.to_thread(_fetch, url, method, body)


async def test_copy_happens_on_the_server(moto_server: Any) -> None:
    async with (
        fresh_bucket(moto_server.url) as (bucket, client),
        NoBytesThrough(endpoint_url=moto_server.url) as store,
    ):
        src, dst = f"s3://{bucket}/a", f"s3://{bucket}/b/c"
        await client.put_object(Bucket=bucket, Key="a", Body=b"payload")
        await store.copy(src, dst)
        answer = await client.get_object(Bucket=bucket, Key="b/c")
        assert await answer["Body"].read() == b"payload"
        with pytest.raises(NotFoundInStore):
            await store.copy(f"s3://{bucket}/missing", dst)


async def test_large_objects_are_copied_part_by_part(moto_server: Any) -> None:
    data = bytes(range(256)) * (11 * MiB // 256 + 7)  # three parts of 5 MiB (the last shorter)
    async with fresh_bucket(moto_server.url) as (bucket, client):
        store = NoBytesThrough(endpoint_url=moto_server.url, part_size=5 * MiB)
        store._copy_single_max = 5 * MiB
        async with store:
            await client.put_object(
                Bucket=bucket, Key="big", Body=data, ContentType="text/x-kept",
                Metadata={"origin": "test"},
            )  # fmt: skip
            await store.copy(f"s3://{bucket}/big", f"s3://{bucket}/big-copy")
            answer = await client.get_object(Bucket=bucket, Key="big-copy")
            assert await answer["Body"].read() == data
            assert answer["ETag"].strip('"').endswith("-3")  # a three-part upload
            assert answer["ContentType"] == "text/x-kept"
            assert answer["Metadata"] == {"origin": "test"}
            pending = await client.list_multipart_uploads(Bucket=bucket)
            assert not pending.get("Uploads")


class FailsSecondPart(S3Raw):
    """An S3Raw whose second part copy fails for good."""

    async def _request(self, uri: Any, bucket: str, what: str, fn: Any, **kw: Any) -> Any:
        if what == "copy part 2":
            raise StoreNotAvailable(self, "part 2 failed", uri=uri)
        return await super()._request(uri, bucket, what, fn, **kw)


async def test_a_failed_multipart_copy_leaves_neither_object_nor_upload(
    moto_server: Any,
) -> None:
    async with fresh_bucket(moto_server.url) as (bucket, client):
        store = FailsSecondPart(endpoint_url=moto_server.url, part_size=5 * MiB)
        store._copy_single_max = 0
        async with store:
            await client.put_object(Bucket=bucket, Key="x", Body=bytes(11 * MiB))
            with pytest.raises(StoreNotAvailable, match="part 2 failed"):
                await store.copy(f"s3://{bucket}/x", f"s3://{bucket}/y")
            pending = await client.list_multipart_uploads(Bucket=bucket)
            assert not pending.get("Uploads")
            assert not await store.exists(f"s3://{bucket}/y")


async def test_presigned_urls_work_for_each_method(moto_server: Any) -> None:
    async with (
        fresh_bucket(moto_server.url) as (bucket, _client),
        S3Raw(endpoint_url=moto_server.url) as store,
    ):
        uri = f"s3://{bucket}/dir/signed object"
        url = await store.sign(uri, method="PUT", expires_in=600)
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Expires"] == ["600"]
        assert "testing" not in query["X-Amz-Signature"][0]
        assert (await fetch(url, "PUT", b"uploaded"))[0] == 200
        assert await store.get(uri) == b"uploaded"
        assert await fetch(await store.sign(uri)) == (200, b"uploaded")
        assert (await fetch(await store.sign(uri, method="head"), "HEAD"))[0] == 200
        assert (await fetch(await store.sign(uri, method="DELETE"), "DELETE"))[0] == 204
        assert not await store.exists(uri)


async def test_seaweedfs_refuses_tampered_and_expired_urls(seaweed_server: Any) -> None:
    async with (
        fresh_bucket(seaweed_server.url) as (bucket, _client),
        S3Raw(endpoint_url=seaweed_server.url) as store,
    ):
        uri = f"s3://{bucket}/k"
        await store.put(uri, b"secret bytes")
        url = await store.sign(uri, expires_in=1)
        assert await fetch(url) == (200, b"secret bytes")
        tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")[: len(url)]
        assert (await fetch(tampered))[0] == 403
        other = (await store.sign(f"s3://{bucket}/other")).replace("/other?", "/k?")
        assert (await fetch(other))[0] == 403
        await asyncio.sleep(2.5)
        assert (await fetch(url))[0] == 403
        put_url = await store.sign(uri, method="PUT")
        assert (await fetch(put_url, "PUT", b"new"))[0] == 200
        assert await store.get(uri) == b"new"


@pytest.mark.parametrize(
    ("method", "expires_in", "error"),
    [
        ("POST", 60, ValueError),
        ("GET", 0, ValueError),
        ("GET", 604801, ValueError),
        ("GET", 1.5, TypeError),
        (None, 60, TypeError),
    ],
)
async def test_sign_checks_its_arguments(method: Any, expires_in: Any, error: type) -> None:
    store = S3Raw(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(error):
        await store.sign("s3://b/k", method=method, expires_in=expires_in)


async def test_an_anonymous_store_cannot_sign() -> None:
    store = S3Raw.anonymous(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(NotImplementedError, match="no credentials"):
        await store.sign("s3://b/k")
