"""A large GCS object is read as parallel ranges, all of the generation the first answer named.

On fake-gcs-server, through a counting proxy: `get`, `get(stored=True)` and `stream` begin with
one request (a ranged GET for `get`), a small object stops there, and a large one goes on with
ranges asked with ``generation=``; the md5 of the whole object is still checked; an object
stored with a ``Content-Encoding`` is read with one more, plain request; an object replaced
between two ranges raises `ObjectChanged`; ``parallel_threshold=None`` reads in one request.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from asyncbitstore import GSRaw, InvalidDataFound, ObjectChanged, Retry
from tests.faults import CORRUPT, RESET_BODY, FaultProxy, Seen
from tests.pinned_probes import CountsPinned, OverwritesFirst
from tests.servers import FakeGCSServer

pytestmark = pytest.mark.servers

KiB = 1 << 10
PART = 256 * KiB  # the smallest chunk_size GCSRaw takes
FAST = Retry(attempts=3, base=0.01, cap=0.02)
ROOT = Path(__file__).resolve().parents[1]
PROBE = ROOT / "tests" / "raw" / "_gcs_rss.py"


class Counting(CountsPinned, GSRaw):
    """Counts the pinned ranges asked, and the most in flight at once."""


class Overwriting(OverwritesFirst, Counting):
    """Replaces the object on the server before its first pinned range is asked."""

    writer: GSRaw


@pytest.fixture
async def bucket(gcs_server: FakeGCSServer) -> str:
    name = f"par-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, name)
    return name


@pytest.fixture
async def proxy(gcs_server: FakeGCSServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(gcs_server.url) as running:
        yield running


def _store(cls: type[Counting], root: str, **options: Any) -> Counting:
    options = {"chunk_size": PART, "parallel_threshold": 2 * PART, "retry": FAST, **options}
    store = cls(api_root=root, **options)
    store.pinned = []
    return store


def _media(proxy: FaultProxy, since: int = 0) -> list[Seen]:
    return [seen for seen in proxy.requests[since:] if "alt=media" in seen.path]


async def _stream(store: GSRaw, uri: str, chunk_size: int = 64 * KiB) -> list[bytes]:
    async with aclosing(store.stream(uri, chunk_size)) as chunks:
        return [chunk async for chunk in chunks]


async def test_a_large_get_is_ranges_pinned_to_the_first_generation(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(4 * PART + 123)
    uri = f"gs://{bucket}/big"
    async with _store(Counting, proxy.url, max_concurrency=3) as store:
        await store.put(uri, data)
        generation = (await store.head(uri)).version
        before = len(proxy.requests)
        assert await store.get(uri) == data
        media = _media(proxy, before)
        assert media[0].headers.get("Range") == f"bytes=0-{PART - 1}"
        assert "generation=" not in media[0].path
        assert len(media) == 5
        assert all(f"generation={generation}" in seen.path for seen in media[1:])
        assert sorted(store.pinned) == [
            (PART * i, min(PART * (i + 1), len(data)), generation) for i in range(1, 5)
        ]
        assert 1 < store.most <= 3
        store.pinned.clear()
        assert await store.get(uri, stored=True) == data
        chunks = await _stream(store, uri)
        assert b"".join(chunks) == data
        assert max(len(chunk) for chunk in chunks) <= 64 * KiB
        assert len(store.pinned) == 8


async def test_small_objects_take_one_request_and_medium_ones_two(
    proxy: FaultProxy, bucket: str
) -> None:
    medium, small = os.urandom(PART + 7), b"small"
    async with _store(Counting, proxy.url) as store:
        for name, body in (("m", medium), ("s", small), ("e", b"")):
            await store.put(f"gs://{bucket}/{name}", body)
        before = len(proxy.requests)
        assert await store.get(f"gs://{bucket}/m") == medium
        assert [(a, b) for a, b, _ in store.pinned] == [(PART, PART + 7)]
        assert len(_media(proxy, before)) == 2
        before = len(proxy.requests)
        assert await store.get(f"gs://{bucket}/s") == small
        assert len(proxy.requests) - before == 1
        assert await store.get(f"gs://{bucket}/e") == b""
        assert b"".join(await _stream(store, f"gs://{bucket}/m")) == medium
        assert len(store.pinned) == 1


async def test_without_a_threshold_a_read_is_one_request(proxy: FaultProxy, bucket: str) -> None:
    data = os.urandom(3 * PART)
    uri = f"gs://{bucket}/big"
    async with _store(Counting, proxy.url, parallel_threshold=None) as store:
        await store.put(uri, data)
        before = len(proxy.requests)
        assert await store.get(uri) == data
        assert b"".join(await _stream(store, uri)) == data
        media = _media(proxy, before)
        assert len(proxy.requests) - before == len(media) == 2
        assert not any("Range" in seen.headers for seen in media)
        assert store.pinned == []


async def test_a_compressed_large_blob_is_decoded_from_its_assembled_stored_form(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(3 * PART)
    uri = f"gs://{bucket}/z"
    async with _store(Counting, proxy.url) as store:
        await store.put(uri, data, compress="gzip")
        assert await store.get(uri) == data
        assert b"".join(await _stream(store, uri)) == data
        assert store.pinned


async def _upload_encoded(root: str, bucket: str, name: str, body: bytes) -> None:
    """An object stored with ``contentEncoding: gzip``, as other tools upload it."""
    meta = json.dumps({"name": name, "contentEncoding": "gzip"}).encode()
    parts = [
        b"--b\r\nContent-Type: application/json\r\n\r\n" + meta,
        b"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + body,
        b"--b--\r\n",
    ]
    url = f"{root}/upload/storage/v1/b/{bucket}/o?uploadType=multipart"
    headers = {"Content-Type": "multipart/related; boundary=b"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=b"\r\n".join(parts), headers=headers) as response,
    ):
        assert response.status == 200, await response.text()


async def test_an_object_stored_content_encoded_is_read_whole_after_the_first_answer(
    gcs_server: FakeGCSServer, proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(3 * PART)  # incompressible: the stored form is past the threshold
    stored = gzip.compress(data)
    await _upload_encoded(gcs_server.url, bucket, "enc", stored)
    uri = f"gs://{bucket}/enc"
    async with _store(Counting, proxy.url) as store:
        before = len(proxy.requests)
        assert await store.get(uri) == data
        media = _media(proxy, before)
        assert len(media) == 2
        assert "Range" in media[0].headers and "Range" not in media[1].headers
        assert await store.get(uri, stored=True) == stored
        assert b"".join(await _stream(store, uri)) == data
        assert store.pinned == []


@pytest.mark.parametrize("read", ["get", "stream"])
async def test_a_damaged_range_fails_the_whole_object_md5(
    proxy: FaultProxy, bucket: str, read: str
) -> None:
    data = os.urandom(3 * PART)
    uri = f"gs://{bucket}/big"
    async with _store(Counting, proxy.url, retry=Retry(attempts=1)) as store:
        await store.put(uri, data)
        damaged = proxy.inject(CORRUPT, first=1, path="generation=")
        with pytest.raises(InvalidDataFound, match="md5"):
            if read == "get":
                await store.get(uri)
            else:
                await _stream(store, uri)
        assert damaged.injected == 1
        assert store.pinned


@pytest.mark.parametrize("read", ["get", "stream"])
async def test_an_object_replaced_between_ranges_raises_object_changed(
    proxy: FaultProxy, bucket: str, read: str
) -> None:
    old, new = os.urandom(3 * PART), os.urandom(3 * PART)
    uri = f"gs://{bucket}/moving"
    async with (
        GSRaw(api_root=proxy.url, chunk_size=PART) as writer,
        _store(Overwriting, proxy.url) as store,
    ):
        assert isinstance(store, Overwriting)
        store.writer, store.replacement = writer, new
        await writer.put(uri, old)
        generation = (await writer.head(uri)).version
        with pytest.raises(ObjectChanged) as raised:
            if read == "get":
                await store.get(uri)
            else:
                await _stream(store, uri)
        assert raised.value.version == generation
        assert await store.get(uri) == new


async def test_a_stream_reads_a_bounded_number_of_ranges_ahead(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(12 * PART)
    uri = f"gs://{bucket}/long"
    async with _store(Counting, proxy.url, max_concurrency=2) as store:
        await store.put(uri, data)
        got = []
        async with aclosing(store.stream(uri, PART)) as chunks:
            async for chunk in chunks:
                got.append(chunk)
                if len(got) == 3:
                    await asyncio.sleep(0.3)  # the ranges ahead have time to come in
                    # two ranges yielded (the first chunk was the first answer's), two ahead
                    assert len(store.pinned) == 2 + 2
        assert b"".join(got) == data
        assert [first for first, _, _ in store.pinned] == [PART * i for i in range(1, 12)]
        assert store.most <= 2


async def test_a_parallel_get_holds_the_object_and_its_ranges_in_flight(
    gcs_server: FakeGCSServer, bucket: str
) -> None:
    size, part, concurrency = 64 << 20, 4 << 20, 4
    warm, big = f"gs://{bucket}/warm", f"gs://{bucket}/big"
    async with GSRaw(api_root=gcs_server.url) as store:
        await store.put(warm, b"w" * 1000)
        await store.put(big, os.urandom(1 << 20) * (size >> 20))
    options = json.dumps({"chunk_size": part, "max_concurrency": concurrency})
    command = [sys.executable, str(PROBE), gcs_server.url, warm, big, options]
    done = await asyncio.to_thread(
        subprocess.run, command, env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    read, grown = map(int, done.stdout.split())
    assert read == size
    # The object's buffer, and each range in flight at most three times over (received,
    # joined, being copied in): never a second object.
    assert grown < size + 3 * concurrency * part, f"the get grew the peak by {grown} bytes"


async def test_get_with_meta_reads_the_generation_it_names_in_ranges(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(3 * PART + 5)
    uri = f"gs://{bucket}/meta"
    async with _store(Counting, proxy.url) as store:
        await store.put(uri, data)
        got, meta = await store.get_with_meta(uri)
        assert got == data
        assert meta.size == len(data)
        assert {version for _, _, version in store.pinned} == {meta.version}
        before = len(proxy.requests)
        assert await store.get_if_changed(uri, meta) is None
        assert not _media(proxy, before)


async def test_without_verification_damaged_ranges_are_not_checked(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(3 * PART)
    uri = f"gs://{bucket}/loose"
    async with _store(Counting, proxy.url, verify_checksums=False) as store:
        await store.put(uri, data)
        proxy.inject(CORRUPT, first=1, path="generation=")
        got = await store.get(uri)
        proxy.inject(CORRUPT, first=1, path="generation=")
        streamed = b"".join(await _stream(store, uri))
    assert len(got) == len(streamed) == len(data)
    assert got != data and streamed != data


async def test_a_stream_whose_first_answer_breaks_reads_it_all_as_ranges(
    proxy: FaultProxy, bucket: str
) -> None:
    data = os.urandom(3 * PART)
    uri = f"gs://{bucket}/broken"
    async with _store(Counting, proxy.url) as store:
        await store.put(uri, data)
        cut = proxy.inject(RESET_BODY, first=1, keep=0.05, methods={"GET"})
        assert b"".join(await _stream(store, uri)) == data
        assert cut.injected == 1
        assert [first for first, _, _ in store.pinned] == [0, PART, 2 * PART]
