"""AzureRaw beside obstore's AzureStore: get and put of 4 KiB, 1 MiB and 64 MiB blobs on Azurite.

Starts its own in-memory Azurite (found as `tests/servers.py` finds it: ``azurite-blob`` on
PATH or under ``AZURITE_PREFIX``). obstore reaches it through ``endpoint=`` and
``allow_http``: its ``use_emulator`` option always dials port 10000, and this Azurite listens
on a free port. Each case moves several blobs one after another (latency, not throughput);
within every round the two clients take turns going first, so drift in the server or the
machine hits both alike. Reported: median µs per blob over the rounds, and AzureRaw's time
as a ratio of obstore's (below 1: AzureRaw is faster). Azurite (Node.js) is the bottleneck
for large blobs, so those ratios say more about the client's overhead when they are near 1.

Run: python benchmarks/azure.py [--rounds N] [--json out.json]
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import Figure, arguments, measure, report

# This file is named like the SDK's top-level package: `import azure` must not find it, so its
# folder (first on the path of a script, and done with once `_common` is in) leaves the path.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import obstore
from obstore.store import AzureStore

from asyncbitstore import AzureRaw
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, AzuriteServer

#: (label, bytes per blob, blobs per round)
SIZES = [("4 KiB", 4 << 10, 100), ("1 MiB", 1 << 20, 20), ("64 MiB", 64 << 20, 2)]

Step = Callable[[], Awaitable[object]]


def _cases(store: AzureRaw, ob: AzureStore, container: str) -> list[tuple[str, Step, Step, int]]:
    """(case, AzureRaw's round, obstore's round, blobs per round) for every size and operation."""
    cases = []
    for label, size, count in SIZES:
        body = os.urandom(size)
        ours_keys = [f"ours/{label}/{i}" for i in range(count)]
        their_keys = [f"theirs/{label}/{i}" for i in range(count)]

        async def put_ours(keys: list[str] = ours_keys, body: bytes = body) -> None:
            for key in keys:
                await store.put(f"az://{container}/{key}", body)

        async def put_theirs(keys: list[str] = their_keys, body: bytes = body) -> None:
            for key in keys:
                await obstore.put_async(ob, key, body)

        async def get_ours(keys: list[str] = ours_keys, size: int = size) -> None:
            for key in keys:
                assert len(await store.get(f"az://{container}/{key}")) == size

        async def get_theirs(keys: list[str] = their_keys, size: int = size) -> None:
            for key in keys:
                answer = await obstore.get_async(ob, key)
                assert len(await answer.bytes_async()) == size

        cases.append((f"put {label}", put_ours, put_theirs, count))
        cases.append((f"get {label}", get_ours, get_theirs, count))
    return cases


async def bench(server: AzuriteServer, rounds: int) -> list[tuple[Figure, Figure]]:
    container = f"bench-{uuid.uuid4().hex[:8]}"
    server.create_container(container)
    ob = AzureStore(
        container_name=container,
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        endpoint=server.url,
        client_options={"allow_http": True},
    )
    figures: list[tuple[Figure, Figure]] = []
    async with AzureRaw(AZURITE_KEY, account_url=server.url) as store:
        for case, ours, theirs, count in _cases(store, ob, container):
            mine, base = Figure(f"AzureRaw {case}"), Figure(f"obstore {case}")
            await ours()  # warm up: connections, and the blobs a get reads
            await theirs()
            for turn in range(rounds):
                pair = [(mine, ours), (base, theirs)]
                for figure, run in pair if turn % 2 == 0 else pair[::-1]:
                    await measure(figure, count, run)
            figures.append((mine, base))
    return figures


def main() -> None:
    args = arguments(__doc__ or "")
    with AzuriteServer() as server:
        figures = asyncio.run(bench(server, args.rounds))
    title = f"AzureRaw vs obstore (baseline) on Azurite, medians of {args.rounds} rounds"
    report(title, [(mine, base, None) for mine, base in figures], args.json)


if __name__ == "__main__":
    main()
