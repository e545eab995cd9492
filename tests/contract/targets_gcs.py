"""Contract target for GSRaw on fake-gcs-server: a fresh bucket for every test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import GSRaw
from tests.servers import FakeGCSServer

from .target import Target

TARGETS = ["gcs"]


@pytest.fixture
async def contract_gcs(gcs_server: FakeGCSServer) -> AsyncIterator[Target]:
    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    async with GSRaw(api_root=gcs_server.url) as store:
        yield Target(
            store,
            lambda n: f"gs://{bucket}/blobs/{n}",
            f"gs://{bucket}/blobs/",
            invalid=["gs://", f"gs://{bucket}", f"gs://{bucket}/", "s3://bucket/key",
                     "gs://UPPER/key", "gs://b/key", f"gs://{bucket}/a\nb", f"gs://{bucket}/..",
                     f"gs://{bucket}/" + "x" * 1025, ""],
        )  # fmt: skip
