"""On the fast path, a whole-object `get` starts with one plain GET bounded below the threshold.

An object smaller than ``parallel_threshold`` comes whole in one answer with no ``Range``
header; a larger one has its plain GET refused from the announced length alone (the body is
never read) and is then read as ranges pinned to the first ranged answer's ETag. The botocore
path keeps its ranged first request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import Retry, S3Raw, StoreNotAvailable
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import FaultProxy, Seen
from tests.hostile import Scripted

MiB = 1 << 20
PART = 5 * MiB
FAST = Retry(attempts=3, base=0.01, cap=0.02)
_RANGE = re.compile(rb"\r\nrange: bytes=(\d+)-(\d+)", re.IGNORECASE)


@pytest.fixture
async def proxied(moto_server: Any) -> AsyncIterator[tuple[FaultProxy, str, Any]]:
    async with FaultProxy(str(moto_server.url)) as proxy, fresh_bucket(moto_server.url) as found:
        yield proxy, *found


def _gets(proxy: FaultProxy, since: int) -> list[Seen]:
    return [seen for seen in proxy.requests[since:] if seen.method == "GET"]


def _ranged(seen: Seen) -> bool:
    return any(name.lower() == "range" for name in seen.headers)


@pytest.mark.servers
async def test_a_small_object_is_one_plain_get(proxied: tuple[FaultProxy, str, Any]) -> None:
    proxy, bucket, client = proxied
    data = os.urandom(4096)
    async with S3Raw(endpoint_url=proxy.url, retry=FAST) as store:
        uri = f"s3://{bucket}/small"
        await client.put_object(Bucket=bucket, Key="small", Body=data)
        before = len(proxy.requests)
        assert await store.get(uri) == data
        assert await store.get(f"s3://{bucket}/small", stored=True) == data
        gets = _gets(proxy, before)
    assert len(gets) == 2
    assert not any(_ranged(seen) for seen in gets)
    assert all(seen.status == 200 for seen in gets)


@pytest.mark.servers
async def test_an_object_below_the_threshold_is_one_request(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, bucket, client = proxied
    data = os.urandom(20 * MiB)
    async with S3Raw(endpoint_url=proxy.url, retry=FAST, parallel_threshold=32 * MiB) as store:
        uri = f"s3://{bucket}/medium"
        await client.put_object(Bucket=bucket, Key="medium", Body=data)
        before = len(proxy.requests)
        assert await store.get(uri) == data
        gets = _gets(proxy, before)
    assert len(gets) == 1
    assert not _ranged(gets[0])


@pytest.mark.servers
async def test_an_object_above_the_threshold_is_one_refused_get_then_pinned_ranges(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, bucket, client = proxied
    data = os.urandom(3 * PART + 11)
    options: dict[str, Any] = {"part_size": PART, "parallel_threshold": 2 * PART}
    async with S3Raw(endpoint_url=proxy.url, retry=FAST, **options) as store:
        uri = f"s3://{bucket}/large"
        await client.put_object(Bucket=bucket, Key="large", Body=data)
        before = len(proxy.requests)
        assert await store.get(uri) == data
        gets = _gets(proxy, before)
    plain, first, *rest = gets
    assert not _ranged(plain)
    assert first.headers.get("Range") == f"bytes=0-{PART - 1}"
    assert "If-Match" not in first.headers
    assert {seen.headers["Range"] for seen in rest} == {
        f"bytes={PART}-{2 * PART - 1}",
        f"bytes={2 * PART}-{3 * PART - 1}",
        f"bytes={3 * PART}-{3 * PART + 10}",
    }
    assert len(rest) == 3
    assert {seen.headers.get("If-Match") for seen in rest} == {
        f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
    }


@pytest.mark.servers
async def test_an_object_over_max_object_bytes_is_refused_as_before(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, bucket, client = proxied
    options: dict[str, Any] = {"part_size": PART, "parallel_threshold": 2 * PART}
    async with S3Raw(endpoint_url=proxy.url, retry=FAST, max_object_bytes=MiB, **options) as store:
        uri = f"s3://{bucket}/over"
        await client.put_object(Bucket=bucket, Key="over", Body=os.urandom(MiB + 1))
        before = len(proxy.requests)
        with pytest.raises(StoreNotAvailable, match=f"{MiB + 1} bytes, more than max_object_bytes"):
            await store.get(uri)
        assert len(_gets(proxy, before)) == 1
        await client.put_object(Bucket=bucket, Key="over", Body=os.urandom(3 * PART))
        with pytest.raises(StoreNotAvailable, match=f"{3 * PART} bytes, more than max_object"):
            await store.get(uri)


@pytest.mark.servers
async def test_botocores_path_still_starts_with_a_range(
    proxied: tuple[FaultProxy, str, Any],
) -> None:
    proxy, bucket, client = proxied
    async with S3Raw(endpoint_url=proxy.url, retry=FAST, fast_path=False) as store:
        uri = f"s3://{bucket}/small"
        await client.put_object(Bucket=bucket, Key="small", Body=b"tiny")
        before = len(proxy.requests)
        assert await store.get(uri) == b"tiny"
        gets = _gets(proxy, before)
    assert len(gets) == 1
    assert _ranged(gets[0])


BODY = os.urandom(2 * PART + 1000)
ETAG = f'"{hashlib.md5(BODY, usedforsecurity=False).hexdigest()}"'


def _partial(start: int, last: int) -> bytes:
    piece = BODY[start : last + 1]
    head = (
        f"HTTP/1.1 206 Partial Content\r\nContent-Length: {len(piece)}\r\n"
        f"Content-Range: bytes {start}-{last}/{len(BODY)}\r\nETag: {ETAG}\r\n\r\n"
    )
    return head.encode() + piece


def _announcing(length: int) -> tuple[Scripted, list[int]]:
    """A server whose plain GETs announce ``length`` bytes and send none of them (reading
    them would hang); it notes the connections the client closed after such an answer."""
    dropped: list[int] = []

    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while head := await server.head(reader):
            found = _RANGE.search(head)
            if found is not None:
                writer.write(_partial(int(found[1]), int(found[2])))
                await writer.drain()
                continue
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nETag: {ETAG}\r\n\r\n".encode()
            )
            await writer.drain()
            if await reader.read(1) == b"":
                dropped.append(n)
            return

    return Scripted(handler), dropped


def _hostile_store(server: Scripted) -> S3Raw:
    options: dict[str, Any] = {"part_size": PART, "parallel_threshold": PART, "retry": FAST}
    return S3Raw.anonymous(endpoint_url=f"http://{server.authority}", request_timeout=10, **options)


async def test_a_plain_get_announcing_more_than_the_threshold_has_no_body_read() -> None:
    server, dropped = _announcing(len(BODY))
    async with server, _hostile_store(server) as store:
        assert await asyncio.wait_for(store.get("s3://bucket/key"), 30) == BODY
    assert not _RANGE.search(server.requests[0])
    assert dropped == [1]
    assert [bool(_RANGE.search(head)) for head in server.requests[1:]] == [True] * 3


async def test_a_plain_get_announcing_a_huge_length_is_refused_unread() -> None:
    server, dropped = _announcing(1 << 50)
    async with server, _hostile_store(server) as store:
        with pytest.raises(StoreNotAvailable, match="more than max_object_bytes"):
            await asyncio.wait_for(store.get("s3://bucket/key"), 30)
    assert len(server.requests) == 1
    assert not _RANGE.search(server.requests[0])
    assert dropped == [1]
