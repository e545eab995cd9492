"""zarr's `set_if_not_exists` and obspec's `mode="create"` write with the store's create mode."""

from __future__ import annotations

import asyncio

import pytest

from asyncbitstore import Composite, FileRaw, PrefixStore
from asyncbitstore.errors import AlreadyExists

zarr = pytest.importorskip("zarr")
from zarr.core.buffer import default_buffer_prototype  # noqa: E402

from asyncbitstore.obspec import ObspecStore  # noqa: E402
from asyncbitstore.zarr import BitstoreStore  # noqa: E402


def _chain(folder: str) -> Composite:
    chain = Composite()
    chain.append_source(PrefixStore(FileRaw(), folder + "/"), write=True)
    return chain


async def test_concurrent_set_if_not_exists_keeps_exactly_one(tmp_path) -> None:
    store = BitstoreStore(_chain(str(tmp_path)))
    buffer = default_buffer_prototype().buffer
    values = [f"writer {n}".encode() for n in range(8)]
    await asyncio.gather(
        *(store.set_if_not_exists("zarr.json", buffer.from_bytes(v)) for v in values)
    )
    kept = await store.get("zarr.json", default_buffer_prototype())
    assert kept is not None and kept.to_bytes() in values
    await store.set_if_not_exists("zarr.json", buffer.from_bytes(b"later"))
    again = await store.get("zarr.json", default_buffer_prototype())
    assert again is not None and again.to_bytes() == kept.to_bytes()


async def test_obspec_create_refuses_a_taken_path(tmp_path) -> None:
    store = ObspecStore(_chain(str(tmp_path)))
    await store.put_async("a/b", b"first", mode="create")
    with pytest.raises(AlreadyExists):
        await store.put_async("a/b", b"second", mode="create")
    assert await (await store.get_async("a/b")).buffer_async() == b"first"
