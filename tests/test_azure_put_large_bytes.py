"""A single-request Azure put of a few MiB of bytes (on Azurite), with warnings as errors.

Handed to aiohttp as raw bytes, a body above 1 MiB makes it warn that sending it might block the
event loop; the store's transport hands such bodies over as a stream it sends in pieces, with
the same length announced, and the blob must come out byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
import warnings
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import AzureRaw
from tests.faults import FaultProxy
from tests.servers import AZURITE_KEY, LOOPBACK, AzuriteServer

pytestmark = pytest.mark.servers

_MiB = 1024 * 1024


@pytest.fixture
async def container(azurite_server: AzuriteServer) -> str:
    name = f"w-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, name)
    return name


@pytest.fixture
async def proxied(azurite_server: AzuriteServer) -> AsyncIterator[tuple[FaultProxy, AzureRaw]]:
    async with FaultProxy(f"http://{LOOPBACK}:{azurite_server.port}") as proxy:
        url = f"{proxy.url}/{azurite_server.url.rsplit('/', 1)[1]}"
        async with AzureRaw(AZURITE_KEY, account_url=url) as raw:
            yield proxy, raw


@pytest.fixture
async def store(azurite_server: AzuriteServer) -> AsyncIterator[AzureRaw]:
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url) as raw:
        yield raw


@pytest.mark.parametrize("size", [4 * _MiB, 8 * _MiB, _MiB + 1])
async def test_a_large_bytes_put_raises_no_warning_and_stores_the_bytes(
    store: AzureRaw, container: str, size: int
) -> None:
    uri = f"az://{container}/one-shot.bin"
    body = os.urandom(size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await store.put(uri, body)
    assert await store.get(uri) == body
    assert (await store.head(uri)).size == size


# The proxy itself forwards bodies to Azurite as bytes (aiohttp warns there, not in the store).
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
async def test_the_put_is_one_request_with_its_length_and_md5(
    proxied: tuple[FaultProxy, AzureRaw], container: str
) -> None:
    proxy, store = proxied
    uri = f"az://{container}/one-shot.bin"
    body = os.urandom(4 * _MiB)
    before = len(proxy.requests)
    await store.put(uri, body)
    puts = [seen for seen in proxy.requests[before:] if seen.method == "PUT"]
    assert len(puts) == 1, "a body within block_size goes up in one request"
    headers = {k.lower(): v for k, v in puts[0].headers.items()}
    assert headers.get("content-length") == str(len(body))
    assert "transfer-encoding" not in headers
    md5 = hashlib.md5(body, usedforsecurity=False).digest()
    assert headers.get("content-md5") == base64.b64encode(md5).decode()
    assert await store.get(uri) == body


async def test_bytearray_and_memoryview_bodies_go_up_whole(store: AzureRaw, container: str) -> None:
    body = os.urandom(3 * _MiB + 5)
    for i, data in enumerate((bytearray(body), memoryview(body)[: 2 * _MiB])):
        uri = f"az://{container}/view-{i}"
        await store.put(uri, data)
        assert await store.get(uri) == bytes(data)


async def test_the_blocks_of_a_larger_put_go_up_without_a_warning(
    azurite_server: AzuriteServer, container: str
) -> None:
    body = os.urandom(5 * _MiB + 3)
    uri = f"az://{container}/in-blocks"
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url, block_size=2 * _MiB) as raw:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            await raw.put(uri, body)
        assert await raw.get(uri) == body
