"""Peak memory while streaming a large blob through the chain.

A file source holds one blob (1 GiB by default); a Sha1Composite streams it to a consumer that
discards the bytes, teeing every chunk into a file cache. Prints the blob size, the time taken,
and the process's peak RSS before and after (target: under 64 MiB added, whatever the size).

Run: python benchmarks/stream.py [--size-mib 1024] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from asyncbitstore import FileRaw, Sha1Cache, Sha1Composite, Sha1Store

CHUNK = 1 << 20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def write_blob(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes to ``path`` one chunk at a time; return their sha1."""
    digest = hashlib.sha1()
    block = os.urandom(CHUNK)
    with path.open("wb") as file:
        for index in range(size // CHUNK):
            chunk = index.to_bytes(8, "little") + block[8:]  # no two chunks alike
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = args.size_mib * CHUNK
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "source").mkdir()
        key = write_blob(Path(folder) / "source" / "tmp", size)
        os.rename(Path(folder) / "source" / "tmp", Path(folder) / "source" / key)
        chain = Sha1Composite()
        chain.append_cache(Sha1Cache(FileRaw(), f"{folder}/cache/"))
        chain.append_source(Sha1Store(FileRaw(), f"{folder}/source/"), cache_result=True)
        before = peak_rss_mib()
        started = time.perf_counter()
        received = 0
        async with chain:
            async for chunk in chain.stream(key, chunk_size=CHUNK):
                received += len(chunk)
        elapsed = time.perf_counter() - started
        after = peak_rss_mib()
        cached = (Path(folder) / "cache" / key).stat().st_size
    assert received == size and cached == size, "the whole blob reached the consumer and cache"
    figures = {
        "blob_mib": size / CHUNK,
        "seconds": elapsed,
        "mib_per_s": size / CHUNK / elapsed,
        "peak_rss_before_mib": before,
        "peak_rss_after_mib": after,
        "added_mib": after - before,
        "target_added_mib": 64,
    }
    print(
        f"streamed {size / CHUNK:.0f} MiB file source -> file cache -> consumer "
        f"in {elapsed:.2f} s ({figures['mib_per_s']:.0f} MiB/s)"
    )
    print(
        f"peak RSS {before:.1f} MiB before, {after:.1f} MiB after: "
        f"+{after - before:.1f} MiB (target < 64 MiB)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
