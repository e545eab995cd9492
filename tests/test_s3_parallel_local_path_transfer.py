"""`local_path` and `transfer` of a large S3 object read it as pinned ranges (on moto).

Both go through `stream`, which reads ranges ahead in parallel: the file holds the object's
bytes, appears whole, and an object replaced during the copy leaves no file behind.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import FileRaw, ObjectChanged, Retry, S3Raw, transfer
from tests.contract.targets_s3 import fresh_bucket

pytestmark = pytest.mark.servers

PART = 5 << 20
DATA = os.urandom(3 * PART + 11)


class Pinned(S3Raw):
    """Counts pinned ranges; with ``replacement`` set, overwrites the object before the first."""

    pinned: int = 0
    replacement: bytes | None = None
    client: Any = None

    async def _pinned_range(
        self, uri: str, where: Any, first: int, last: int, version: str, /
    ) -> bytes:
        if self.replacement is not None and not self.pinned:
            bucket, key = where
            await self.client.put_object(Bucket=bucket, Key=key, Body=self.replacement)
        self.pinned += 1
        return await super()._pinned_range(uri, where, first, last, version)


@pytest.fixture
async def s3(moto_server: Any) -> AsyncIterator[tuple[Pinned, str]]:
    store = Pinned(
        endpoint_url=moto_server.url,
        part_size=PART,
        parallel_threshold=PART,
        retry=Retry(attempts=2, base=0.01, cap=0.02),
    )
    async with fresh_bucket(moto_server.url) as (bucket, client), store:
        store.client = client
        await store.put(f"s3://{bucket}/big", DATA)
        yield store, f"s3://{bucket}/"


async def test_local_path_of_a_large_object_reads_pinned_ranges(s3: tuple[Pinned, str]) -> None:
    store, prefix = s3
    async with store.local_path(prefix + "big") as path:
        assert path.read_bytes() == DATA
    assert store.pinned == 3
    assert not path.exists()


async def test_transfer_of_a_large_object_reads_pinned_ranges(
    s3: tuple[Pinned, str], tmp_path: Path
) -> None:
    store, prefix = s3
    async with FileRaw(tmp_path) as files:
        await transfer(store, files, [(prefix + "big", f"{tmp_path}/big")])
    assert (tmp_path / "big").read_bytes() == DATA
    assert store.pinned == 3


async def test_an_object_replaced_during_a_transfer_leaves_no_file(
    s3: tuple[Pinned, str], tmp_path: Path
) -> None:
    store, prefix = s3
    store.replacement = os.urandom(len(DATA))
    async with FileRaw(tmp_path) as files:
        result = await transfer(store, files, [(prefix + "big", f"{tmp_path}/big")])
    assert result.failed == 1
    assert isinstance(result.errors[prefix + "big"], ObjectChanged)
    assert os.listdir(tmp_path) == []
