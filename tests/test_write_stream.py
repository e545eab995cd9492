"""Content-addressed write() of paths, file objects and async iterables, hashed while streaming."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import FileRaw, InvalidDataFound, MemoryRaw, Sha1Composite, Sha1Store
from asyncbitstore.hashing import HashStore

DATA = os.urandom(3 * (1 << 20) + 12345)  # several chunks and a partial one
KEY = hashlib.sha1(DATA).hexdigest()


async def _chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[offset : offset + size]


class Unseekable(io.RawIOBase):
    """A pipe-like binary file: read only, no seek."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> Sha1Store:
    return Sha1Store(FileRaw(), f"{tmp_path}/blobs/")


@pytest.mark.parametrize("kind", ["bytes", "pathlike", "file", "bytesio", "pipe", "aiter"])
async def test_write_accepts_every_kind_of_data_and_keys_it_by_digest(
    store: Sha1Store, tmp_path: Path, kind: str
) -> None:
    source = tmp_path / "input.bin"
    source.write_bytes(DATA)
    data: Any = {
        "bytes": DATA,
        "pathlike": source,
        "bytesio": io.BytesIO(DATA),
        "pipe": Unseekable(DATA),
        "aiter": _chunks(DATA),
    }.get(kind)
    if kind == "file":
        with source.open("rb") as file:
            assert await store.write(file) == KEY
    else:
        assert await store.write(data) == KEY
    assert await store.get(KEY) == DATA
    assert [p.name for p in _files(tmp_path / "blobs")] == [KEY]
    await store.aclose()


async def test_a_file_object_is_read_from_its_current_position(store: Sha1Store) -> None:
    file = io.BytesIO(b"header:" + DATA)
    file.seek(7)
    assert await store.write(file) == KEY
    assert not file.closed


async def test_a_failing_stream_stores_nothing_and_leaves_no_temporary_file(
    store: Sha1Store, tmp_path: Path
) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield DATA[:1000]
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError, match="producer failed"):
        await store.write(broken())
    assert _files(tmp_path) == []


async def test_the_blob_appears_under_its_key_only_when_complete(tmp_path: Path) -> None:
    raw = FileRaw()
    store = Sha1Store(raw, f"{tmp_path}/blobs/")
    seen_during: list[bool] = []
    real_put = raw.put

    async def watched_put(uri: str, data: Any) -> None:
        async def watching() -> AsyncIterator[bytes]:
            async for chunk in data:
                seen_during.append(await raw.exists(uri))
                yield chunk

        await real_put(uri, watching())

    raw.put = watched_put  # type: ignore[method-assign]
    assert await store.write(_chunks(DATA)) == KEY
    assert seen_during and not any(seen_during)
    assert await store.exists(KEY)


class ChangingFile(io.BytesIO):
    """A seekable file whose bytes change after the first pass (as if edited meanwhile)."""

    def seek(self, offset: int, whence: int = 0) -> int:
        position = super().seek(offset, whence)
        self.getbuffer()[0] ^= 0xFF
        return position


async def test_a_file_that_changes_between_hashing_and_storing_stores_nothing(
    store: Sha1Store, tmp_path: Path
) -> None:
    with pytest.raises(InvalidDataFound):
        await store.write(ChangingFile(DATA))
    assert _files(tmp_path) == []


async def test_write_refuses_other_types_and_reports_a_missing_path(
    store: Sha1Store, tmp_path: Path
) -> None:
    with pytest.raises(TypeError, match="write"):
        await store.write(12345)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        await store.write(tmp_path / "nope")


async def test_composite_write_streams_into_its_first_writable_source(tmp_path: Path) -> None:
    chain = Sha1Composite()
    first = Sha1Store(FileRaw(), f"{tmp_path}/a/")
    second = Sha1Store(MemoryRaw(), "mem://b/")
    chain.append_source(first, write=True)
    chain.append_source(second, write=True)
    async with chain:
        assert await chain.write(_chunks(DATA)) == KEY
        await chain.flush()
        assert await first.get(KEY) == DATA
        assert await second.get(KEY) == DATA  # replicated from the first writer
        assert await chain.write(Unseekable(b"small")) == hashlib.sha1(b"small").hexdigest()


async def test_streamed_write_memory_stays_bounded(tmp_path: Path) -> None:
    store = HashStore(FileRaw(), f"{tmp_path}/big/", algorithm="sha256")
    block = os.urandom(1 << 20)
    hasher = hashlib.sha256()

    async def big() -> AsyncIterator[bytes]:
        for i in range(48):  # 48 MiB, produced one chunk at a time
            chunk = i.to_bytes(4, "little") + block[4:]
            hasher.update(chunk)
            yield chunk

    tracemalloc.start()
    try:
        key = await store.write(big())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert key == hasher.hexdigest()
    assert await store.size(key) == 48 << 20
    assert peak < 12 << 20, f"peak traced memory {peak / (1 << 20):.1f} MiB"
    await store.aclose()
