"""A `BitstoreFileSystem` file served from a local copy: objects below ``whole_file_below`` are
brought whole through the chain once, then every range is read from that local file."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

pytest.importorskip("fsspec")
from fsspec.asyn import sync

from asyncbitstore import FileRaw, MemoryRaw
from asyncbitstore.composite import Composite
from asyncbitstore.fsspec import BitstoreFileSystem
from asyncbitstore.named import PrefixCache, PrefixStore

DATA = bytes(range(251)) * 4000  # about 1 MB, no period of a power of two
T = TypeVar("T")
RANGES = [(0, 10), (123_456, 130_000), (len(DATA) - 7, len(DATA)), (5, 5), (999_000, 10**7)]


class Setup:
    def __init__(self, tmp: Path, *, file_cache: bool = True, ttl: float | None = None) -> None:
        self.now = [1000.0]
        self.chain = Composite(fill_ranges_below=0)  # range reads alone never fill the cache
        if file_cache:
            self.cache = PrefixCache(FileRaw(), f"{tmp}/cache/", ttl=ttl, clock=lambda: self.now[0])
        else:
            self.cache = PrefixCache(MemoryRaw(), "mem://local-reads-cache/")
        self.source = PrefixStore(MemoryRaw(), f"mem://local-reads-{id(self)}/")
        self.chain.append_cache(self.cache)
        self.chain.append_source(self.source, cache_result=True, write=True)

    def fs(self, **options: int) -> BitstoreFileSystem:
        return BitstoreFileSystem(store=self.chain, **options)


def _run(fs: BitstoreFileSystem, call: Callable[..., Awaitable[T]], *args: object) -> T:
    return sync(fs.loop, call, *args)  # type: ignore[no-any-return]


def test_a_small_object_is_fetched_whole_once_then_every_range_is_read_locally(
    tmp_path: Path,
) -> None:
    s = Setup(tmp_path)
    fs = s.fs()
    _run(fs, s.source.put, "t/a.bin", DATA)
    with fs.open("t/a.bin", "rb") as f:
        f.seek(100)
        assert f.read(50) == DATA[100:150]
        # the whole object came through the chain in one read and filled the file cache
        assert _run(fs, s.cache.exists, "t/a.bin")
        _run(fs, s.source.delete, "t/a.bin")
        _run(fs, s.cache.delete, "t/a.bin")
        for start, end in RANGES:  # served from the pinned local file, nothing asked of the chain
            f.seek(start)
            assert f.read(end - start) == DATA[start:end], (start, end)
        f.seek(0)
        assert f.read() == DATA
    _run(fs, s.chain.aclose)


@pytest.mark.parametrize(
    ("threshold", "whole"), [(0, False), (len(DATA), False), (len(DATA) + 1, True)]
)
def test_whole_file_below_decides_between_whole_object_and_range_reads(
    tmp_path: Path, threshold: int, whole: bool
) -> None:
    s = Setup(tmp_path)
    fs = s.fs(whole_file_below=threshold)
    _run(fs, s.source.put, "t/b.bin", DATA)
    with fs.open("t/b.bin", "rb", cache_type="none") as f:
        for start, end in RANGES:
            f.seek(start)
            assert f.read(end - start) == DATA[start:end], (start, end)
    _run(fs, s.chain.flush)
    assert _run(fs, s.cache.exists, "t/b.bin") is whole
    _run(fs, s.chain.aclose)


def test_a_stale_copy_in_the_file_cache_is_not_served(tmp_path: Path) -> None:
    s = Setup(tmp_path, ttl=60)
    fs = s.fs()
    _run(fs, s.chain.put, "t/c.bin", b"old" * 1000)
    with fs.open("t/c.bin", "rb") as f:
        assert f.read() == b"old" * 1000
    _run(fs, s.source.put, "t/c.bin", b"new" * 1000)  # behind the chain's back
    s.now[0] += 120  # the cached copy is now stale
    with fs.open("t/c.bin", "rb") as f:
        assert f.read() == b"new" * 1000
    _run(fs, s.chain.aclose)


def test_the_chain_local_path_passes_over_a_stale_copy(tmp_path: Path) -> None:
    s = Setup(tmp_path, ttl=60)
    fs = s.fs()

    async def local_bytes() -> bytes:
        async with s.chain.local_path("t/d.bin") as path:
            return path.read_bytes()

    _run(fs, s.chain.put, "t/d.bin", b"v1")
    assert _run(fs, local_bytes) == b"v1"
    _run(fs, s.source.put, "t/d.bin", b"v2")
    s.now[0] += 120
    assert _run(fs, local_bytes) == b"v2"
    s.now[0] += 1  # the copy is fresh again: it is the file cache's own file
    assert _run(fs, local_bytes) == b"v2"
    _run(fs, s.chain.aclose)


def test_a_chain_without_a_file_tier_reads_from_an_unlinked_temporary_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    s = Setup(tmp_path, file_cache=False)
    fs = s.fs()
    _run(fs, s.source.put, "t/e.bin", DATA)
    with fs.open("t/e.bin", "rb") as f:
        assert f.read(10) == DATA[:10]
        assert list(temp.iterdir()) == []  # unlinked, read through the open descriptor
        _run(fs, s.source.delete, "t/e.bin")
        _run(fs, s.cache.delete, "t/e.bin")
        for start, end in RANGES:
            f.seek(start)
            assert f.read(end - start) == DATA[start:end], (start, end)
    assert list(temp.iterdir()) == []
    _run(fs, s.chain.aclose)


def test_an_object_deleted_before_the_first_read_is_file_not_found(tmp_path: Path) -> None:
    s = Setup(tmp_path)
    fs = s.fs()
    _run(fs, s.source.put, "t/f.bin", DATA)
    with fs.open("t/f.bin", "rb") as f:
        _run(fs, s.source.delete, "t/f.bin")
        with pytest.raises(FileNotFoundError):
            f.read(10)
    _run(fs, s.chain.aclose)


@pytest.mark.parametrize(
    ("value", "error"), [(-1, ValueError), ("1", TypeError), (True, TypeError)]
)
def test_whole_file_below_is_checked(tmp_path: Path, value: object, error: type) -> None:
    with pytest.raises(error, match="whole_file_below"):
        BitstoreFileSystem(store=Setup(tmp_path).chain, whole_file_below=value)
