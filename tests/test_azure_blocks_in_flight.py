"""AzureRaw stages up to ``max_concurrency`` blocks at once, in bounded memory (on Azurite).

The concurrency is seen at the fault proxy of ``tests/faults.py``, which counts the requests it
answers at once while it slows every block staging (``blockid=`` in the query). The memory
bound is the growth of this process's peak RSS while a 64 MiB stream goes up.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from asyncbitstore import AzureRaw
from tests.faults import LATENCY, FaultProxy
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, AzuriteServer

pytestmark = [
    pytest.mark.servers,
    pytest.mark.filterwarnings("ignore:Sending a large body:ResourceWarning"),
]

MiB = 1 << 20


@pytest.fixture
async def container(azurite_server: AzuriteServer) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(azurite_server.create_container, name)
    return name


async def _stream(block: bytes, count: int) -> AsyncIterator[bytes]:
    for n in range(count):
        yield bytes([n % 251]) + block[1:]


async def _digest(chunks: AsyncIterator[bytes]) -> bytes:
    found = hashlib.sha256()
    async for chunk in chunks:
        found.update(chunk)
    return found.digest()


def _reset_peak_rss() -> int | None:
    """Start a new peak-RSS measurement (Linux); the resident bytes now, or None."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


async def test_blocks_are_staged_several_at_a_time(
    azurite_server: AzuriteServer, container: str
) -> None:
    upstream = azurite_server.url.removesuffix(f"/{AZURITE_ACCOUNT}")
    async with (
        FaultProxy(upstream) as proxy,
        AzureRaw(
            AZURITE_KEY,
            account_url=f"{proxy.url}/{AZURITE_ACCOUNT}",
            block_size=MiB,
            max_concurrency=4,
        ) as store,
    ):
        slowed = proxy.inject(LATENCY, seconds=0.3, path="blockid=")
        uri = f"az://{container}/big"
        block = os.urandom(MiB)
        await store.put(uri, _stream(block, 8))
        assert slowed.injected == 8
        assert 3 <= proxy.max_in_flight <= 4
        assert await _digest(store.stream(uri)) == await _digest(_stream(block, 8))


async def test_a_64_mib_stream_goes_up_in_memory_well_under_its_size(
    azurite_server: AzuriteServer, container: str
) -> None:
    block = os.urandom(MiB)
    async with AzureRaw(
        AZURITE_KEY, account_url=azurite_server.url, block_size=2 * MiB, max_concurrency=4
    ) as store:
        uri = f"az://{container}/big"
        await store.put(uri, b"warm" * 1000)  # the client and its imports in place
        before = _reset_peak_rss()
        if before is None:
            pytest.skip("peak RSS cannot be reset here (needs Linux /proc)")
        await store.put(uri, _stream(block, 64))
        grown = _peak_rss() - before
        assert grown < 40 * MiB, f"peak RSS grew by {grown / MiB:.0f} MiB for a 64 MiB stream"
        assert await _digest(store.stream(uri)) == await _digest(_stream(block, 64))
