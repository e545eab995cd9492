"""Crash safety: a process killed with SIGKILL mid-write leaves no partial blob visible.

Each writer runs in a child process (multiprocessing, spawn) that signals the parent once it is
in the middle of the write; the parent then kills it with SIGKILL and inspects the folder:
every visible file has its full, correct content; only ``.abstmp-*`` temporary files may be
left over, and those are never listed or served.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    FileRaw,
    InvalidURI,
    NotFoundInStore,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
)

from .conftest import blob, files_under, sha1

KiB, MiB = 1 << 10, 1 << 20
TEMP = ".abstmp-"
_SPAWN = multiprocessing.get_context("spawn")


# -- what the children run (top level, so that spawned processes can import them) ---------------


async def _chunks(
    data: bytes, size: int, *, pause: float = 0.0, mid: Any = None
) -> AsyncIterator[bytes]:
    """``data`` in ``size`` pieces; after the third, set ``mid`` and slow down by ``pause``."""
    for n, offset in enumerate(range(0, len(data), size)):
        yield data[offset : offset + size]
        if n == 2 and mid is not None:
            mid.set()
        if pause:
            await asyncio.sleep(pause)


def _streaming_puts(folder: str, done: int, size: int, mid: Any) -> None:
    """Write blobs 0..done-1 whole, then start blob ``done`` slowly and signal ``mid``."""

    async def run() -> None:
        store = FileRaw()
        for i in range(done):
            await store.put(f"{folder}/{i}", _chunks(blob(i, size), 256 * KiB))
        await store.put(
            f"{folder}/{done}", _chunks(blob(done, size), 256 * KiB, pause=0.05, mid=mid)
        )

    asyncio.run(run())


def _many_small_puts(folder: str, count: int, started: Any) -> None:
    """Write ``count`` small blobs, 64 at a time, signalling ``started`` at once."""

    async def run() -> None:
        started.set()
        async with FileRaw() as store:
            await store.put_many((f"{folder}/{i}", blob(i, 4 * KiB)) for i in range(count))

    asyncio.run(run())


def _chain(source: str, cache: str, bounded: bool) -> Sha1Composite:
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(), f"{cache}/", max_bytes=1 << 30 if bounded else None))
    chain.append_source(Sha1Store(FileRaw(), f"{source}/"), cache_result=True)
    return chain


def _chain_gets(source: str, cache: str, bounded: bool, keys: list[str], mid: Any) -> None:
    """Get every key through a chain that fills its file cache; signal after 10 results."""

    async def run() -> None:
        chain = _chain(source, cache, bounded)
        got = 0
        async for _ in chain.iter_get(keys, concurrency=8):
            got += 1
            if got == 10:
                mid.set()
        await asyncio.sleep(60)  # the parent kills us first

    asyncio.run(run())


def _chain_stream(source: str, cache: str, bounded: bool, key: str, mid: Any) -> None:
    """Stream one big blob through the chain slowly, teeing it into the cache."""

    async def run() -> None:
        chain = _chain(source, cache, bounded)
        n = 0
        async for _ in chain.stream(key, chunk_size=256 * KiB):
            n += 1
            if n == 8:
                mid.set()
            await asyncio.sleep(0.05)

    asyncio.run(run())


def _same_key_writer(path: str, data: bytes, rounds: int, go: Any, mid: Any) -> None:
    """Overwrite ``path`` with ``data`` ``rounds`` times, streaming, once ``go`` is set."""

    async def run() -> None:
        go.wait(10)
        store = FileRaw()
        for n in range(rounds):
            if n == rounds // 2:  # signal mid-write, then go slowly so that a kill lands there
                await store.put(path, _chunks(data, 128 * KiB, pause=0.02, mid=mid))
            else:
                await store.put(path, _chunks(data, 128 * KiB))

    asyncio.run(run())


# -- the parent's side ---------------------------------------------------------------------------


async def _run_until(target: Callable[..., None], *args: Any, kill_after: float = 0.0) -> int:
    """Run ``target(*args, event)`` in a child; SIGKILL it once it sets the event (and
    ``kill_after`` more seconds have passed). Returns its exit code."""
    event = _SPAWN.Event()
    child = _SPAWN.Process(target=target, args=(*args, event), daemon=True)
    child.start()
    try:
        assert await asyncio.to_thread(event.wait, 30), "the child never got to the middle"
        if kill_after:
            await asyncio.sleep(kill_after)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        await asyncio.to_thread(child.join, 10)
    finally:
        if child.is_alive():
            child.kill()
            await asyncio.to_thread(child.join, 10)
    return child.exitcode  # type: ignore[return-value]


def _visible(folder: Path) -> tuple[dict[str, bytes], list[str]]:
    """The files a reader could see, and the temporary files left over."""
    files = files_under(folder)
    temps = [name for name in files if os.path.basename(name).startswith(TEMP)]
    return {n: d for n, d in files.items() if n not in temps}, temps


async def _never_served(folder: Path, temps: list[str]) -> None:
    """Leftover temporary files are neither listed nor served."""
    async with FileRaw() as store:
        listed = [uri async for uri in store.list(f"{folder}/")]
        assert not any(TEMP in uri for uri in listed)
        for temp in temps:
            with pytest.raises(InvalidURI):
                await store.get(f"{folder}/{temp}")


async def test_a_streaming_put_killed_midway_leaves_no_partial_file(tmp_path: Path) -> None:
    folder = tmp_path / "blobs"
    size = 4 * MiB
    code = await _run_until(_streaming_puts, str(folder), 3, size)
    assert code == -signal.SIGKILL
    visible, temps = _visible(folder)
    assert visible == {str(i): blob(i, size) for i in range(3)}  # blob 3 is not there at all
    assert len(temps) == 1  # the write that was cut off
    await _never_served(folder, temps)
    async with FileRaw() as store:
        with pytest.raises(NotFoundInStore):
            await store.get(f"{folder}/3")
        assert not await store.exists(f"{folder}/3")
        await store.put(f"{folder}/3", blob(3, size))  # the leftover does not get in the way
        assert await store.get(f"{folder}/3") == blob(3, size)


async def test_an_overwrite_killed_midway_keeps_the_old_blob_whole(tmp_path: Path) -> None:
    folder = tmp_path / "blobs"
    folder.mkdir()
    old = b"old blob " * 100_000
    (folder / "0").write_bytes(old)
    await _run_until(_streaming_puts, str(folder), 0, 4 * MiB)
    visible, temps = _visible(folder)
    assert visible == {"0": old} and len(temps) == 1


@pytest.mark.parametrize("seed", [1, 2])
async def test_many_small_puts_killed_at_a_random_moment_leave_only_whole_blobs(
    tmp_path: Path, seed: int
) -> None:
    folder = tmp_path / "blobs"
    delay = random.Random(seed).uniform(0.05, 0.4)
    await _run_until(_many_small_puts, str(folder), 20_000, kill_after=delay)
    visible, temps = _visible(folder)
    assert 0 < len(visible) < 20_000  # killed while writing, after some had landed
    assert all(content == blob(int(name), 4 * KiB) for name, content in visible.items())
    await _never_served(folder, temps)


def _seed_source(folder: Path, count: int, size: int) -> list[str]:
    folder.mkdir(parents=True)
    keys = []
    for i in range(count):
        data = blob(i, size)
        keys.append(sha1(data))
        (folder / keys[-1]).write_bytes(data)
    return keys


def _cached_blobs(cache: Path) -> tuple[dict[str, bytes], list[str]]:
    """Blobs in a cache folder, by key (flat or in the bounded cache's subfolders)."""
    visible, temps = _visible(cache)
    blobs = {os.path.basename(n): d for n, d in visible.items() if not n.startswith(".abs-")}
    return blobs, temps


@pytest.mark.parametrize("bounded", [False, True], ids=["plain", "bounded"])
async def test_a_chain_killed_while_filling_its_cache_leaves_only_correct_blobs(
    tmp_path: Path, bounded: bool
) -> None:
    source, cache = tmp_path / "source", tmp_path / "cache"
    keys = _seed_source(source, 60, 1 * MiB)
    await _run_until(_chain_gets, str(source), str(cache), bounded, keys)
    cached, _ = _cached_blobs(cache)
    assert len(cached) < len(keys)  # killed before every fill was done
    assert all(sha1(data) == key for key, data in cached.items())
    async with _chain(str(source), str(cache), bounded) as chain:  # a restart over the folder
        assert await chain.get_many(keys) == [blob(i, MiB) for i in range(len(keys))]
        await chain.flush()
    cached, _ = _cached_blobs(cache)
    assert len(cached) == len(keys) and all(sha1(d) == k for k, d in cached.items())


@pytest.mark.parametrize("bounded", [False, True], ids=["plain", "bounded"])
async def test_a_chain_killed_while_teeing_a_stream_into_its_cache_keeps_no_part_of_it(
    tmp_path: Path, bounded: bool
) -> None:
    source, cache = tmp_path / "source", tmp_path / "cache"
    [key] = _seed_source(source, 1, 16 * MiB)
    await _run_until(_chain_stream, str(source), str(cache), bounded, key)
    cached, temps = _cached_blobs(cache)
    assert cached == {} and len(temps) == 1  # the fill was under way, and stays invisible
    async with _chain(str(source), str(cache), bounded) as chain:
        assert b"".join([c async for c in chain.stream(key)]) == blob(0, 16 * MiB)
        await chain.flush()
        assert chain.stats.tiers[0].hits == 0
        assert await chain.get(key) == blob(0, 16 * MiB)
        assert chain.stats.tiers[0].hits == 1  # filled by the stream, served by the cache


async def _two_writers(path: Path, kill_one: bool) -> tuple[bytes, bytes]:
    a, b = b"A" * (3 * MiB + 1), b"B" * (2 * MiB + 7)
    go = _SPAWN.Event()
    mids = [_SPAWN.Event(), _SPAWN.Event()]
    children = [
        _SPAWN.Process(target=_same_key_writer, args=(str(path), data, 8, go, mid), daemon=True)
        for data, mid in zip((a, b), mids, strict=True)
    ]
    for child in children:
        child.start()
    try:
        go.set()
        if kill_one:
            assert await asyncio.to_thread(mids[1].wait, 30)
            os.kill(children[1].pid, signal.SIGKILL)  # type: ignore[arg-type]
        for child in children:
            await asyncio.to_thread(child.join, 60)
        codes = [child.exitcode for child in children]
        assert codes == [0, -signal.SIGKILL if kill_one else 0]
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                await asyncio.to_thread(child.join, 10)
    return a, b


@pytest.mark.parametrize("kill_one", [False, True], ids=["both-finish", "one-killed"])
async def test_two_processes_writing_one_key_leave_one_complete_blob(
    tmp_path: Path, kill_one: bool
) -> None:
    path = tmp_path / "blobs" / "same"
    a, b = await _two_writers(path, kill_one)
    visible, temps = _visible(path.parent)
    assert list(visible) == ["same"] and visible["same"] in (a, b)
    assert len(temps) == (1 if kill_one else 0)
    with contextlib.suppress(FileNotFoundError):
        assert path.read_bytes() in (a, b)
