"""Peak memory of a content-addressed ``write`` of a large async stream (1 GiB by default).

An async generator yields the bytes one chunk at a time; ``HashStore(FileRaw()).write`` hashes
them while spooling to a temporary file, then streams them into place. Prints the size, the
time taken and the process's peak RSS before and after (target: under 64 MiB added).

Run: python benchmarks/write_stream.py [--size-mib 1024] [--source stream|path] [--json out.json]
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
from collections.abc import AsyncIterator
from pathlib import Path

from asyncbitstore import FileRaw, Sha1Store

CHUNK = 1 << 20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def produce(size: int, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    block = os.urandom(CHUNK)
    for index in range(size // CHUNK):
        chunk = index.to_bytes(8, "little") + block[8:]  # no two chunks alike
        digest.update(chunk)
        yield chunk


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--source", choices=["stream", "path"], default="stream")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = args.size_mib * CHUNK
    digest = hashlib.sha1()
    with tempfile.TemporaryDirectory() as folder:
        data: object = produce(size, digest)
        if args.source == "path":
            path = Path(folder) / "input"
            with path.open("wb") as file:
                async for chunk in produce(size, digest):
                    file.write(chunk)
            data = path
        store = Sha1Store(FileRaw(), f"{folder}/blobs/")
        before = peak_rss_mib()
        started = time.perf_counter()
        key = await store.write(data)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        after = peak_rss_mib()
        stored = (Path(folder) / "blobs" / key).stat().st_size
        await store.aclose()
    assert key == digest.hexdigest() and stored == size, "the key and the stored size are right"
    figures = {
        "source": args.source,
        "blob_mib": size / CHUNK,
        "seconds": elapsed,
        "mib_per_s": size / CHUNK / elapsed,
        "peak_rss_before_mib": before,
        "peak_rss_after_mib": after,
        "added_mib": after - before,
        "target_added_mib": 64,
    }
    print(
        f"wrote {size / CHUNK:.0f} MiB ({args.source}) as {key[:12]}… in {elapsed:.2f} s "
        f"({figures['mib_per_s']:.0f} MiB/s)"
    )
    print(
        f"peak RSS {before:.1f} MiB before, {after:.1f} MiB after: "
        f"+{after - before:.1f} MiB (target < 64 MiB)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
