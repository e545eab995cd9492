"""S3 multipart uploads keep up to ``max_concurrency`` parts in flight, and clean up on failure.

The uploads go through the fault proxy of ``tests/faults.py``, which counts the requests it is
answering at once and can slow, cut or hold the part uploads (``partNumber=`` in the query).
After every failure neither the object nor a pending multipart upload may be left.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import S3Raw, StoreNotAvailable
from asyncbitstore.retry import Retry
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import HANG, LATENCY, RESET, FaultProxy

MiB = 1 << 20
PART = 5 * MiB
FAST_RETRY = Retry(attempts=2, base=0.01, cap=0.05)
# The proxy forwards whole parts as bytes, which aiohttp warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Sending a large body:ResourceWarning")


@pytest.fixture(params=["moto", "seaweed"])
def endpoint(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_server").url)


def _blob(parts: int) -> bytes:
    # Every part different, and the last one short, so a part out of place changes the object.
    return b"".join(bytes([65 + n]) * PART for n in range(parts)) + os.urandom(1000)


def _part_requests(proxy: FaultProxy) -> list[Any]:
    return [seen for seen in proxy.requests if "partNumber=" in seen.path]


async def _nothing_left(admin: Any, bucket: str, key: str) -> None:
    listed = await admin.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed.get("Contents", [])] == []
    uploads = await admin.list_multipart_uploads(Bucket=bucket)
    assert not uploads.get("Uploads"), uploads.get("Uploads")


async def test_parts_of_bytes_go_up_several_at_a_time(moto_server: Any) -> None:
    blob = _blob(6)
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=4) as store,
    ):
        proxy.inject(LATENCY, seconds=0.3, path="partNumber=")
        await store.put(f"s3://{bucket}/big", memoryview(blob))
        assert len(_part_requests(proxy)) == 7
        assert 2 <= proxy.max_in_flight <= 4
        assert await store.get(f"s3://{bucket}/big") == blob


async def test_a_stream_is_read_ahead_only_as_far_as_parts_may_be_in_flight(
    moto_server: Any,
) -> None:
    concurrency = 3
    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        FaultProxy(moto_server.url) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=concurrency) as store,
    ):
        proxy.inject(LATENCY, seconds=0.2, path="partNumber=")
        ahead: list[int] = []

        async def produce() -> AsyncIterator[bytes]:
            for n in range(8):
                answered = sum(1 for seen in _part_requests(proxy) if seen.status)
                ahead.append(n - answered)  # parts handed over but not yet stored
                # Chunks smaller than a part: the upload regroups them.
                for _ in range(5):
                    yield bytes([65 + n]) * (PART // 5)

        await store.put(f"s3://{bucket}/big", produce())
        assert max(ahead) <= concurrency + 1
        assert proxy.max_in_flight >= 2
        data = await store.get(f"s3://{bucket}/big")
        assert data == b"".join(bytes([65 + n]) * PART for n in range(8))


async def test_a_producer_failing_after_some_parts_leaves_nothing(endpoint: str) -> None:
    async def produce() -> AsyncIterator[bytes]:
        for n in range(4):
            yield bytes([65 + n]) * PART
        raise RuntimeError("the producer broke")

    async with (
        fresh_bucket(endpoint) as (bucket, admin),
        S3Raw(endpoint_url=endpoint, part_size=PART, max_concurrency=4) as store,
    ):
        with pytest.raises(RuntimeError, match="the producer broke"):
            await store.put(f"s3://{bucket}/big", produce())
        await _nothing_left(admin, bucket, "big")


async def test_a_part_cut_for_good_stops_the_others_and_aborts(endpoint: str) -> None:
    blob = _blob(6)
    async with (
        fresh_bucket(endpoint) as (bucket, admin),
        FaultProxy(endpoint) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=3, retry=FAST_RETRY) as store,
    ):
        proxy.inject(RESET, path="partNumber=2")
        # Part 3 never gets an answer: the put can only end if the failure of part 2 stops it.
        held = proxy.inject(HANG, path="partNumber=3")
        with pytest.raises(StoreNotAvailable) as caught:
            await asyncio.wait_for(store.put(f"s3://{bucket}/big", blob), 30)
        assert "partNumber=2" in str(caught.value)
        assert held.injected == 1
        await _nothing_left(admin, bucket, "big")


async def test_a_part_cut_once_is_sent_again(endpoint: str) -> None:
    blob = _blob(4)
    async with (
        fresh_bucket(endpoint) as (bucket, _),
        FaultProxy(endpoint) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=4, retry=FAST_RETRY) as store,
    ):
        cut = proxy.inject(RESET, path="partNumber=3", first=1)
        await store.put(f"s3://{bucket}/big", blob)
        assert cut.injected == 1
        assert await store.get(f"s3://{bucket}/big") == blob


async def test_a_cancelled_upload_leaves_no_pending_upload(endpoint: str) -> None:
    blob = _blob(6)
    async with (
        fresh_bucket(endpoint) as (bucket, admin),
        FaultProxy(endpoint) as proxy,
        S3Raw(endpoint_url=proxy.url, part_size=PART, max_concurrency=3) as store,
    ):
        proxy.inject(HANG, path="partNumber=2")
        put = asyncio.ensure_future(store.put(f"s3://{bucket}/big", blob))
        for _ in range(400):
            if len(_part_requests(proxy)) >= 3:
                break
            await asyncio.sleep(0.025)
        put.cancel()
        with pytest.raises(asyncio.CancelledError):
            await put
        await _nothing_left(admin, bucket, "big")
