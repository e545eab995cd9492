"""A stream's time limit holds per chunk: a peer trickling a byte every 50 ms cannot keep one
open.

Each store streams with a 0.5 s time limit from a scripted peer that sends the answer's head and
then one byte of a long body every 50 ms (each read arrives well within the limit, a 64 KiB
chunk never does). The stream must end with ``StoreNotAvailable`` (a ``StoreTimeout`` where the
backend says so) within a few seconds, retries and resumes included.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any

import pytest

from asyncbitstore import StoreNotAvailable
from tests.hostile import Scripted
from tests.reliability.hostile_http import KINDS, parse, store_for

LENGTH = 1 << 20


async def trickle(server: Scripted, reader: Any, writer: Any, n: int) -> None:
    head = await server.head(reader)
    if not head:
        return
    asked = parse(head).range
    first = asked[0] if asked is not None else 0
    status = "206 Partial Content" if asked is not None else "200 OK"
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {LENGTH - first}", 'ETag: "x"']
    if asked is not None:
        lines.append(f"Content-Range: bytes {first}-{LENGTH - 1}/{LENGTH}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    for _ in range(LENGTH - first):
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_trickling_stream_ends_within_a_few_seconds(kind: str) -> None:
    got = 0
    async with Scripted(trickle) as server:
        store, uri = store_for(kind, server, limit=0.5)
        async with store:
            loop = asyncio.get_running_loop()
            began = loop.time()
            with pytest.raises(StoreNotAvailable):
                async with asyncio.timeout(20), aclosing(store.stream(uri, 64 << 10)) as chunks:
                    async for chunk in chunks:
                        got += len(chunk)
            took = loop.time() - began
    assert took < 15, f"the stream lasted {took:.1f} s"
    assert got == 0, "no chunk can have been complete"
