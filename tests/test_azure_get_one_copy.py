"""A whole-blob Azure `get` (on Azurite) lands in one buffer of the blob's size.

The memory a large get takes is measured in a fresh interpreter (its peak resident size,
``VmHWM``, reset just before the call); the bytes must be right, the blob's ``Content-MD5``
still checked, and damaged or cut answers read again.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import AzureRaw, InvalidDataFound, Retry
from tests.faults import CORRUPT, STATUS, TRUNCATE, FaultProxy
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, LOOPBACK, AzuriteServer

pytestmark = pytest.mark.servers

_MiB = 1024 * 1024
FAST = Retry(attempts=3, base=0.01, cap=0.05)
ROOT = Path(__file__).resolve().parent.parent

# Run in a child: warm the client on a small blob, reset the peak, get the large one.
_CHILD = """
import asyncio, hashlib, sys
from asyncbitstore import AzureRaw

def kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])

async def main(url, key, uri, small):
    # One download in pieces (parallel ranges hold more: tests/test_azure_parallel_get.py)
    async with AzureRaw(key, account_url=url, parallel_threshold=None) as store:
        await store.get(small)
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        before = kib("VmRSS")
        data = await store.get(uri)
        peak = kib("VmHWM")
        print(before, peak, len(data), hashlib.sha256(data).hexdigest())

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.fixture
async def container(azurite_server: AzuriteServer) -> str:
    name = f"g-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, name)
    return name


@pytest.fixture
async def direct(azurite_server: AzuriteServer) -> AsyncIterator[AzureRaw]:
    """A store without the proxy, to write with (the proxy forwards a body as raw bytes, which
    aiohttp warns of)."""
    async with AzureRaw(AZURITE_KEY, account_url=azurite_server.url) as raw:
        yield raw


@pytest.fixture
async def proxied(azurite_server: AzuriteServer) -> AsyncIterator[tuple[FaultProxy, AzureRaw]]:
    async with FaultProxy(f"http://{LOOPBACK}:{azurite_server.port}") as proxy:
        raw = AzureRaw(AZURITE_KEY, account_url=_through(proxy), retry=FAST)
        async with raw:
            yield proxy, raw


def _through(proxy: FaultProxy) -> str:
    return f"{proxy.url}/{AZURITE_ACCOUNT}"


def _can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _can_reset_peak(), reason="needs Linux /proc/self/clear_refs")
async def test_a_64_mib_get_grows_memory_by_less_than_one_and_a_half_blobs(
    azurite_server: AzuriteServer, direct: AzureRaw, container: str
) -> None:
    size = 64 * _MiB
    body = os.urandom(size)
    want = hashlib.sha256(body).hexdigest()
    uri, small = f"az://{container}/big.bin", f"az://{container}/small"
    await direct.put(uri, body)
    await direct.put(small, b"warm-up")
    del body
    args = [sys.executable, "-c", _CHILD, azurite_server.url, AZURITE_KEY, uri, small]
    done = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, peak, length, digest = done.stdout.split()
    assert (int(length), digest) == (size, want)
    growth = (int(peak) - int(before)) * 1024
    assert growth < 1.5 * size, f"the get took {growth / size:.2f}x the blob's size"


async def test_a_multi_piece_blob_comes_back_whole_and_an_empty_one_empty(
    proxied: tuple[FaultProxy, AzureRaw], direct: AzureRaw, container: str
) -> None:
    proxy, store = proxied
    body = os.urandom(9 * _MiB + 7)  # a first answer of block_size (8 MiB), then the rest
    await direct.put(f"az://{container}/b", body)
    await direct.put(f"az://{container}/empty", b"")
    before = proxy.count("GET")
    assert await store.get(f"az://{container}/b") == body
    assert proxy.count("GET") - before == 2
    assert await store.get(f"az://{container}/empty") == b""


async def test_a_damaged_answer_is_read_again_and_persistent_damage_is_invalid_data(
    proxied: tuple[FaultProxy, AzureRaw], direct: AzureRaw, container: str
) -> None:
    proxy, store = proxied
    uri = f"az://{container}/checked"
    body = os.urandom(5 * _MiB)
    await direct.put(uri, body)  # blocks of 8 MiB: one Put Blob, which stores the Content-MD5
    flipped = proxy.inject(CORRUPT, first=1, methods={"GET"})
    assert await store.get(uri) == body
    assert flipped.injected == 1
    proxy.inject(CORRUPT, methods={"GET"})
    with pytest.raises(InvalidDataFound, match="Content-MD5"):
        await store.get(uri)


async def test_a_cut_or_refused_piece_is_retried(
    proxied: tuple[FaultProxy, AzureRaw], direct: AzureRaw, container: str
) -> None:
    proxy, store = proxied
    uri = f"az://{container}/cut"
    body = os.urandom(6 * _MiB)
    await direct.put(uri, body)
    cut = proxy.inject(TRUNCATE, first=1, methods={"GET"})
    assert await store.get(uri) == body
    assert cut.injected == 1
    refused = proxy.inject(STATUS, status=503, first=1, methods={"GET"})
    assert await store.get(uri) == body
    assert refused.injected == 1


async def test_without_verification_a_damaged_answer_is_not_checked(
    proxied: tuple[FaultProxy, AzureRaw], direct: AzureRaw, container: str
) -> None:
    proxy, _ = proxied
    uri = f"az://{container}/unchecked"
    await direct.put(uri, b"abc" * 1000)
    async with AzureRaw(AZURITE_KEY, account_url=_through(proxy), verify_checksums=False) as loose:
        proxy.inject(CORRUPT, first=1, methods={"GET"})
        data = await loose.get(uri)
    assert len(data) == 3000 and data != b"abc" * 1000
