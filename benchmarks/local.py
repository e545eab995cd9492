"""Local tiers: µs per blob for bulk gets, beside the same work done as a plain sync loop.

10,000 blobs of 4 KiB, warm page cache. Cases:
- MemoryRaw.get_many                      vs dict lookups in a loop   (target ≤ 3 µs/blob)
- Sha1Composite hit in a memory cache     vs dict lookups in a loop   (target ≤ 5 µs/blob)
- FileRaw.get_many                        vs open/read in a loop      (target ≤ 2× the loop)

Run: python benchmarks/local.py [--rounds N] [--json out.json]
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile

from _common import Figure, arguments, measure, report

from asyncbitstore import FileRaw, MemoryRaw, Sha1Cache, Sha1Composite, Sha1Store

COUNT = 10_000
SIZE = 4096


async def main() -> None:
    args = arguments(__doc__ or "")
    blobs = [os.urandom(SIZE) for _ in range(COUNT)]
    keys = [hashlib.sha1(b).hexdigest() for b in blobs]
    with tempfile.TemporaryDirectory() as folder:
        mem_uris = [f"mem://bench/{k}" for k in keys]
        paths = [f"{folder}/files/{k}" for k in keys]
        memory = MemoryRaw()
        files = FileRaw()
        await memory.put_many(zip(mem_uris, blobs, strict=True))
        await files.put_many(zip(paths, blobs, strict=True))
        plain = dict(zip(mem_uris, blobs, strict=True))

        chain = Sha1Composite()
        chain.append_cache(Sha1Cache(MemoryRaw(), "mem://cache/"))
        chain.append_source(Sha1Store(FileRaw(), f"{folder}/files/"), cache_result=True)
        await chain.get_many(keys)
        await chain.flush()

        figures = {
            name: Figure(name)
            for name in (
                "MemoryRaw.get_many",
                "dict lookup loop",
                "Sha1Composite.get_many (memory hits)",
                "FileRaw.get_many",
                "open/read loop",
            )
        }

        async def dict_loop() -> None:
            for uri in mem_uris:
                plain[uri]

        async def file_loop() -> None:
            for path in paths:
                with open(path, "rb") as file:  # noqa: ASYNC230 - the baseline is blocking on purpose
                    file.read()

        cases = [
            ("MemoryRaw.get_many", lambda: memory.get_many(mem_uris)),
            ("dict lookup loop", dict_loop),
            ("Sha1Composite.get_many (memory hits)", lambda: chain.get_many(keys)),
            ("FileRaw.get_many", lambda: files.get_many(paths)),
            ("open/read loop", file_loop),
        ]
        for _ in range(2):  # warm-up
            for _, run in cases:
                await run()
        for _ in range(args.rounds):
            for name, run in cases:  # interleaved, so drift hits every case alike
                await measure(figures[name], COUNT, run)
        hits = chain.stats.tier(chain.tiers[0].name).hits
        assert hits >= COUNT * (args.rounds + 2), "the chain must be served by its memory cache"
        await files.aclose()
        await chain.aclose()

    f = figures
    report(
        f"local tiers: {COUNT} blobs of {SIZE} B, {args.rounds} rounds, medians",
        [
            (f["MemoryRaw.get_many"], None, 3.0),
            (f["Sha1Composite.get_many (memory hits)"], None, 5.0),
            (f["dict lookup loop"], None, None),
            (f["FileRaw.get_many"], f["open/read loop"], 2.0),
        ],
        args.json,
    )


if __name__ == "__main__":
    asyncio.run(main())
