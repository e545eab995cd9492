"""`copy` and `rename` where a backend does them natively (no bytes through the client), and
the guarantees of the copy-then-delete rename of the other stores."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import FileRaw, MemoryRaw, NotFoundInStore, StoreNotAvailable
from asyncbitstore._core.put_attrs import PLAIN

from .target import Target


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _exists(path: str) -> bool:
    return os.path.exists(path)


def _no_streaming(store: Any) -> None:
    """Make every read of ``store``'s bytes fail: what still works needs none."""

    async def get_stored(uri: str) -> bytes:
        raise AssertionError("the blob was read through the client")

    def stream_stored(uri: str, chunk_size: int) -> AsyncIterator[bytes]:
        raise AssertionError("the blob was streamed through the client")

    store._get_stored = get_stored
    store._stream_stored = stream_stored


async def test_memory_copy_shares_the_bytes() -> None:
    store = MemoryRaw()
    await store.put("mem://a/1", b"x" * 1000)
    await store.copy("mem://a/1", "mem://a/2")
    assert store._blobs["mem://a/2"] is store._blobs["mem://a/1"]
    assert store.used_bytes == 2000


async def test_file_copy_is_an_independent_file_written_atomically(tmp_path: Path) -> None:
    store = FileRaw(tmp_path, fsync=True)
    src, dst = f"{tmp_path}/a/src", f"{tmp_path}/b/c/dst"
    await store.put(src, b"original bytes")
    _no_streaming(store)
    await store.copy(src, dst)
    assert _read(dst) == b"original bytes"
    assert os.stat(src).st_ino != os.stat(dst).st_ino  # not a hard link
    with open(src, "r+b") as file:  # another program editing the source in place
        file.write(b"CHANGED")
    assert _read(dst) == b"original bytes"
    assert os.listdir(os.path.dirname(dst)) == ["dst"]  # no temp file left
    with pytest.raises(NotFoundInStore):
        await store.copy(f"{tmp_path}/missing", f"{tmp_path}/b/none")
    assert not _exists(f"{tmp_path}/b/none")


async def test_file_rename_moves_the_file_itself(tmp_path: Path) -> None:
    store = FileRaw(tmp_path)
    src, dst = f"{tmp_path}/a/src", f"{tmp_path}/new/folder/dst"
    await store.put(src, b"moved")
    inode = os.stat(src).st_ino
    _no_streaming(store)
    await store.rename(src, dst)
    assert not _exists(src)
    assert os.stat(dst).st_ino == inode
    os.mkdir(f"{tmp_path}/folder")
    with pytest.raises(NotFoundInStore):  # a folder is no blob to move
        await store.rename(f"{tmp_path}/folder", f"{tmp_path}/x")
    assert _exists(f"{tmp_path}/folder")


@pytest.mark.servers
async def test_redis_copy_and_rename_stay_on_the_server(contract_redis: Target) -> None:
    store: Any = contract_redis.store
    a, b, c = (contract_redis.uri(n) for n in "abc")
    await store.put(a, b"redis blob", ttl=100)
    _no_streaming(store)
    await store.copy(a, b)
    await store.rename(b, c)
    client = await store._client.get()
    key = store._key(c)
    assert await client.get(key) == b"redis blob"
    assert not await store.exists(b)
    assert await client.pttl(store._key(a)) > 0
    assert await client.pttl(key) == -1  # the copy takes the store's ttl (none), not the source's


@pytest.mark.servers
async def test_sftp_copy_and_rename_stay_on_the_server(contract_sftp: Target) -> None:
    store: Any = contract_sftp.store
    a, b, c = (contract_sftp.uri(n) for n in ("a", "sub/b", "other/c"))
    await store.put(a, b"sftp blob" * 1000)
    _no_streaming(store)
    await store.copy(a, b)
    await store.rename(b, c)
    assert not await store.exists(b)
    root = os.path.dirname(store._path(contract_sftp.uri("x")))
    assert _read(f"{root}/other/c") == _read(f"{root}/a") == b"sftp blob" * 1000
    assert os.listdir(f"{root}/sub") == []  # no temp file left


class FailingDelete(MemoryRaw):
    async def delete(self, uri: str) -> None:
        raise StoreNotAvailable(self, "delete refused", uri=uri)


class FailingWrite(MemoryRaw):
    async def _put_stored(self, uri: str, where: Any, data: Any, *options: Any) -> None:
        raise StoreNotAvailable(self, "write refused", uri=uri)


async def test_a_rename_whose_delete_fails_leaves_the_blob_at_both_uris() -> None:
    store = FailingDelete()
    await store.put("mem://a/1", b"kept")
    with pytest.raises(StoreNotAvailable, match="delete refused"):
        await store.rename("mem://a/1", "mem://a/2")
    assert await store.get("mem://a/1") == await store.get("mem://a/2") == b"kept"


async def test_a_rename_whose_copy_fails_leaves_the_source_alone() -> None:
    store = FailingWrite()
    await MemoryRaw._put_stored(store, "mem://a/1", "mem://a/1", b"kept", PLAIN)
    with pytest.raises(StoreNotAvailable, match="write refused"):
        await store.rename("mem://a/1", "mem://a/2")
    assert await store.get("mem://a/1") == b"kept"
    assert not await store.exists("mem://a/2")


async def test_stores_that_cannot_sign_say_which() -> None:
    with pytest.raises(NotImplementedError, match="MemoryRaw cannot sign URLs"):
        await MemoryRaw().sign("mem://a/1")
