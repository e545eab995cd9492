"""SqliteRaw beside FileRaw for many small blobs: put, get_many, list, and disk usage.

100,000 blobs of 4 KiB by default, keys are SHA-1 digests; FileRaw spreads them over 256
folders (``<2 hex>/<digest>``) as a cache would, SqliteRaw keeps them in one database file.
Each round writes both stores afresh (``put_many``, 64 at once), then reads everything back
with ``get_many`` (warm page cache) and lists it. Disk usage is counted in allocated blocks
(``du``), after the SQLite file is checkpointed and closed.

SQLite's own measurements ("35% faster than the filesystem") claim small blobs read faster
from a database than from individual files; this checks that claim through both stores.

Run: python benchmarks/sqlite.py [--count N] [--rounds N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from functools import partial
from pathlib import Path

from _common import Figure, measure, report

from asyncbitstore import FileRaw, Store
from asyncbitstore.raw.sqlite import SqliteRaw

SIZE = 4096


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000, help="blobs per store")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (medians)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def _disk_usage(path: str) -> int:
    """Allocated bytes of a file or a whole folder (files and folders), like ``du -s``."""
    if os.path.isfile(path):
        return os.stat(path).st_blocks * 512
    total = os.stat(path).st_blocks * 512
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


async def _put(store: Store, uris: list[str], blobs: list[bytes]) -> None:
    await store.put_many(zip(uris, blobs, strict=True))


async def _get(store: Store, uris: list[str], blobs: list[bytes]) -> None:
    got = await store.get_many(uris)
    assert got[0] == blobs[0] and got[-1] == blobs[-1] and None not in got


async def _list(store: Store, prefix: str, count: int) -> None:
    listed = 0
    async for _ in store.list(prefix):
        listed += 1
    assert listed == count


def _usage_and_cleanup(files_root: str, db_path: str) -> dict[str, int]:
    usage = {"FileRaw": _disk_usage(files_root), "SqliteRaw": _disk_usage(db_path)}
    shutil.rmtree(files_root)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(db_path + suffix)
    return usage


async def _round(
    folder: str, keys: list[str], blobs: list[bytes], figures: dict[str, Figure]
) -> dict[str, int]:
    """One round of every case on fresh stores; returns the disk usage of each."""
    count = len(keys)
    files_root, db_path = f"{folder}/files", f"{folder}/blobs.db"
    files, sqlite = FileRaw(), SqliteRaw(db_path)
    cases: list[tuple[str, Store, list[str], str]] = [
        ("FileRaw", files, [f"{files_root}/{k[:2]}/{k}" for k in keys], files_root + "/"),
        ("SqliteRaw", sqlite, [sqlite.uri(f"sha1/{k}") for k in keys], sqlite.uri("sha1/")),
    ]
    for name, store, uris, _ in cases:
        await measure(figures[f"{name}.put_many"], count, partial(_put, store, uris, blobs))
    for _, store, uris, _ in cases:
        await store.get_many(uris[:1000])  # warm the connections and threads
    for name, store, uris, prefix in cases:
        await measure(figures[f"{name}.get_many"], count, partial(_get, store, uris, blobs))
        await measure(figures[f"{name}.list"], count, partial(_list, store, prefix, count))
    await files.aclose()
    await sqlite.aclose()  # the last connection checkpoints the WAL into the file
    return await asyncio.to_thread(_usage_and_cleanup, files_root, db_path)


async def main() -> None:
    args = _arguments()
    blobs = [os.urandom(SIZE) for _ in range(args.count)]
    keys = [hashlib.sha1(b).hexdigest() for b in blobs]
    names = [f"{s}.{c}" for c in ("put_many", "get_many", "list") for s in ("SqliteRaw", "FileRaw")]
    figures = {name: Figure(name) for name in names}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        usages = [await _round(folder, keys, blobs, figures) for _ in range(args.rounds)]
    f = figures
    report(
        f"SqliteRaw vs FileRaw: {args.count} blobs of {SIZE} B, {args.rounds} rounds, medians"
        " (baseline: FileRaw)",
        [(f[f"SqliteRaw.{c}"], f[f"FileRaw.{c}"], None) for c in ("put_many", "get_many", "list")],
        args.json,
    )
    payload = args.count * SIZE
    for name in ("SqliteRaw", "FileRaw"):
        used = usages[-1][name]
        print(f"disk usage {name:<10} {used / 2**20:9.1f} MiB  ({used / payload:.2f}× the payload)")


if __name__ == "__main__":
    asyncio.run(main())
