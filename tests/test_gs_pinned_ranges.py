"""GSRaw's pinned ranges: the first span names the object's generation and whole length, and
every later range is read from exactly that generation (on fake-gcs-server).

A replaced or deleted object answers `ObjectChanged` to a pinned read, never bytes of the new
generation. fake-gcs-server honours ``generation=`` on a media GET (an old generation is a 404,
as on a bucket without versioning) but ignores ``ifGenerationMatch`` there, which is one reason
the pinned read asks for the generation itself.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import GSRaw, ObjectChanged, Retry, StoreNotAvailable
from tests.faults import STATUS, FaultProxy
from tests.servers import FakeGCSServer

pytestmark = pytest.mark.servers

DATA = os.urandom(1000)
FAST = Retry(attempts=4, base=0.01, cap=0.05)


@pytest.fixture
async def bucket(gcs_server: FakeGCSServer) -> str:
    name = f"pin-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(gcs_server.create_bucket, name)
    return name


@pytest.fixture
async def store(gcs_server: FakeGCSServer) -> AsyncIterator[GSRaw]:
    async with GSRaw(api_root=gcs_server.url, retry=FAST) as raw:
        yield raw


async def _first(store: GSRaw, uri: str, first: int, last: int) -> Any:
    return await store._stored_span(uri, store._locate(uri), first, last, first, last)


async def test_the_first_span_names_generation_and_whole_length(store: GSRaw, bucket: str) -> None:
    uri = f"gs://{bucket}/obj"
    await store.put(uri, DATA)
    span = await _first(store, uri, 0, 300)
    assert span.data == DATA[:300]
    assert span.total == len(DATA)
    assert span.version == (await store.head(uri)).version
    assert span.frame == "none"
    assert GSRaw._pinned_ranges is True


async def test_pinned_ranges_of_one_generation_rebuild_the_object(
    store: GSRaw, bucket: str
) -> None:
    uri = f"gs://{bucket}/obj"
    await store.put(uri, DATA)
    where = store._locate(uri)
    span = await _first(store, uri, 0, 300)
    assert span.version is not None
    cuts = [(300, 600), (600, 900), (900, 1000)]
    parts = await asyncio.gather(
        *(store._pinned_range(uri, where, a, b, span.version) for a, b in cuts)
    )
    assert span.data + b"".join(parts) == DATA
    # A last range asked past the end holds what is left.
    assert await store._pinned_range(uri, where, 950, 1300, span.version) == DATA[950:]
    assert await store._pinned_range(uri, where, 400, 400, span.version) == b""


async def test_a_replaced_object_answers_object_changed(store: GSRaw, bucket: str) -> None:
    uri = f"gs://{bucket}/obj"
    await store.put(uri, DATA)
    span = await _first(store, uri, 0, 300)
    assert span.version is not None
    await store.put(uri, DATA[::-1])
    with pytest.raises(ObjectChanged) as caught:
        await store._pinned_range(uri, store._locate(uri), 300, 600, span.version)
    assert caught.value.version == span.version
    assert isinstance(caught.value, StoreNotAvailable)
    assert uri in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is ObjectChanged and again.version == span.version


async def test_a_deleted_object_answers_object_changed(store: GSRaw, bucket: str) -> None:
    uri = f"gs://{bucket}/obj"
    await store.put(uri, DATA)
    span = await _first(store, uri, 0, 300)
    assert span.version is not None
    await store.delete(uri)
    with pytest.raises(ObjectChanged):
        await store._pinned_range(uri, store._locate(uri), 300, 600, span.version)


async def test_an_empty_object_has_a_span_with_total_and_generation(
    store: GSRaw, bucket: str
) -> None:
    uri = f"gs://{bucket}/empty"
    await store.put(uri, b"")
    span = await _first(store, uri, 0, 300)
    assert span.data == b""
    assert span.total == 0
    assert span.version == (await store.head(uri)).version


async def test_pinned_reads_are_retried_but_a_change_is_not(
    gcs_server: FakeGCSServer, bucket: str
) -> None:
    uri = f"gs://{bucket}/obj"
    async with (
        FaultProxy(gcs_server.url) as proxy,
        GSRaw(api_root=proxy.url, retry=FAST) as store,
    ):
        await store.put(uri, DATA)
        where = store._locate(uri)
        span = await _first(store, uri, 0, 300)
        assert span.version is not None
        failed = proxy.inject(STATUS, status=503, first=2, methods={"GET"})
        assert await store._pinned_range(uri, where, 300, 700, span.version) == DATA[300:700]
        assert failed.injected == 2
        media = [s for s in proxy.requests if "alt=media" in s.path]
        assert f"generation={span.version}" in media[-1].path
        await store.put(uri, DATA[::-1])
        before = len(proxy.requests)
        with pytest.raises(ObjectChanged):
            await store._pinned_range(uri, where, 300, 700, span.version)
        assert len(proxy.requests) == before + 1
