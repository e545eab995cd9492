"""Local tiers: µs per blob for bulk gets, beside the same work done as a plain sync loop.

10,000 blobs of 4 KiB, warm page cache. Cases:
- MemoryRaw.get_many                      vs dict lookups in a loop   (target ≤ 3 µs/blob)
- Sha1Composite hit in a memory cache     vs dict lookups in a loop   (target ≤ 5 µs/blob)
- FileRaw.get_many                        vs open/read in a loop      (target ≤ 2× the loop)
- a named chain's memory hit (PrefixCache over MemoryRaw before a PrefixStore), without and with a
  ttl                                     vs the Sha1Composite hit    (target ≤ 1.2×)

Run: python benchmarks/local.py [--rounds N] [--json out.json]
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile

from _common import Figure, arguments, measure, report

from asyncbitstore import (
    Composite,
    FileRaw,
    MemoryRaw,
    PrefixCache,
    PrefixStore,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)

COUNT = 10_000
SIZE = 4096
NAMED = "Composite.get_many (named, memory hits)"
NAMED_TTL = "Composite.get_many (named, ttl, memory hits)"


async def named_chain(folder: str, names: list[str], ttl: float | None) -> Composite:
    """A memory `PrefixCache` before a `PrefixStore` of files, warmed with every name."""
    chain = Composite()
    chain.append_cache(PrefixCache(MemoryRaw(), "mem://named/", ttl=ttl), name="memory")
    chain.append_source(PrefixStore(FileRaw(), f"{folder}/named/"), cache_result=True)
    await chain.get_many(names)
    await chain.flush()
    return chain


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
        names = [f"blobs/{k}" for k in keys]
        await PrefixStore(FileRaw(), f"{folder}/named/").put_many(zip(names, blobs, strict=True))
        named = await named_chain(folder, names, None)
        named_ttl = await named_chain(folder, names, 3600.0)

        figures = {
            name: Figure(name)
            for name in (
                "MemoryRaw.get_many",
                "dict lookup loop",
                "Sha1Composite.get_many (memory hits)",
                NAMED,
                NAMED_TTL,
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
            (NAMED, lambda: named.get_many(names)),
            (NAMED_TTL, lambda: named_ttl.get_many(names)),
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
        for other in (named, named_ttl):
            assert other.stats.tier("memory").hits >= COUNT * (args.rounds + 2)
            await other.aclose()
        await files.aclose()
        await chain.aclose()

    f = figures
    report(
        f"local tiers: {COUNT} blobs of {SIZE} B, {args.rounds} rounds, medians",
        [
            (f["MemoryRaw.get_many"], None, 3.0),
            (f["Sha1Composite.get_many (memory hits)"], None, 5.0),
            (f[NAMED], f["Sha1Composite.get_many (memory hits)"], 1.2),
            (f[NAMED_TTL], f["Sha1Composite.get_many (memory hits)"], 1.2),
            (f["dict lookup loop"], None, None),
            (f["FileRaw.get_many"], f["open/read loop"], 2.0),
        ],
        args.json,
    )


if __name__ == "__main__":
    asyncio.run(main())
