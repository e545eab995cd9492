"""A FileRaw whose root folder is missing: quietly empty for a cache, BucketNotFound for a source.

``FileRaw(root, create_root=True)`` (the default) owns its folder: reads of a missing root find
nothing and the first write creates it, so a fresh cache folder works without a word.
``create_root=False`` says the folder must be there: while it is missing, every call raises
BucketNotFound, and a chain reports the tier as failed instead of every key as absent.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from asyncbitstore import (
    BucketNotFound,
    FileRaw,
    MemoryRaw,
    NotFoundInStore,
    Sha1Cache,
    Sha1Composite,
    Sha1Store,
    StoreNotAvailable,
)

DATA = b"a blob in the source"
KEY = hashlib.sha1(DATA).hexdigest()


async def _raised(call: Awaitable[Any]) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("no error raised")


async def _drain(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def _list(uris: AsyncIterator[str]) -> list[str]:
    return [uri async for uri in uris]


def _calls(store: FileRaw, root: Path) -> dict[str, Callable[[], Awaitable[Any]]]:
    uri = f"{root}/sub/blob"
    return {
        "get": lambda: store.get(uri),
        "get_range": lambda: store.get_range(uri, 0, 2),
        "stream": lambda: _drain(store.stream(uri)),
        "size": lambda: store.size(uri),
        "exists": lambda: store.exists(uri),
        "delete": lambda: store.delete(uri),
        "list": lambda: _list(store.list(f"{root}/")),
        "list the root": lambda: _list(store.list(str(root))),
        "list everything": lambda: _list(store.list("")),
        "put": lambda: store.put(uri, b"data"),
        "put a stream": lambda: store.put(uri, _one(b"data")),
    }


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_a_root_that_must_exist_raises_bucket_not_found_while_missing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "misspelled"
    async with FileRaw(root, create_root=False) as store:
        for what, call in _calls(store, root).items():
            error = await _raised(call())
            assert isinstance(error, BucketNotFound), (what, repr(error))
            assert not isinstance(error, NotFoundInStore)
            assert f"folder {str(root)!r} does not exist" in str(error), what
        assert not root.exists()  # nothing created it
        root.mkdir()
        uri = f"{root}/sub/blob"
        assert await store.exists(uri) is False
        assert type(await _raised(store.get(uri))) is NotFoundInStore
        await store.put(uri, b"data")
        assert await store.get(uri) == b"data"


async def test_the_option_survives_pickling(tmp_path: Path) -> None:
    copy = pickle.loads(pickle.dumps(FileRaw(tmp_path / "gone", create_root=False)))
    assert copy.create_root is False
    assert isinstance(await _raised(copy.get(f"{tmp_path}/gone/x")), BucketNotFound)
    assert pickle.loads(pickle.dumps(FileRaw(tmp_path))).create_root is True


async def test_by_default_a_missing_root_is_empty_and_made_by_the_first_write(
    tmp_path: Path,
) -> None:
    root = tmp_path / "fresh"
    async with FileRaw(root) as store:
        assert await store.exists(f"{root}/blob") is False
        assert type(await _raised(store.get(f"{root}/blob"))) is NotFoundInStore
        assert await _list(store.list(f"{root}/")) == []
        await store.delete(f"{root}/blob")
        assert not root.exists()
        await store.put(f"{root}/blob", b"data")
        assert (root / "blob").read_bytes() == b"data"


async def test_a_fresh_cache_folder_in_a_chain_fills_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache_root = tmp_path / "not-yet"
    source = MemoryRaw()
    await source.put(f"mem://src/{KEY}", DATA)
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(cache_root), f"{cache_root}/"))
    chain.append_source(Sha1Store(source, "mem://src/"), cache_result=True)
    with caplog.at_level(logging.WARNING):
        async with chain:
            assert await chain.get(KEY) == DATA
            assert type(await _raised(chain.get("1" * 40))) is NotFoundInStore
    assert (cache_root / KEY).read_bytes() == DATA
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_chain_over_a_missing_source_folder_is_not_available(tmp_path: Path) -> None:
    source_root = tmp_path / "srouce"  # a typo: the blobs are in tmp_path / "source"
    chain = Sha1Composite()
    chain.append_cache(Sha1Cache(FileRaw(tmp_path / "cache"), f"{tmp_path}/cache/"))
    chain.append_source(
        Sha1Store(FileRaw(source_root, create_root=False), f"{source_root}/"), write=True
    )
    async with chain:
        for call in (chain.get(KEY), chain.exists(KEY), chain.put(KEY, DATA)):
            error = await _raised(call)
            assert isinstance(error, StoreNotAvailable) and not isinstance(error, NotFoundInStore)
            assert f"folder {str(source_root)!r} does not exist" in str(error)
    assert not source_root.exists()
