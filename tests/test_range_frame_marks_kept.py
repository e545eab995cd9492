"""The frame mark (`bitstore-frame` metadata) rides along with user metadata on S3 and GCS.

It is added to whatever metadata a `put` is given (over a user key of the same name), is not
shown by `head`, and survives server-side copies (a single ``CopyObject``, a multipart copy
that restates the metadata, a GCS rewrite): a copy's ranges cost one request, like the
original's. Requests are counted on a proxy in front of moto or fake-gcs-server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import GSRaw, S3Raw
from asyncbitstore.compression.store_io import FRAME_KEY
from asyncbitstore.errors import CompressedRange
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import FaultProxy

DATA = os.urandom(40_000)
MiB = 1 << 20


def _requests_during(proxy: FaultProxy) -> Any:
    mark = len(proxy.requests)
    return lambda: len(proxy.requests) - mark


@pytest.fixture
async def s3(moto_server: Any) -> AsyncIterator[tuple[S3Raw, FaultProxy, Any, str]]:
    async with (
        fresh_bucket(str(moto_server.url)) as (bucket, admin),
        FaultProxy(str(moto_server.url)) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=5 * MiB) as store,
    ):
        yield store, proxy, admin, bucket


@pytest.mark.parametrize("single_max", [5 << 30, 0], ids=["copy-object", "multipart-copy"])
async def test_s3_copies_keep_the_mark(
    s3: tuple[S3Raw, FaultProxy, Any, str], single_max: int
) -> None:
    store, proxy, admin, bucket = s3
    store._copy_single_max = single_max
    await store.put(f"s3://{bucket}/gz", DATA, compress="gzip", metadata={"origin": "t"})
    await store.put(f"s3://{bucket}/plain", DATA)
    await store.copy(f"s3://{bucket}/gz", f"s3://{bucket}/gz-copy")
    await store.copy(f"s3://{bucket}/plain", f"s3://{bucket}/plain-copy")
    stored = await admin.head_object(Bucket=bucket, Key="gz-copy")
    assert stored["Metadata"] == {"origin": "t", FRAME_KEY: "gzip"}
    assert (await store.head(f"s3://{bucket}/gz-copy")).metadata == {"origin": "t"}
    count = _requests_during(proxy)
    with pytest.raises(CompressedRange, match="gzip"):
        await store.get_range(f"s3://{bucket}/gz-copy", 100, 200)
    assert count() == 1
    count = _requests_during(proxy)
    assert await store.get_range(f"s3://{bucket}/plain-copy", 100, 200) == DATA[100:200]
    assert count() == 1


async def test_s3_a_user_key_named_like_the_mark_is_replaced(
    s3: tuple[S3Raw, FaultProxy, Any, str],
) -> None:
    store, proxy, admin, bucket = s3
    uri = f"s3://{bucket}/k"
    await store.put(uri, DATA, compress="gzip", metadata={FRAME_KEY: "none", "a": "b"})
    assert (await admin.head_object(Bucket=bucket, Key="k"))["Metadata"][FRAME_KEY] == "gzip"
    assert (await store.head(uri)).metadata == {"a": "b"}
    count = _requests_during(proxy)
    with pytest.raises(CompressedRange):
        await store.get_range(uri, 10, 20)
    assert count() == 1


async def test_s3_metadata_at_the_limit_is_written_without_the_mark(
    s3: tuple[S3Raw, FaultProxy, Any, str],
) -> None:
    """S3 takes 2 KiB of user metadata: a put using all of it still succeeds, unmarked, and
    its ranges learn the frame from its first bytes."""
    store, proxy, admin, bucket = s3
    uri = f"s3://{bucket}/full"
    full = {"k": "v" * 2047}
    await store.put(uri, DATA, compress="gzip", metadata=full)
    assert (await admin.head_object(Bucket=bucket, Key="full"))["Metadata"] == full
    count = _requests_during(proxy)
    with pytest.raises(CompressedRange):
        await store.get_range(uri, 10, 20)
    assert count() == 2


async def test_gcs_a_copy_keeps_the_mark_and_head_hides_it(gcs_server: Any) -> None:
    bucket = f"kept-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    async with FaultProxy(gcs_server.url) as proxy, GSRaw(api_root=proxy.url) as store:
        await store.put(f"gs://{bucket}/gz", DATA, compress="gzip", metadata={"origin": "t"})
        await store.put(f"gs://{bucket}/plain", DATA)
        await store.copy(f"gs://{bucket}/gz", f"gs://{bucket}/gz-copy")
        await store.copy(f"gs://{bucket}/plain", f"gs://{bucket}/plain-copy")
        assert (await store.head(f"gs://{bucket}/gz-copy")).metadata == {"origin": "t"}
        count = _requests_during(proxy)
        with pytest.raises(CompressedRange, match="gzip"):
            await store.get_range(f"gs://{bucket}/gz-copy", 100, 200)
        assert count() == 1
        count = _requests_during(proxy)
        assert await store.get_range(f"gs://{bucket}/plain-copy", 100, 200) == DATA[100:200]
        assert count() == 1
