"""``mode="create"`` and attributes on S3 multipart uploads, against moto and SeaweedFS.

A streamed create longer than one part first checks that the key is free, then sends its parts
and completes with ``If-None-Match: *``. The tests also write the key out of band while the
parts go up, to see whether the server enforces the condition at completion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncbitstore import AlreadyExists, S3Raw
from tests.contract.targets_s3 import fresh_bucket

MiB = 1 << 20
PART = 5 * MiB


@pytest.fixture(params=["moto", "seaweed"])
def endpoint(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_server").url)


async def _parts(count: int, after_first: Callable[[], Any] | None = None) -> AsyncIterator[bytes]:
    for index in range(count):
        yield bytes([65 + index]) * PART
        if index == 0 and after_first is not None:
            await after_first()


async def test_a_multipart_create_stores_the_blob_with_its_attributes(endpoint: str) -> None:
    async with (
        fresh_bucket(endpoint) as (bucket, admin),
        S3Raw(endpoint_url=endpoint, part_size=PART) as store,
    ):
        uri = f"s3://{bucket}/big"
        await store.put(
            uri,
            _parts(3),
            mode="create",
            content_type="application/x-test",
            cache_control="no-cache",
            metadata={"kind": "multipart"},
        )
        meta = await store.head(uri)
        assert meta.size == 3 * PART
        assert meta.content_type == "application/x-test"
        assert dict(meta.metadata) == {"kind": "multipart"}
        answer = await admin.head_object(Bucket=bucket, Key="big")
        assert answer.get("CacheControl") == "no-cache"
        assert not (await admin.list_multipart_uploads(Bucket=bucket)).get("Uploads")


async def test_a_multipart_create_over_a_taken_key_sends_no_part(endpoint: str) -> None:
    async with (
        fresh_bucket(endpoint) as (bucket, admin),
        S3Raw(endpoint_url=endpoint, part_size=PART) as store,
    ):
        uri = f"s3://{bucket}/big"
        await admin.put_object(Bucket=bucket, Key="big", Body=b"first")
        with pytest.raises(AlreadyExists):
            await store.put(uri, _parts(2), mode="create")
        assert await store.get(uri) == b"first"
        assert not (await admin.list_multipart_uploads(Bucket=bucket)).get("Uploads")


async def test_a_key_taken_while_the_parts_go_up_fails_the_completion(endpoint: str) -> None:
    """The atomic part: the key is free at the check and taken before the completion."""
    async with (
        fresh_bucket(endpoint) as (bucket, admin),
        S3Raw(endpoint_url=endpoint, part_size=PART) as store,
    ):
        uri = f"s3://{bucket}/big"

        async def meanwhile() -> None:
            await admin.put_object(Bucket=bucket, Key="big", Body=b"the winner")

        with pytest.raises(AlreadyExists):
            await store.put(uri, _parts(2, meanwhile), mode="create")
        assert await store.get(uri) == b"the winner"
        assert not (await admin.list_multipart_uploads(Bucket=bucket)).get("Uploads")
