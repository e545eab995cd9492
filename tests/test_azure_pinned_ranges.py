"""AzureRaw's ranged spans and pinned ranges (on Azurite).

A ranged read returns the blob's frame mark (kept in its metadata by every put), its ETag and
its whole length, so a range of a marked blob costs one request; later ranges are read with
``If-Match`` on that ETag, and a replaced or deleted blob answers `ObjectChanged`.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asyncbitstore import AzureRaw, CompressedRange, ObjectChanged, Retry, StoreNotAvailable
from tests.faults import STATUS, FaultProxy
from tests.servers import AZURITE_KEY, LOOPBACK, AzuriteServer

pytestmark = pytest.mark.servers

DATA = os.urandom(1000)
FAST = Retry(attempts=4, base=0.01, cap=0.05)


@pytest.fixture
async def container(azurite_server: AzuriteServer) -> str:
    name = f"p-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, name)
    return name


@pytest.fixture
async def store(azurite_server: AzuriteServer) -> AsyncIterator[AzureRaw]:
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url, retry=FAST) as raw:
        yield raw


@pytest.fixture
async def proxied(azurite_server: AzuriteServer) -> AsyncIterator[tuple[FaultProxy, AzureRaw]]:
    async with FaultProxy(f"http://{LOOPBACK}:{azurite_server.port}") as proxy:
        url = f"{proxy.url}/{azurite_server.url.rsplit('/', 1)[1]}"
        async with AzureRaw(AZURITE_KEY, account_url=url, retry=FAST) as raw:
            yield proxy, raw


async def _first(store: AzureRaw, uri: str, first: int, last: int) -> Any:
    return await store._stored_span(uri, store._locate(uri), first, last, first, last)


async def test_the_first_span_names_etag_mark_and_whole_length(
    store: AzureRaw, container: str
) -> None:
    uri = f"az://{container}/obj"
    await store.put(uri, DATA)
    span = await _first(store, uri, 0, 300)
    assert span.data == DATA[:300]
    assert span.total == len(DATA)
    assert span.version == (await store.head(uri)).etag
    assert span.frame == "none"
    assert AzureRaw._range_spans and AzureRaw._pinned_ranges


async def test_pinned_ranges_of_one_etag_rebuild_the_blob(store: AzureRaw, container: str) -> None:
    uri = f"az://{container}/obj"
    await store.put(uri, DATA)
    where = store._locate(uri)
    span = await _first(store, uri, 0, 300)
    cuts = [(300, 600), (600, 900), (900, 1000)]
    parts = await asyncio.gather(
        *(store._pinned_range(uri, where, a, b, span.version) for a, b in cuts)
    )
    assert span.data + b"".join(parts) == DATA
    assert await store._pinned_range(uri, where, 950, 1300, span.version) == DATA[950:]
    assert await store._pinned_range(uri, where, 400, 400, span.version) == b""


@pytest.mark.parametrize("change", ["replace", "delete"])
async def test_a_changed_blob_answers_object_changed(
    store: AzureRaw, container: str, change: str
) -> None:
    uri = f"az://{container}/obj"
    await store.put(uri, DATA)
    span = await _first(store, uri, 0, 300)
    await (store.put(uri, DATA[::-1]) if change == "replace" else store.delete(uri))
    with pytest.raises(ObjectChanged) as caught:
        await store._pinned_range(uri, store._locate(uri), 300, 600, span.version)
    assert caught.value.version == span.version
    assert isinstance(caught.value, StoreNotAvailable)
    assert AZURITE_KEY not in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is ObjectChanged and again.version == span.version


async def test_an_empty_blob_has_a_span_with_total_and_etag(
    store: AzureRaw, container: str
) -> None:
    uri = f"az://{container}/empty"
    await store.put(uri, b"")
    span = await _first(store, uri, 0, 300)
    assert (span.data, span.total) == (b"", 0)
    assert span.version == (await store.head(uri)).etag
    assert await store.get_range(uri, 0, 0) == b""


async def test_the_frame_mark_is_kept_but_not_shown_as_user_metadata(
    store: AzureRaw, container: str
) -> None:
    uri = f"az://{container}/obj"
    await store.put(uri, DATA, compress="gzip", metadata={"source-id": "7"})
    assert (await store.head(uri)).metadata == {"source-id": "7"}
    assert (await _first(store, uri, 0, 10)).frame == "gzip"
    assert await store.get(uri) == DATA


async def test_ranges_cost_one_request(
    proxied: tuple[FaultProxy, AzureRaw], container: str
) -> None:
    proxy, store = proxied
    packed, plain = f"az://{container}/packed", f"az://{container}/plain"
    await store.put(packed, DATA, compress="gzip")
    await store.put(plain, DATA)
    before = len(proxy.requests)
    with pytest.raises(CompressedRange):
        await store.get_range(packed, 100, 200)
    assert await store.get_range(plain, 100, 200) == DATA[100:200]
    assert len(proxy.requests) - before == 2


async def test_pinned_reads_are_retried_but_a_change_is_not(
    proxied: tuple[FaultProxy, AzureRaw], container: str
) -> None:
    proxy, store = proxied
    uri = f"az://{container}/obj"
    await store.put(uri, DATA)
    where = store._locate(uri)
    span = await _first(store, uri, 0, 300)
    failed = proxy.inject(STATUS, status=503, first=2, methods={"GET"})
    assert await store._pinned_range(uri, where, 300, 700, span.version) == DATA[300:700]
    assert failed.injected == 2
    assert proxy.requests[-1].headers.get("If-Match") == span.version
    await store.put(uri, DATA[::-1])
    before = len(proxy.requests)
    with pytest.raises(ObjectChanged):
        await store._pinned_range(uri, where, 300, 700, span.version)
    assert len(proxy.requests) == before + 1


async def test_a_pinned_range_longer_than_one_sdk_piece(
    azurite_server: AzuriteServer, store: AzureRaw, container: str
) -> None:
    uri = f"az://{container}/big"
    big = os.urandom(5 * 1024 * 1024 + 3)  # past the SDK's 4 MiB download piece
    where = store._locate(uri)
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url, block_size=1 << 20) as up:
        await up.put(uri, big)  # in 1 MiB blocks: aiohttp warns of larger raw-bytes bodies
        span = await _first(store, uri, 0, 10)
        assert span.total == len(big)
        assert await store._pinned_range(uri, where, 10, len(big), span.version) == big[10:]
        await up.put(uri, big[::-1])
    with pytest.raises(ObjectChanged):
        await store._pinned_range(uri, where, 10, len(big), span.version)
