"""AzureRaw on Azurite: what the contract suite does not cover.

A missing container, signed (SAS) URLs used by a plain HTTP client, block uploads of a stream,
server-side copies, the configuration, and secrets kept out of every text and pickle.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import AzureRaw, BucketNotFound, NotFoundInStore, Retry, StoreNotAvailable
from asyncbitstore.config import build_chain
from tests.servers import AZURITE_KEY, AzuriteServer

pytestmark = pytest.mark.servers

_MiB = 1024 * 1024
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
WRONG_KEY = "V1JPTkcta2V5LWZvci1hc3luY2JpdHN0b3JlLXRlc3RzLW5vdC1hLXJlYWwtb25lLTAwMDAwMDAwMDA="


@pytest.fixture
async def container(azurite_server: AzuriteServer) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, name)
    return name


@pytest.fixture
async def store(azurite_server: AzuriteServer) -> AsyncIterator[AzureRaw]:
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url) as raw:
        yield raw


def _fetch(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if method == "PUT":
        request.add_header("x-ms-blob-type", "BlockBlob")
    try:
        with _DIRECT.open(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


async def test_a_missing_container_is_bucket_not_found_and_a_missing_blob_not_found(
    store: AzureRaw, container: str
) -> None:
    gone = f"az://nope-{uuid.uuid4().hex[:8]}/k"
    for call in (store.get(gone), store.exists(gone), store.size(gone), store.head(gone),
                 store.put(gone, b"x"), store.delete(gone)):  # fmt: skip
        with pytest.raises(BucketNotFound) as caught:
            await call
        assert caught.value.kind == "container" and caught.value.bucket.startswith("nope-")
    with pytest.raises(BucketNotFound):
        [u async for u in store.list(gone.rsplit("/", 1)[0])]
    with pytest.raises(NotFoundInStore):
        await store.get(f"az://{container}/missing")
    assert await store.exists(f"az://{container}/missing") is False
    await store.delete(f"az://{container}/missing")  # idempotent


async def test_a_sas_url_serves_the_blob_to_a_plain_http_client(
    store: AzureRaw, container: str
) -> None:
    uri = f"az://{container}/dir/signed blob.bin"
    await store.put(uri, b"signed bytes")
    url = await store.sign(uri, expires_in=600)
    assert "sig=" in url and AZURITE_KEY not in url
    assert await asyncio.to_thread(_fetch, url) == (200, b"signed bytes")
    put_url = await store.sign(uri, method="PUT")
    status, _ = await asyncio.to_thread(_fetch, put_url, "PUT", b"replaced")
    assert status == 201
    assert await store.get(uri) == b"replaced"
    # A read-only URL cannot write.
    status, _ = await asyncio.to_thread(_fetch, url, "PUT", b"nope")
    assert status == 403


async def test_a_store_without_the_account_key_cannot_sign(
    azurite_server: AzuriteServer, container: str
) -> None:
    async with AzureRaw(account_url=azurite_server.url) as anonymous:
        with pytest.raises(NotImplementedError, match="no account key"):
            await anonymous.sign(f"az://{container}/k")


async def test_a_streamed_20_mib_blob_goes_up_in_blocks_in_bounded_memory(
    azurite_server: AzuriteServer, container: str
) -> None:
    from azure.storage.blob.aio import BlobServiceClient

    data = bytes(range(256)) * (20 * _MiB // 256)
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for offset in range(0, len(data), 300_000):
            pulled += 1
            yield data[offset : offset + 300_000]

    uri = f"az://{container}/big.bin"
    async with AzureRaw(
        connection_string=azurite_server.connection_string,
        block_size=1 * _MiB,
        max_concurrency=3,
    ) as raw:
        await raw.put(uri, chunks())
        assert await raw.get(uri) == data
        streamed = [c async for c in raw.stream(uri, chunk_size=_MiB)]
        assert b"".join(streamed) == data and max(map(len, streamed)) == _MiB
        assert await raw.get_range(uri, 5 * _MiB + 3, 5 * _MiB + 10) == data[5 * _MiB + 3 :][:7]
    assert pulled == -(-len(data) // 300_000)
    async with BlobServiceClient.from_connection_string(azurite_server.connection_string) as sc:
        committed, _ = await sc.get_blob_client(container, "big.bin").get_block_list()
    assert len(committed) == 20 and {b.size for b in committed} == {_MiB}


async def test_a_failed_streamed_put_leaves_the_old_blob(store: AzureRaw, container: str) -> None:
    uri = f"az://{container}/kept"
    await store.put(uri, b"old")

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * (9 * _MiB)
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        await store.put(uri, broken())
    assert await store.get(uri) == b"old"


async def test_copy_is_done_on_the_server_and_head_reports_the_blob(
    store: AzureRaw, container: str
) -> None:
    await store.put(f"az://{container}/a", b"payload", compress="gzip")
    await store.copy(f"az://{container}/a", f"az://{container}/b")
    assert await store.get(f"az://{container}/b") == b"payload"
    meta = await store.head(f"az://{container}/b")
    assert meta.size == await store.size(f"az://{container}/a")
    assert meta.etag and meta.last_modified is not None and meta.last_modified.tzinfo
    with pytest.raises(NotFoundInStore):
        await store.copy(f"az://{container}/none", f"az://{container}/c")
    assert [u async for u in store.list(f"az://{container}/", flat=True)] == [
        f"az://{container}/a", f"az://{container}/b",
    ]  # fmt: skip


async def test_a_store_pickles_without_its_client_and_works_in_a_new_loop(
    store: AzureRaw, container: str
) -> None:
    await store.put(f"az://{container}/p", b"pickled")
    copy = pickle.loads(pickle.dumps(store))

    async def read() -> bytes:
        async with copy:
            return await copy.get(f"az://{container}/p")

    def elsewhere() -> bytes:
        return asyncio.run(read())

    assert await asyncio.to_thread(elsewhere) == b"pickled"


async def test_the_account_key_never_shows(
    azurite_server: AzuriteServer, container: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connection = azurite_server.connection_string.replace(AZURITE_KEY, WRONG_KEY)
    quick = Retry(attempts=2, base=0.001, cap=0.002)
    stores = [
        AzureRaw(WRONG_KEY, account_url=azurite_server.url, retry=quick),
        AzureRaw(connection_string=connection, retry=quick),
    ]
    shown: list[str] = []
    for raw in stores:
        async with raw:
            shown += [repr(raw), str(raw), raw.name]
            with pytest.raises(StoreNotAvailable) as caught:
                await raw.get(f"az://{container}/k")
            error = caught.value
            assert "access denied" in str(error) or "403" in str(error)
            shown += [str(error), repr(error), "".join(traceback.format_exception(error))]
            shown.append(pickle.dumps(error).decode("latin-1"))
    shown += [record.getMessage() for record in caplog.records]
    text = "\n".join(shown)
    assert WRONG_KEY not in text and WRONG_KEY[:24] not in text
    assert connection not in text


async def test_a_configuration_builds_an_az_tier(
    azurite_server: AzuriteServer, container: str
) -> None:
    config = {
        "chain": {"kind": "plain"},
        "tier": [{
            "role": "source", "uri": f"az://{container}/files/", "write": True,
            "connection_string": "${AZ_CONN}", "block_size": 2 * _MiB,
        }],
    }  # fmt: skip
    chain = build_chain(config, env={"AZ_CONN": azurite_server.connection_string})
    async with chain:
        await chain.put(f"az://{container}/files/x", b"configured")
        assert await chain.get(f"az://{container}/files/x") == b"configured"
    raw = chain.tiers[0].store
    raw = getattr(raw, "raw", raw)
    assert isinstance(raw, AzureRaw) and raw.block_size == 2 * _MiB
    assert AZURITE_KEY not in repr(chain.tiers[0].store)
