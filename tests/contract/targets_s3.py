"""Contract targets for ``S3Raw``: on moto and on SeaweedFS, each on the fast path (requests
signed by the store on aiohttp) and the slow one (aiobotocore), each test in a fresh bucket.

Also home of the small S3 helpers the S3 tests share: an admin client (plain aiobotocore, so
setup and checks do not depend on the code under test) and :func:`fresh_bucket`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from asyncbitstore import S3Raw

from .target import Target

TARGETS = ["s3_moto", "s3_seaweed", "s3_moto_slow", "s3_seaweed_slow"]

_serial = itertools.count()

INVALID_S3_URIS = [
    "s3://", "s3://bkt", "s3://bkt/", "xx://a/b", "", "s3:/bkt/key", "S3://bkt/key",
    "s3://bad bucket/key", "s3://bkt/a/../b", "s3://bkt/./b", "s3://bkt/..",
    "s3://bkt/" + "k" * 1025, "mem://bkt/key", "/abs/path",
]  # fmt: skip


@asynccontextmanager
async def admin_client(endpoint: str) -> AsyncIterator[Any]:
    """A plain aiobotocore client with the test credentials, for setup and out-of-band checks."""
    config = AioConfig(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    async with get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as client:
        yield client


async def drop_bucket(client: Any, bucket: str) -> None:
    """Delete every object and pending upload in ``bucket``, then the bucket."""
    uploads = await client.list_multipart_uploads(Bucket=bucket)
    for upload in uploads.get("Uploads", []):
        await client.abort_multipart_upload(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    async for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            await client.delete_object(Bucket=bucket, Key=item["Key"])
    await client.delete_bucket(Bucket=bucket)


@asynccontextmanager
async def fresh_bucket(endpoint: str) -> AsyncIterator[tuple[str, Any]]:
    """A new, empty bucket (and the admin client), removed with its contents afterwards."""
    bucket = f"t{os.getpid()}-{next(_serial)}"
    async with admin_client(endpoint) as client:
        await client.create_bucket(Bucket=bucket)
        try:
            yield bucket, client
        finally:
            await drop_bucket(client, bucket)


@asynccontextmanager
async def _target(endpoint: str, *, fast_path: bool = True) -> AsyncIterator[Target]:
    store = S3Raw(endpoint_url=endpoint, fast_path=fast_path)
    async with fresh_bucket(endpoint) as (bucket, _), store:
        yield Target(
            store,
            lambda name: f"s3://{bucket}/c/{name}",
            f"s3://{bucket}/c/",
            invalid=INVALID_S3_URIS,
        )


@pytest.fixture
async def contract_s3_moto(moto_server: Any) -> AsyncIterator[Target]:
    async with _target(moto_server.url) as target:
        yield target


@pytest.fixture
async def contract_s3_seaweed(seaweed_server: Any) -> AsyncIterator[Target]:
    async with _target(seaweed_server.url) as target:
        yield target


@pytest.fixture
async def contract_s3_moto_slow(moto_server: Any) -> AsyncIterator[Target]:
    async with _target(moto_server.url, fast_path=False) as target:
        yield target


@pytest.fixture
async def contract_s3_seaweed_slow(seaweed_server: Any) -> AsyncIterator[Target]:
    async with _target(seaweed_server.url, fast_path=False) as target:
        yield target
