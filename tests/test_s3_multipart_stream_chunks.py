"""A streamed multipart put copies each chunk as it arrives, so a producer may reuse its buffer.

The parts are built in buffers of their own and sent as views of them; a producer yielding
one bytearray refilled between chunks, or memoryviews of any shape, still stores its bytes.
"""

from __future__ import annotations

import array
from collections.abc import AsyncIterator
from typing import Any

from asyncbitstore import S3Raw
from tests.contract.targets_s3 import fresh_bucket

MiB = 1 << 20
PART = 5 * MiB


async def test_a_reused_buffer_and_odd_views_are_stored_as_they_were(moto_server: Any) -> None:
    expected = bytearray()

    async def produce() -> AsyncIterator[Any]:
        buffer = bytearray(MiB)
        for n in range(12):
            buffer[:] = bytes([n]) * MiB  # the same buffer, refilled
            expected.extend(buffer)
            yield buffer
        strided = memoryview(bytes(range(256)) * 8)[::2]  # not contiguous
        expected.extend(strided.tobytes())
        yield strided
        words = memoryview(array.array("I", range(1000)))  # items of 4 bytes
        expected.extend(words.tobytes())
        yield words

    async with (
        fresh_bucket(moto_server.url) as (bucket, _),
        S3Raw(endpoint_url=moto_server.url, part_size=PART, max_concurrency=2) as store,
    ):
        await store.put(f"s3://{bucket}/s", produce())
        assert await store.get(f"s3://{bucket}/s") == bytes(expected)
