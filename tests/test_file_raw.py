"""FileRaw quirks beyond the contract suite.

Atomic writes (no file and no ``.abstmp-*`` temp file after a failed or cancelled write), the
``root=`` jail, listing, batched thread hops, an event loop that stays responsive, directories,
pickling, and use from successive event loops.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import threading
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncbitstore import BitstoreError, FileRaw, InvalidURI, NotFoundInStore
from asyncbitstore.raw.file import _ops

TEMP_PREFIX = ".abstmp-"


class Boom(Exception):
    pass


def _names(folder: Path) -> list[str]:
    """Every entry of ``folder`` (temp files included), sorted; [] if it does not exist."""
    return sorted(os.listdir(folder)) if folder.exists() else []


def _temp_files(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(f"{TEMP_PREFIX}*")]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _failing_after(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part
    raise Boom("producer failed")


# -- atomic writes --------------------------------------------------------------------------------


async def test_streaming_put_whose_producer_fails_leaves_no_file_and_no_temp_file(
    tmp_path: Path,
) -> None:
    store = FileRaw()
    target = tmp_path / "out" / "blob"
    with pytest.raises(Boom):
        await store.put(str(target), _failing_after(b"a" * 1000, b"b" * 1000))
    assert _names(tmp_path / "out") == []
    assert not await store.exists(str(target))


async def test_streaming_put_of_a_non_bytes_chunk_leaves_no_temp_file(tmp_path: Path) -> None:
    async def bad() -> AsyncIterator[object]:
        yield b"fine"
        yield "not bytes"

    store = FileRaw()
    with pytest.raises(TypeError, match="str"):
        await store.put(str(tmp_path / "blob"), bad())  # type: ignore[arg-type]
    assert _names(tmp_path) == []


async def _cancel_mid_stream(store: FileRaw, uri: str) -> None:
    """Start a streaming put, cancel it while its producer waits, and check it was cancelled."""
    first_chunk_sent = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"x" * 4096
        first_chunk_sent.set()
        await asyncio.sleep(60)
        yield b"never"

    task = asyncio.create_task(store.put(uri, stalls()))
    await asyncio.wait_for(first_chunk_sent.wait(), 5)
    await asyncio.sleep(0.01)  # let the first chunk reach the temp file
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_streaming_put_cancelled_midway_leaves_no_file_and_no_temp_file(
    tmp_path: Path,
) -> None:
    store = FileRaw()
    await _cancel_mid_stream(store, str(tmp_path / "blob"))
    assert _names(tmp_path) == []


async def test_failed_or_cancelled_put_over_an_existing_file_keeps_the_old_content(
    tmp_path: Path,
) -> None:
    store = FileRaw()
    target = tmp_path / "blob"
    target.write_bytes(b"old content")
    with pytest.raises(Boom):
        await store.put(str(target), _failing_after(b"new", b"er"))
    assert target.read_bytes() == b"old content"
    await _cancel_mid_stream(store, f"file://{target}")
    assert target.read_bytes() == b"old content"
    assert _names(tmp_path) == ["blob"]


async def test_streaming_put_cancelled_while_the_temp_file_opens_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = threading.Event()
    resume = threading.Event()
    real_open_temp = _ops.open_temp

    def slow_open_temp(path: str) -> tuple[object, str]:
        result = real_open_temp(path)
        opened.set()
        resume.wait(5)
        return result

    monkeypatch.setattr(_ops, "open_temp", slow_open_temp)

    async def chunks() -> AsyncIterator[bytes]:
        yield b"data"

    store = FileRaw()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        task = asyncio.create_task(store.put(str(tmp_path / "blob"), chunks()))
        assert await asyncio.to_thread(opened.wait, 5)
        task.cancel()
        resume.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)  # the thread's result comes back
        gc.collect()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert (_names(tmp_path), leaked) == ([], [])  # no temp file, no unclosed descriptor


async def test_put_onto_a_folder_that_is_a_file_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"a file, not a folder")
    store = FileRaw()
    with pytest.raises(BitstoreError):
        await store.put(str(tmp_path / "plain" / "blob"), b"data")
    assert (tmp_path / "plain").read_bytes() == b"a file, not a folder"
    assert _temp_files(tmp_path) == []


async def test_put_over_a_folder_fails_with_an_error_that_is_not_not_found(
    tmp_path: Path,
) -> None:
    (tmp_path / "folder").mkdir()
    store = FileRaw()
    with pytest.raises(BitstoreError) as caught:
        await store.put(str(tmp_path / "folder"), b"data")
    assert _temp_files(tmp_path) == []
    assert not isinstance(caught.value, NotFoundInStore)


@pytest.mark.parametrize("streaming", [False, True])
async def test_fsync_writes_work(tmp_path: Path, streaming: bool) -> None:
    store = FileRaw(fsync=True)
    target = tmp_path / "deep" / "er" / "blob"

    async def chunks() -> AsyncIterator[bytes]:
        yield b"hello "
        yield b"world"

    await store.put(str(target), chunks() if streaming else b"hello world")
    assert target.read_bytes() == b"hello world"
    assert await store.get(str(target)) == b"hello world"
    assert _temp_files(tmp_path) == []


# -- the root jail --------------------------------------------------------------------------------


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    _write(root / "inside", b"in")
    _write(tmp_path / "outside", b"out")
    _write(tmp_path / "rootother" / "secret", b"sibling")
    return root


def _escapes(jail: Path) -> list[str]:
    outside = jail.parent
    return [
        f"{jail}/../outside",
        f"file://{jail}/../outside",
        f"{jail}/a/../../outside",
        f"{jail}/./inside",
        f"{outside}/outside",
        f"{outside}/new-outside",
        f"{outside}/rootother/secret",  # shares the root's name as a string prefix
        f"{jail}other",
        f"{jail}/x\x00y",
        f"{jail}/inside\x00",
        str(jail),
        f"{jail}/",
        f"file://{jail}",
        "/etc/passwd",
        "/",
    ]


async def test_root_rejects_every_uri_outside_it_and_creates_nothing_outside(
    jail: Path,
) -> None:
    store = FileRaw(root=jail)
    before = sorted(str(p) for p in jail.parent.rglob("*"))
    for uri in _escapes(jail):
        assert not store.is_valid(uri), uri
        for call in (
            store.get(uri),
            store.exists(uri),
            store.size(uri),
            store.delete(uri),
            store.get_range(uri, 0, 1),
            store.put(uri, b"escaped"),
        ):
            with pytest.raises(InvalidURI):
                await call
        with pytest.raises(InvalidURI):
            async for _ in store.stream(uri):
                pass
    assert sorted(str(p) for p in jail.parent.rglob("*")) == before
    assert (jail.parent / "outside").read_bytes() == b"out"
    assert await store.get(str(jail / "inside")) == b"in"


async def test_invalid_uri_for_root_names_the_root_in_its_hint(jail: Path) -> None:
    store = FileRaw(root=jail)
    with pytest.raises(InvalidURI) as caught:
        await store.get("/elsewhere/blob")
    assert str(jail) in str(caught.value)
    assert "/elsewhere/blob" in str(caught.value)


async def test_list_refuses_a_prefix_outside_root(jail: Path) -> None:
    store = FileRaw(root=jail)
    for prefix in (f"{jail.parent}/", f"{jail}/../", "/"):
        with pytest.raises(InvalidURI):
            [uri async for uri in store.list(prefix)]


@pytest.mark.parametrize("scheme", ["", "file://"])
async def test_list_of_the_root_itself_stays_inside_root(jail: Path, scheme: str) -> None:
    store = FileRaw(root=jail)
    (jail.parent / "rootfile").write_bytes(b"sibling file")
    found = [uri async for uri in store.list(f"{scheme}{jail}")]
    assert found == [f"{scheme}{jail}/inside"]


async def test_list_with_an_empty_prefix_lists_the_root(jail: Path) -> None:
    store = FileRaw(root=jail)
    assert [uri async for uri in store.list("")] == [f"{jail}/inside"]
    assert [uri async for uri in store.list("file://")] == [f"file://{jail}/inside"]


# -- list -----------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    base = tmp_path / "d"
    for name in ("ab/x", "abc", "abd/y/z", "a", "b/ab", "zz", "ab/deeper/q", "ab/.hidden"):
        _write(base / name, name.encode())
    _write(base / "ab" / f"{TEMP_PREFIX}0123", b"in progress")
    _write(base / f"{TEMP_PREFIX}top", b"in progress")
    return base


async def test_list_is_recursive_sorted_and_skips_temp_files(tree: Path) -> None:
    store = FileRaw()
    found = [uri async for uri in store.list(f"{tree}/")]
    expected = [
        f"{tree}/{name}"
        for name in ("a", "ab/.hidden", "ab/deeper/q", "ab/x", "abc", "abd/y/z", "b/ab", "zz")
    ]
    assert found == expected
    assert found == sorted(found)


async def test_list_returns_uris_in_the_prefix_style(tree: Path) -> None:
    store = FileRaw()
    plain = [uri async for uri in store.list(f"{tree}/ab/")]
    schemed = [uri async for uri in store.list(f"file://{tree}/ab/")]
    assert plain == [f"{tree}/ab/.hidden", f"{tree}/ab/deeper/q", f"{tree}/ab/x"]
    assert schemed == [f"file://{uri}" for uri in plain]
    for uri in schemed:
        assert await store.get(uri) == uri.removeprefix(f"file://{tree}/").encode()


async def test_list_matches_partial_names(tree: Path) -> None:
    store = FileRaw()
    found = [uri async for uri in store.list(f"{tree}/ab")]
    assert found == [
        f"{tree}/ab/.hidden",
        f"{tree}/ab/deeper/q",
        f"{tree}/ab/x",
        f"{tree}/abc",
        f"{tree}/abd/y/z",
    ]
    assert [uri async for uri in store.list(f"{tree}/abd/y/")] == [f"{tree}/abd/y/z"]
    assert [uri async for uri in store.list(f"{tree}/z")] == [f"{tree}/zz"]


async def test_list_of_a_missing_folder_yields_nothing(tmp_path: Path) -> None:
    store = FileRaw()
    assert [uri async for uri in store.list(f"{tmp_path}/nowhere/")] == []
    assert [uri async for uri in store.list(f"file://{tmp_path}/nowhere/at/all")] == []
    assert not (tmp_path / "nowhere").exists()


# -- directories are not blobs --------------------------------------------------------------------


async def test_a_directory_is_not_a_blob(tmp_path: Path) -> None:
    _write(tmp_path / "folder" / "file", b"x")
    store = FileRaw()
    folder = str(tmp_path / "folder")
    assert not await store.exists(folder)
    with pytest.raises(NotFoundInStore):
        await store.get(folder)
    with pytest.raises(NotFoundInStore):
        await store.size(folder)
    with pytest.raises(NotFoundInStore):
        await store.get_range(folder, 0, 1)
    with pytest.raises(NotFoundInStore):
        async for _ in store.stream(folder):
            pass
    await store.delete(folder)  # not a blob: nothing to delete, and the folder stays
    assert (tmp_path / "folder" / "file").read_bytes() == b"x"
    assert await store.get_many([folder, f"{folder}/file"]) == [None, b"x"]


# -- thread hops and a responsive event loop ------------------------------------------------------


def _small_files(folder: Path, count: int, per_folder: int = 250) -> list[str]:
    paths = []
    for index in range(count):
        sub = folder / f"f{index // per_folder}"
        if index % per_folder == 0:
            sub.mkdir(parents=True)
        path = sub / f"{index}.bin"
        path.write_bytes(index.to_bytes(4, "big") * 25)
        paths.append(str(path))
    return paths


async def test_concurrent_gets_share_thread_hops(tmp_path: Path) -> None:
    paths = _small_files(tmp_path, 1000)
    store = FileRaw()
    hops_before = store._batcher.hops
    results = await asyncio.gather(*(store.get(path) for path in paths))
    hops = store._batcher.hops - hops_before
    assert [r[:4] for r in results] == [i.to_bytes(4, "big") for i in range(1000)]
    assert 1 <= hops < len(paths) / 8


async def test_reading_many_small_files_never_blocks_the_event_loop(tmp_path: Path) -> None:
    paths = _small_files(tmp_path, 5000)
    store = FileRaw()
    largest_gap = 0.0
    ticks = 0
    running = True

    async def heartbeat() -> None:
        nonlocal largest_gap, ticks
        while running:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            largest_gap = max(largest_gap, time.perf_counter() - start)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.005)  # the heartbeat is going
    largest_gap, ticks = 0.0, 0
    try:
        results = await store.get_many(paths)
    finally:
        running = False
        await beat
    assert all(len(r) == 100 for r in results)  # type: ignore[arg-type]
    assert largest_gap < 0.1
    # A get_many that blocked the loop throughout would let the heartbeat tick at most once
    # (5,000 plain reads take only a few tens of ms here, under the gap bound above).
    assert ticks >= 5


# -- pickling and successive event loops ----------------------------------------------------------


async def test_file_raw_pickles_and_the_clone_reads_the_same_files(jail: Path) -> None:
    store = FileRaw(root=jail, fsync=True, threads=3)
    await store.get(str(jail / "inside"))  # the batcher now has live threads
    clone = pickle.loads(pickle.dumps(store))
    assert (clone.root, clone.fsync, clone.threads) == (str(jail), True, 3)
    assert clone._batcher is not store._batcher
    assert await clone.get(str(jail / "inside")) == b"in"
    await clone.put(str(jail / "new"), b"from the clone")
    assert await store.get(str(jail / "new")) == b"from the clone"
    assert not clone.is_valid(f"{jail.parent}/outside")  # the clone keeps the jail
    await store.aclose()
    await clone.aclose()


def test_file_raw_works_from_successive_event_loops(tmp_path: Path) -> None:
    store = FileRaw()
    paths = _small_files(tmp_path, 100)

    async def use(round_: int) -> None:
        await store.put(str(tmp_path / f"round{round_}"), b"r%d" % round_)
        got = await store.get_many(paths)
        assert [r[:4] for r in got] == [i.to_bytes(4, "big") for i in range(100)]  # type: ignore[index]
        assert await store.get(str(tmp_path / f"round{round_}")) == b"r%d" % round_

    for round_ in range(2):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(asyncio.wait_for(use(round_), 10))
            if round_ == 1:
                loop.run_until_complete(store.aclose())
        finally:
            loop.close()
