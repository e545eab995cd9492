"""A bounded cache folder and its index agree again after a writer is killed mid-put.

The child process writes blobs into the cache; right after one of them is renamed into place
(the moment it becomes visible) it is killed with SIGKILL, before the cache could count it.
Reopened, the cache must count exactly the bytes that are on disk, and its eviction must bring
the folder back under ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

from asyncbitstore import FileRaw
from asyncbitstore.bounded_cache import BoundedFileRaw
from asyncbitstore.raw.file._index import INDEX_NAME
from asyncbitstore.raw.file._layout import scan

KiB = 1 << 10
_SPAWN = multiprocessing.get_context("spawn")


def _name(i: int) -> str:
    return f"{i:04x}" + "a" * 36


def _killed_after_rename(folder: str, first: int, count: int) -> None:
    """Put blobs ``first..first+count-1``; die right after the last one's rename."""
    real_replace = os.replace
    renames = 0

    def replace(*args: object, **kwargs: object) -> None:
        nonlocal renames
        real_replace(*args, **kwargs)  # type: ignore[arg-type]
        renames += 1
        if renames == count:
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace  # type: ignore[assignment]

    async def run() -> None:
        cache = BoundedFileRaw(FileRaw(), f"{folder}/", 10 * KiB)
        for i in range(first, first + count):
            await cache.put(f"{folder}/{_name(i)}", bytes([i % 256]) * (4 * KiB))

    asyncio.run(run())


def _on_disk(folder: Path) -> int:
    return sum(size for _, size, _ in scan(str(folder)))


def _kill_after_rename(folder: Path, first: int, count: int) -> None:
    child = _SPAWN.Process(target=_killed_after_rename, args=(str(folder), first, count))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL


async def test_a_blob_renamed_before_a_kill_is_counted_and_evicted_after_reopening(
    tmp_path: Path,
) -> None:
    for first in (0, 10, 20):
        _kill_after_rename(tmp_path, first, 2)  # one blob counted, one renamed then killed

    cache = BoundedFileRaw(FileRaw(), f"{tmp_path}/", 10 * KiB)
    assert (await cache.usage())[0] == _on_disk(tmp_path)
    await cache.put(f"{tmp_path}/{_name(99)}", b"z" * KiB)
    assert _on_disk(tmp_path) <= 10 * KiB
    assert (await cache.usage())[0] == _on_disk(tmp_path)
    await cache.aclose()


async def test_a_live_writer_between_its_steps_is_left_alone_by_a_reopening_cache(
    tmp_path: Path,
) -> None:
    # Another process opening the folder meanwhile must not count or remove this one's write.
    first = BoundedFileRaw(FileRaw(), f"{tmp_path}/", 10 * KiB)
    await first.put(f"{tmp_path}/{_name(1)}", b"a" * KiB)
    second = BoundedFileRaw(FileRaw(), f"{tmp_path}/", 10 * KiB)
    await second.put(f"{tmp_path}/{_name(2)}", b"b" * KiB)
    assert (await first.usage())[0] == (await second.usage())[0] == 2 * KiB == _on_disk(tmp_path)
    await first.aclose()
    await second.aclose()
    with contextlib.closing(sqlite3.connect(tmp_path / INDEX_NAME)) as db:
        assert db.execute("SELECT count(*) FROM pending").fetchone() == (0,)  # all cleared
