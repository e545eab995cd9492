"""The default read check against real servers: no false alarms, and it does run.

moto's single-part objects carry an MD5 ETag and its multipart ones a ``-N`` ETag (never taken
for an MD5); fake-gcs-server sends ``x-goog-hash``. Every read of a good object passes, and a
body flipped once by the fault proxy is read again and comes back right.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest

from asyncbitstore import GSRaw, Retry, S3Raw, Store
from tests.contract.targets_s3 import fresh_bucket
from tests.faults import CORRUPT, FaultProxy

FAST = Retry(attempts=3, base=0.01, cap=0.02)
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
MiB = 1 << 20


async def _stream(store: Store, uri: str) -> bytes:
    async with aclosing(store.stream(uri, 64 << 10)) as chunks:
        return b"".join([chunk async for chunk in chunks])


@pytest.fixture
async def moto(moto_server: Any) -> AsyncIterator[tuple[FaultProxy, str, Any]]:
    """A FaultProxy in front of moto: (proxy, fresh bucket, admin client)."""
    async with fresh_bucket(moto_server.url) as (name, admin), FaultProxy(moto_server.url) as proxy:
        yield proxy, name, admin


async def _write(endpoint: str, items: dict[str, bytes]) -> None:
    # Straight to moto: the proxy takes request bodies of up to 1 MiB only.
    async with S3Raw(KEYS, endpoint_url=endpoint, part_size=5 * MiB) as writer:
        for uri, data in items.items():
            await writer.put(uri, data)


@pytest.mark.parametrize("fast_path", [True, False])
async def test_single_and_multipart_objects_on_moto_read_clean(
    moto: tuple[FaultProxy, str, Any], fast_path: bool
) -> None:
    proxy, name, admin = moto
    small, large = os.urandom(4096), os.urandom(6 * MiB + 5)
    await _write(
        admin.meta.endpoint_url, {f"s3://{name}/small": small, f"s3://{name}/large": large}
    )
    async with S3Raw(KEYS, endpoint_url=proxy.url, retry=FAST, fast_path=fast_path) as store:
        assert store.verify_checksums
        etags = {
            key: (await admin.head_object(Bucket=name, Key=key))["ETag"]
            for key in ("small", "large")
        }
        assert re.fullmatch(r'"[0-9a-f]{32}"', etags["small"])
        assert re.fullmatch(r'"[0-9a-f]{32}-2"', etags["large"])
        before = proxy.count("GET")
        for key, data in (("small", small), ("large", large)):
            assert await store.get(f"s3://{name}/{key}") == data
            assert await _stream(store, f"s3://{name}/{key}") == data
        assert proxy.count("GET") - before == 4  # no read was repeated

        proxy.inject(CORRUPT, first=1, methods={"GET"})
        assert await store.get(f"s3://{name}/small") == small  # flipped once, read again
        assert proxy.count("GET") - before == 6


@pytest.fixture
async def gcs(gcs_server: Any) -> AsyncIterator[tuple[FaultProxy, str]]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, name)
    async with FaultProxy(gcs_server.url) as proxy:
        yield proxy, name


async def test_objects_on_fake_gcs_server_read_clean(gcs: tuple[FaultProxy, str]) -> None:
    proxy, bucket = gcs
    data = os.urandom(100_000)
    uri = f"gs://{bucket}/blob"
    async with GSRaw(api_root=proxy.url, retry=FAST) as store:
        assert store.verify_checksums
        await store.put(uri, data)
        before = proxy.count("GET")
        assert await store.get(uri) == data
        assert await _stream(store, uri) == data
        assert proxy.count("GET") - before == 2

        proxy.inject(CORRUPT, first=1, methods={"GET"})
        assert await store.get(uri) == data  # flipped once, read again
        assert proxy.count("GET") - before == 4
