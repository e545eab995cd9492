"""The parts of an S3 multipart upload go on the fast path, as the single PUT does.

The requests are watched through the fault proxy of ``tests/faults.py`` in front of moto: a
part sent by botocore carries its user agent, a part sent by the fast path does not. A part
answered 5xx is sent again; a part refused with a 4xx fails the put and aborts the upload.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import pytest

from asyncbitstore import S3Raw, StoreNotAvailable
from asyncbitstore.retry import Retry
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import STATUS, FaultProxy, Seen

MiB = 1 << 20
PART = 5 * MiB
FAST_RETRY = Retry(attempts=3, base=0.01, cap=0.05)
pytestmark = pytest.mark.filterwarnings("ignore:Sending a large body:ResourceWarning")


def _blob(parts: int) -> bytes:
    return b"".join(bytes([65 + n]) * PART for n in range(parts)) + os.urandom(777)


def _parts(proxy: FaultProxy) -> list[Seen]:
    return [seen for seen in proxy.requests if "partNumber=" in seen.path]


def _number(seen: Seen) -> int:
    query = seen.path.split("?", 1)[1]
    fields = dict(field.split("=", 1) for field in query.split("&"))
    return int(fields["partNumber"])


def _by_botocore(seen: Seen) -> bool:
    return "botocore" in seen.headers.get("User-Agent", "").lower()


async def _nothing_left(admin: Any, bucket: str) -> None:
    listed = await admin.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed.get("Contents", [])] == []
    uploads = await admin.list_multipart_uploads(Bucket=bucket)
    assert not uploads.get("Uploads"), uploads.get("Uploads")


@pytest.mark.parametrize("verify_etag", [False, True])
async def test_parts_are_signed_and_sent_without_botocore(
    moto_server: Any, verify_etag: bool
) -> None:
    blob = _blob(3)
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(
            endpoint_url=proxy.url, part_size=PART, max_concurrency=2, verify_etag=verify_etag
        ) as store,
    ):
        await store.put(f"s3://{bucket}/big", blob)
        parts = _parts(proxy)
        assert sorted(_number(seen) for seen in parts) == [1, 2, 3, 4]
        for seen in parts:
            assert not _by_botocore(seen), seen.headers.get("User-Agent")
            start = (_number(seen) - 1) * PART
            piece = blob[start : start + PART]
            assert seen.headers["Content-Length"] == str(len(piece))
            # Plain HTTP: the payload is signed with its SHA-256, as the single PUT signs it.
            assert seen.headers["X-Amz-Content-SHA256"] == hashlib.sha256(piece).hexdigest()
            md5 = base64.b64encode(hashlib.md5(piece).digest()).decode()
            assert seen.headers.get("Content-MD5") == (md5 if verify_etag else None)
        assert await store.get(f"s3://{bucket}/big") == blob


async def test_parts_of_a_stream_go_on_the_fast_path(moto_server: Any) -> None:
    blob = _blob(2)

    async def produce() -> Any:
        for offset in range(0, len(blob), MiB):
            yield blob[offset : offset + MiB]

    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=2) as store,
    ):
        await store.put(f"s3://{bucket}/streamed", produce())
        parts = _parts(proxy)
        assert len(parts) == 3
        assert not any(_by_botocore(seen) for seen in parts)
        assert await store.get(f"s3://{bucket}/streamed") == blob


async def test_a_part_answered_5xx_is_sent_again(moto_server: Any) -> None:
    blob = _blob(3)
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=3, retry=FAST_RETRY) as store,
    ):
        failed = proxy.inject(STATUS, status=500, path="partNumber=2", first=1)
        await store.put(f"s3://{bucket}/big", blob)
        assert failed.injected == 1
        second = [seen for seen in _parts(proxy) if _number(seen) == 2]
        assert [seen.status for seen in second] == [500, 200]
        assert not any(_by_botocore(seen) for seen in second)
        assert await store.get(f"s3://{bucket}/big") == blob


async def test_a_part_refused_with_4xx_fails_the_put_and_aborts(moto_server: Any) -> None:
    blob = _blob(3)
    async with (
        fresh_bucket(moto_server.url) as (bucket, admin),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=1, retry=FAST_RETRY) as store,
    ):
        refused = proxy.inject(STATUS, status=403, path="partNumber=2")
        with pytest.raises(StoreNotAvailable, match="access denied"):
            await store.put(f"s3://{bucket}/big", blob)
        assert refused.injected == 1  # a 4xx is not retried
        assert not any(_by_botocore(seen) for seen in _parts(proxy))
        aborts = [s for s in proxy.requests if s.method == "DELETE" and "uploadId=" in s.path]
        assert len(aborts) == 1
        await _nothing_left(admin, bucket)


async def test_without_the_fast_path_botocore_sends_the_parts(moto_server: Any) -> None:
    blob = _blob(2)
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, fast_path=False, verify_etag=True) as store,
    ):
        await store.put(f"s3://{bucket}/big", memoryview(blob))
        parts = _parts(proxy)
        assert len(parts) == 3
        assert all(_by_botocore(seen) and "Content-MD5" in seen.headers for seen in parts)
        assert await store.get(f"s3://{bucket}/big") == blob
