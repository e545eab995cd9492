"""A whole-object GCS read lands in one buffer sized from Content-Length.

aiohttp's ``read`` keeps every piece and then joins them: two bodies of memory at the end of a
large read. `GSRaw` copies the pieces into one buffer as they arrive, so the peak stays near one
body; the framing rules are aiohttp's still (a body cut short is an error, never data).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import GSRaw, Retry, StoreNotAvailable
from tests.hostile import Scripted
from tests.servers import FakeGCSServer

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("_gcs_rss.py")
QUICK = Retry(attempts=2, base=0.01, cap=0.02)


async def test_a_large_get_grows_memory_by_about_one_object(gcs_server: FakeGCSServer) -> None:
    size = 64 * MiB
    bucket = f"rss-{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(gcs_server.create_bucket, bucket)
    warm, big = f"gs://{bucket}/warm", f"gs://{bucket}/big"
    async with GSRaw(api_root=gcs_server.url) as store:
        await store.put(warm, b"w" * 1000)
        await store.put(big, os.urandom(MiB) * (size // MiB))
        del store  # nothing of the upload is kept here
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    single = '{"parallel_threshold": null}'  # one request: a parallel read holds its ranges too
    command = [sys.executable, str(PROBE), gcs_server.url, warm, big, single]
    done = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    read, grown = map(int, done.stdout.split())
    assert read == size
    assert grown < 1.5 * size, f"reading {size} bytes grew the peak by {grown} bytes"


def _answer(head: bytes, body: bytes, *, close: bool) -> Any:
    async def handler(server: Scripted, reader: Any, writer: Any, n: int) -> None:
        while await server.head(reader):
            writer.write(head + body)
            await writer.drain()
            if close:
                return

    return handler


async def _get(handler: Any, uri: str) -> tuple[bytes | BaseException, int]:
    """What `GSRaw.get` of ``uri`` gives (or raises) against ``handler``, and how many
    connections it made."""
    async with (
        Scripted(handler) as server,
        GSRaw(api_root=f"http://{server.authority}", retry=QUICK) as store,
    ):
        try:
            return await store.get(uri), server.connections
        except StoreNotAvailable as exc:
            return exc, server.connections


@pytest.mark.parametrize("sent", [0, 1, 70_000, 99_999])
async def test_a_body_cut_short_is_an_error_never_partial_data(sent: int) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    got, connections = await _get(_answer(head, b"x" * sent, close=True), "gs://bucket/cut")
    assert isinstance(got, StoreNotAvailable)
    assert connections == 2  # read again once, then given up


async def test_an_empty_object_is_read_as_empty() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    assert await _get(_answer(head, b"", close=False), "gs://bucket/empty") == (b"", 1)


async def test_a_chunked_body_without_a_length_is_still_read_whole() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    got = await _get(_answer(head, body, close=False), "gs://bucket/chunked")
    assert got == (b"hello world", 1)
