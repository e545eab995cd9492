"""AzureRaw beside obstore's AzureStore: get and put of 4 KiB, 1 MiB and 64 MiB blobs on Azurite.

Starts its own in-memory Azurite (found as `tests/servers.py` finds it: ``azurite-blob`` on
PATH or under ``AZURITE_PREFIX``). obstore reaches it through ``endpoint=`` and
``allow_http``: its ``use_emulator`` option always dials port 10000, and this Azurite listens
on a free port. Each case moves several blobs one after another (latency, not throughput);
within every round the two clients take turns going first, so drift in the server or the
machine hits both alike. Reported: median µs per blob over the rounds, and AzureRaw's time
as a ratio of obstore's (below 1: AzureRaw is faster). Azurite (Node.js) is the bottleneck
for large blobs, so those ratios say more about the client's overhead when they are near 1.

Then a ``get`` of one 64 MiB blob on loopback and through `_throttle`'s proxy at 40 MB/s per
connection: AzureRaw as it is (parallel ranges of ``block_size``, 8 MiB, eight at a time),
AzureRaw without its ``Content-MD5`` check (which the SDK does not make), AzureRaw with
``parallel_threshold=None`` (one download, in the SDK's sequential 8 MiB pieces), the plain
SDK (``download_blob(max_concurrency=8)`` with 8 MiB pieces) and obstore; rounds rotate the
order, and times are given as ratios of AzureRaw's.

Run: python benchmarks/azure.py [--rounds N] [--json out.json]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import Figure, arguments, measure, report
from _large_get import THROTTLE_MBPS, Read, compare, show
from _throttle import throttled

# This file is named like the SDK's top-level package: `import azure` must not find it, so its
# folder (first on the path of a script, and done with once `_common` is in) leaves the path.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import obstore
from azure.storage.blob.aio import BlobServiceClient
from obstore.store import AzureStore

from asyncbitstore import AzureRaw
from tests.servers import AZURITE_ACCOUNT, AZURITE_KEY, LOOPBACK, AzuriteServer

#: (label, bytes per blob, blobs per round)
SIZES = [("4 KiB", 4 << 10, 100), ("1 MiB", 1 << 20, 20), ("64 MiB", 64 << 20, 2)]

Step = Callable[[], Awaitable[object]]
PARALLEL = 64 << 20
SDK_PIECE = 8 << 20


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


def _obstore(container: str, endpoint: str) -> AzureStore:
    return AzureStore(
        container_name=container,
        account_name=AZURITE_ACCOUNT,
        account_key=AZURITE_KEY,
        endpoint=endpoint,
        client_options={"allow_http": True},
    )


async def bench(server: AzuriteServer, rounds: int) -> list[tuple[Figure, Figure]]:
    container = f"bench-{uuid.uuid4().hex[:8]}"
    server.create_container(container)
    ob = _obstore(container, server.url)
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


async def parallel_get(server: AzuriteServer, rounds: int) -> dict[str, dict[str, float]]:
    """Seconds per `get` of a `PARALLEL`-byte blob for each client, on each link."""
    container = f"bench-{uuid.uuid4().hex[:8]}"
    server.create_container(container)
    key = "parallel"
    async with AzureRaw(AZURITE_KEY, account_url=server.url) as store:
        await store.put(f"az://{container}/{key}", os.urandom(1 << 20) * (PARALLEL >> 20))
    table = {}
    with throttled(f"http://{LOOPBACK}:{server.port}", THROTTLE_MBPS) as slow:
        account = server.url.rsplit("/", 1)[1]
        for link, url in (("loopback", server.url), (f"{THROTTLE_MBPS} MB/s", f"{slow}/{account}")):
            ours = AzureRaw(AZURITE_KEY, account_url=url)
            unchecked = AzureRaw(AZURITE_KEY, account_url=url, verify_checksums=False)
            single = AzureRaw(AZURITE_KEY, account_url=url, parallel_threshold=None)
            sdk = BlobServiceClient(
                url, credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
                max_single_get_size=SDK_PIECE, max_chunk_get_size=SDK_PIECE,
            )  # fmt: skip
            ob = _obstore(container, url)

            def raw(store: AzureRaw) -> Read:
                async def read() -> int:
                    return len(await store.get(f"az://{container}/{key}"))

                return read

            async def plain(sdk: BlobServiceClient = sdk) -> int:
                download = await sdk.get_blob_client(container, key).download_blob(
                    max_concurrency=8
                )
                return len(await download.readall())

            async def theirs(ob: AzureStore = ob) -> int:
                return len(await (await obstore.get_async(ob, key)).bytes_async())

            clients = {
                "AzureRaw (parallel ranges)": raw(ours),
                "AzureRaw verify_checksums=False": raw(unchecked),
                "AzureRaw parallel_threshold=None": raw(single),
                "SDK download_blob, 8 MiB x 8": plain,
                "obstore": theirs,
            }
            try:
                times = await compare(clients, PARALLEL, rounds)
            finally:
                for store in (ours, unchecked, single):
                    await store.aclose()
                await sdk.close()
            title = f"get of {PARALLEL >> 20} MiB on Azurite, {link}, medians of {rounds} rounds"
            table[link] = show(title, times, PARALLEL)
    return table


def main() -> None:
    args = arguments(__doc__ or "")
    with AzuriteServer() as server:
        figures = asyncio.run(bench(server, args.rounds))
        parallel = asyncio.run(parallel_get(server, args.rounds))
    title = f"AzureRaw vs obstore (baseline) on Azurite, medians of {args.rounds} rounds"
    report(title, [(mine, base, None) for mine, base in figures], args.json)
    if args.json is not None:
        path = args.json.with_name(args.json.stem + "_parallel.json")
        path.write_text(json.dumps(parallel, indent=2))


if __name__ == "__main__":
    main()
