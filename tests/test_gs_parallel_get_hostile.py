"""A GCS server whose first answer to a ranged whole-object read cannot be trusted.

Scripted servers: a 206 that does not name the object's length is a broken answer (read
again, then `StoreNotAvailable`), never a short object passed off as whole.
"""

from __future__ import annotations

from typing import Any

import pytest

from asyncbitstore import GSRaw, Retry, StoreNotAvailable
from tests.hostile import Scripted

QUICK = Retry(attempts=2, base=0.01, cap=0.02)
PART = 256 << 10


def _first_part_naming(total: str) -> Any:
    """A server answering every GET with the first `PART` bytes of an object whose whole
    length its ``Content-Range`` gives as ``total``."""

    async def answer(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            head = (
                f"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-{PART - 1}/{total}\r\n"
                f"X-Goog-Generation: 7\r\nContent-Length: {PART}\r\n\r\n"
            )
            writer.write(head.encode() + b"x" * PART)
            await writer.drain()

    return answer


async def test_a_first_part_without_the_objects_length_is_never_the_object() -> None:
    async with (
        Scripted(_first_part_naming("*")) as server,
        GSRaw(api_root=f"http://{server.authority}", retry=QUICK, chunk_size=PART) as store,
    ):
        with pytest.raises(StoreNotAvailable, match="length"):
            await store.get("gs://bucket/obj")
        assert len(server.requests) == 2  # read again once, then given up


CLAIMED = 1 << 50  # a petabyte: nothing that big may be allocated on a server's word


async def test_a_claimed_length_past_the_assembly_limit_is_refused_before_allocating() -> None:
    async with (
        Scripted(_first_part_naming(str(CLAIMED))) as server,
        GSRaw(api_root=f"http://{server.authority}", retry=QUICK, chunk_size=PART) as store,
    ):
        with pytest.raises(StoreNotAvailable, match="stream"):
            await store.get("gs://bucket/obj")
        assert len(server.requests) == 1  # the first answer only: no range was asked
