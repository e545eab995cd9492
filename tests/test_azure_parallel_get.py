"""A large Azure blob is read as parallel ranges, all pinned to the first answer's ETag.

On Azurite, through a counting proxy: `get` begins with one ranged request of ``block_size``
bytes and `stream` with the SDK's first piece (``block_size``, 4 MiB at least); a small blob
stops there, and a large one goes on with ranges asked with
``If-Match``; the blob's ``Content-MD5`` is still checked over the whole blob; a blob replaced
between two ranges raises `ObjectChanged`; ``parallel_threshold=None`` reads a blob of up to
one SDK piece in one request.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import AzureRaw, InvalidDataFound, ObjectChanged, Retry
from tests.faults import CORRUPT, FaultProxy, Seen
from tests.pinned_probes import CountsPinned, OverwritesFirst
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, LOOPBACK, AzuriteServer

pytestmark = pytest.mark.servers

KiB, MiB = 1 << 10, 1 << 20
PART = MiB
PIECE = 4 * MiB  # the SDK's first piece of a stream, with a block_size below it
FAST = Retry(attempts=3, base=0.01, cap=0.02)
ROOT = Path(__file__).resolve().parents[1]


class Counting(CountsPinned, AzureRaw):
    """Counts the pinned ranges asked, and the most in flight at once."""


class Overwriting(OverwritesFirst, Counting):
    """Replaces the blob on the server before its first pinned range is asked."""

    writer: AzureRaw


@pytest.fixture
async def container(azurite_server: AzuriteServer) -> str:
    name = f"par-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, name)
    return name


@pytest.fixture
async def proxy(azurite_server: AzuriteServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(f"http://{LOOPBACK}:{azurite_server.port}") as running:
        yield running


@pytest.fixture
async def writer(azurite_server: AzuriteServer) -> AsyncIterator[AzureRaw]:
    """A store that writes without the proxy (which would forward large bodies as raw bytes,
    which aiohttp warns of)."""
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url, block_size=MiB) as raw:
        yield raw


def _store(cls: type[Counting], proxy: FaultProxy, **options: Any) -> Counting:
    options = {"block_size": PART, "parallel_threshold": 2 * PART, "retry": FAST, **options}
    store = cls(AZURITE_KEY, account_url=f"{proxy.url}/{AZURITE_ACCOUNT}", **options)
    store.pinned = []
    return store


def _gets(proxy: FaultProxy, since: int = 0) -> list[Seen]:
    return [seen for seen in proxy.requests[since:] if seen.method == "GET"]


def _range(seen: Seen) -> str | None:
    return seen.headers.get("x-ms-range") or seen.headers.get("Range")


async def _stream(store: AzureRaw, uri: str, chunk_size: int = 64 * KiB) -> list[bytes]:
    async with aclosing(store.stream(uri, chunk_size)) as chunks:
        return [chunk async for chunk in chunks]


async def test_a_large_get_is_ranges_pinned_to_the_first_etag(
    proxy: FaultProxy, writer: AzureRaw, container: str
) -> None:
    data = os.urandom(5 * PART + 123)
    uri = f"az://{container}/big"
    await writer.put(uri, data)
    etag = (await writer.head(uri)).etag
    async with _store(Counting, proxy, max_concurrency=3) as store:
        assert await store.get(uri) == data
        gets = _gets(proxy)
        assert len(gets) == 6
        assert _range(gets[0]) == f"bytes=0-{PART - 1}"
        assert "If-Match" not in gets[0].headers
        assert all(seen.headers.get("If-Match") == etag for seen in gets[1:])
        assert sorted(store.pinned) == [
            (PART * i, min(PART * (i + 1), len(data)), etag) for i in range(1, 6)
        ]
        assert 1 < store.most <= 3
        store.pinned.clear()
        assert await store.get(uri, stored=True) == data
        chunks = await _stream(store, uri)
        assert b"".join(chunks) == data
        assert max(len(chunk) for chunk in chunks) <= 64 * KiB
        streamed = [(a, b) for a, b, _ in store.pinned[5:]]
        assert streamed == [(PIECE, PIECE + PART), (PIECE + PART, len(data))]


async def test_small_blobs_take_one_request_and_medium_ones_two(
    proxy: FaultProxy, writer: AzureRaw, container: str
) -> None:
    medium, small = os.urandom(PART + 7), b"small"
    for name, body in (("m", medium), ("s", small), ("e", b"")):
        await writer.put(f"az://{container}/{name}", body)
    async with _store(Counting, proxy) as store:
        assert await store.get(f"az://{container}/m") == medium
        assert [(a, b) for a, b, _ in store.pinned] == [(PART, PART + 7)]
        assert len(_gets(proxy)) == 2
        before = len(proxy.requests)
        assert await store.get(f"az://{container}/s") == small
        assert len(proxy.requests) - before == 1
        assert await store.get(f"az://{container}/e") == b""
        assert b"".join(await _stream(store, f"az://{container}/m")) == medium
        assert b"".join(await _stream(store, f"az://{container}/e")) == b""
        assert len(store.pinned) == 1


async def test_without_a_threshold_a_blob_of_one_piece_is_one_request(
    proxy: FaultProxy, writer: AzureRaw, container: str
) -> None:
    data = os.urandom(3 * MiB)
    uri = f"az://{container}/big"
    await writer.put(uri, data)
    async with _store(Counting, proxy, parallel_threshold=None) as store:
        assert await store.get(uri) == data
        assert b"".join(await _stream(store, uri)) == data
        assert len(proxy.requests) == 2
        assert store.pinned == []


async def test_a_compressed_large_blob_is_decoded_from_its_assembled_stored_form(
    proxy: FaultProxy, writer: AzureRaw, container: str
) -> None:
    data = os.urandom(3 * PART)
    uri = f"az://{container}/z"
    await writer.put(uri, data, compress="gzip")
    async with _store(Counting, proxy) as store:
        assert await store.get(uri) == data
        assert b"".join(await _stream(store, uri)) == data
        assert store.pinned


@pytest.mark.parametrize("read", ["get", "stream"])
async def test_a_damaged_range_fails_the_whole_blob_md5(
    proxy: FaultProxy, writer: AzureRaw, container: str, read: str
) -> None:
    data = os.urandom(PIECE + 2 * PART)
    uri = f"az://{container}/big"
    await writer.put(uri, data)  # the block list's commit stores the Content-MD5
    async with _store(Counting, proxy, retry=Retry(attempts=1)) as store:
        damaged = proxy.inject(CORRUPT, first=1, methods={"GET"})
        with pytest.raises(InvalidDataFound, match="Content-MD5"):
            if read == "get":
                await store.get(uri)
            else:
                await _stream(store, uri)
        assert damaged.injected == 1
        assert store.pinned


@pytest.mark.parametrize("read", ["get", "stream"])
async def test_a_blob_replaced_between_ranges_raises_object_changed(
    proxy: FaultProxy, writer: AzureRaw, container: str, read: str
) -> None:
    old, new = os.urandom(PIECE + 2 * PART), os.urandom(PIECE + 2 * PART)
    uri = f"az://{container}/moving"
    await writer.put(uri, old)
    etag = (await writer.head(uri)).etag
    async with _store(Overwriting, proxy) as store:
        assert isinstance(store, Overwriting)
        store.writer, store.replacement = writer, new
        with pytest.raises(ObjectChanged) as raised:
            if read == "get":
                await store.get(uri)
            else:
                await _stream(store, uri)
        assert raised.value.version == etag
        assert AZURITE_KEY not in str(raised.value)
        assert await store.get(uri) == new


async def test_a_stream_reads_a_bounded_number_of_ranges_ahead(
    proxy: FaultProxy, writer: AzureRaw, container: str
) -> None:
    data = os.urandom(PIECE + 8 * PART)
    uri = f"az://{container}/long"
    await writer.put(uri, data)
    async with _store(Counting, proxy, max_concurrency=2) as store:
        got = []
        async with aclosing(store.stream(uri, PART)) as chunks:
            async for chunk in chunks:
                got.append(chunk)
                if len(got) == PIECE // PART + 2:
                    await asyncio.sleep(0.3)  # the ranges ahead have time to come in
                    # two ranges yielded after the first answer's piece, two ahead
                    assert len(store.pinned) == 2 + 2
        assert b"".join(got) == data
        assert [first for first, _, _ in store.pinned] == [PIECE + PART * i for i in range(8)]
        assert store.most <= 2


_CHILD = """
import asyncio, json, sys
from asyncbitstore import AzureRaw

def kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

async def main(url, key, uri, small, options):
    async with AzureRaw(key, account_url=url, **json.loads(options)) as store:
        await store.get(small)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before = kib("VmRSS")
        data = await store.get(uri)
        print(len(data), kib("VmHWM") - before)

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.slow
async def test_a_parallel_get_holds_the_blob_and_its_ranges_in_flight(
    azurite_server: AzuriteServer, writer: AzureRaw, container: str
) -> None:
    size, part, concurrency = 64 * MiB, 4 * MiB, 4
    uri, small = f"az://{container}/big", f"az://{container}/small"
    await writer.put(uri, os.urandom(MiB) * (size // MiB))
    await writer.put(small, b"warm-up")
    options = json.dumps({"block_size": part, "max_concurrency": concurrency})
    args = [sys.executable, "-c", _CHILD, azurite_server.url, AZURITE_KEY, uri, small, options]
    done = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    read, grown = map(int, done.stdout.split())
    assert read == size
    # The blob's buffer, and each range in flight at most three times over (received,
    # joined, being copied in): never a second blob.
    assert grown < size + 3 * concurrency * part, f"the get grew the peak by {grown} bytes"


async def test_without_verification_damaged_ranges_are_not_checked(
    proxy: FaultProxy, writer: AzureRaw, container: str
) -> None:
    data = os.urandom(PIECE + 2 * PART)
    uri = f"az://{container}/loose"
    await writer.put(uri, data)
    async with _store(Counting, proxy, verify_checksums=False) as store:
        proxy.inject(CORRUPT, first=1, methods={"GET"})
        got = await store.get(uri)
        proxy.inject(CORRUPT, first=1, methods={"GET"})
        streamed = b"".join(await _stream(store, uri))
    assert len(got) == len(streamed) == len(data)
    assert got != data and streamed != data
